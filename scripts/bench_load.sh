#!/usr/bin/env bash
# Loading a large ONNX model against Python's onnx.load in the same run: builds (Release), makes a
# 512 MiB model with bench/gen_big_onnx.py (python3-onnx, python3-numpy; kept in $NG_BENCH_DIR,
# default /tmp, between runs) and runs bench_load on it (NG_BENCH_REPS rounds, default 5).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD_DIR:-build}
BUILD_DIR=$B bash scripts/build.sh >/dev/null
F=${NG_BENCH_DIR:-/tmp}/nnguard-bench-load.onnx
[ -f "$F" ] || /usr/bin/python3 bench/gen_big_onnx.py "$F" >/dev/null
echo "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$B/bench_load" "$F" "${NG_BENCH_REPS:-5}"
