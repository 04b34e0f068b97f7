#!/usr/bin/env bash
# Configure and build nnguard into ${BUILD_DIR:-build}. Extra arguments go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD_DIR:-build}
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-Release} "$@" >/dev/null
cmake --build "$B" -j"$(nproc)"
