#!/usr/bin/env bash
# Deep-Lock throughput: builds (Release) and runs bench_deeplock on a 1 GiB safetensors file:
# in memory (against memcpy of the same bytes), and streamed file to file on tmpfs (/dev/shm) and
# on disk (NG_BENCH_DIR, default /tmp) against `cp` of the same file (and cp + fsync) run in the
# same rounds; medians of NG_BENCH_REPS (5) rounds, with the ratios (peer time / our time; the
# issue's target is >= 0.8x cp). NG_BENCH_MB=N for another size, NG_BENCH_ONLY=memory|tmpfs|disk
# for one part. The files are removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD_DIR:-build}
BUILD_DIR=$B bash scripts/build.sh >/dev/null
D=${NG_BENCH_DIR:-/tmp}
trap 'rm -f /dev/shm/nnguard-bench-deeplock*.safetensors /dev/shm/.nnguard-bench-deeplock* "$D"/nnguard-bench-deeplock*.safetensors "$D"/.nnguard-bench-deeplock*' EXIT
echo "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) (the ratios compare runs made in the same rounds)"
"$B/bench_deeplock"
