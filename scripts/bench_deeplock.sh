#!/usr/bin/env bash
# Deep-Lock throughput: builds (Release) and runs bench_deeplock on a 1 GiB safetensors file in /tmp
# (NG_BENCH_MB=N for another size); the file and its locked/unlocked copies are removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD_DIR:-build}
BUILD_DIR=$B bash scripts/build.sh >/dev/null
trap 'rm -f /tmp/nnguard-bench-deeplock*.safetensors /tmp/.nnguard-bench-deeplock*' EXIT
"$B/bench_deeplock"
