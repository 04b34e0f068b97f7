#!/usr/bin/env bash
# Deep-Lock throughput: builds (Release) and runs bench_deeplock on a 1 GiB safetensors file, in
# memory, streamed on tmpfs (/dev/shm) and streamed on disk (NG_BENCH_DIR, default /tmp), best of
# NG_BENCH_REPS (3), each beside memcpy of the same bytes in the same run (NG_BENCH_MB=N for
# another size). The files are removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD_DIR:-build}
BUILD_DIR=$B bash scripts/build.sh >/dev/null
D=${NG_BENCH_DIR:-/tmp}
trap 'rm -f /dev/shm/nnguard-bench-deeplock*.safetensors /dev/shm/.nnguard-bench-deeplock* "$D"/nnguard-bench-deeplock*.safetensors "$D"/.nnguard-bench-deeplock*' EXIT
"$B/bench_deeplock"
