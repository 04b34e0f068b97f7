#!/usr/bin/env bash
# The README's main job: install dependencies, build, run `nnguard demo` on Fashion-MNIST.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
exec ./build/nnguard demo "$@"
