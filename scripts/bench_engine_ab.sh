#!/usr/bin/env bash
# The inference kernels of issue 13's engine work, off against on against ONNX Runtime, in the same
# rounds (A B C A B C ...): "off" = NG_PWCONV=0 NG_DWFLAT=0 NG_GEMV=0 NG_ADDFUSE=0 NG_SUBBATCH=0 NG_PWGEMM=0 (the
# engine as it was before them), "on" = the defaults. Per model and batch: the median seconds per
# batch at 2 threads (wall) of each round, then the medians and the ratios; and the 1-thread CPU
# seconds per forward (bench_model's stderr) of off and on, which a loaded machine disturbs least.
#   MODELS (default "mobilenet_v2 resnet18"), BATCHES (default "1 32"), ROUNDS (default 3), ITERS (default 10).
# Needs the models and onnxruntime-node of scripts/bench_ort.sh (run it once first: NG_BENCH_DIR, default build/peers).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD_DIR:-build}
D=${NG_BENCH_DIR:-$B/peers}
ROUNDS=${ROUNDS:-3}
ITERS=${ITERS:-10}
export NODE_PATH=$D/node_modules
OFF="NG_PWCONV=0 NG_DWFLAT=0 NG_GEMV=0 NG_ADDFUSE=0 NG_SUBBATCH=0 NG_PWGEMM=0"
median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
cpu_of() { sed -n 's/^cpu \([0-9.]*\) s.*/\1/p'; }
echo "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $ROUNDS rounds of $ITERS runs"
for m in ${MODELS:-mobilenet_v2 resnet18}; do
    onnx=$D/models/$m.onnx
    for b in ${BATCHES:-1 32}; do
        it=$ITERS; [ "$b" -gt 8 ] && it=$(( ITERS > 5 ? 5 : ITERS ))
        off="" on="" ort="" coff="" con=""
        for r in $(seq "$ROUNDS"); do
            off="$off $(env $OFF "$B/bench_model" "$onnx" "$b" "$it" 2 2>/dev/null)"
            on="$on $("$B/bench_model" "$onnx" "$b" "$it" 2 2>/dev/null)"
            ort="$ort $(node bench/peers/ort_peer.js "$onnx" 3 224 224 "$b" "$it")"
            coff="$coff $(env $OFF "$B/bench_model" "$onnx" "$b" "$it" 1 2>&1 >/dev/null | cpu_of)"
            con="$con $("$B/bench_model" "$onnx" "$b" "$it" 1 2>&1 >/dev/null | cpu_of)"
        done
        awk -v m="$m" -v b="$b" -v f="$(median <<<"$off")" -v n="$(median <<<"$on")" -v o="$(median <<<"$ort")" \
            -v cf="$(median <<<"$coff")" -v cn="$(median <<<"$con")" -v fs="$off" -v ns="$on" -v os="$ort" \
            -v cfs="$coff" -v cns="$con" 'BEGIN {
            printf "%-13s batch %3d, 2 threads s/batch: off %.4f, on %.4f, ort %.4f; ort/off %.2fx, ort/on %.2fx, on/off %.2f" \
                   "   (off:%s on:%s ort:%s)\n", m, b, f, n, o, o / f, o / n, n / f, fs, ns, os
            printf "%-13s batch %3d, 1 thread CPU s/forward: off %.4f, on %.4f, on/off %.2f   (off:%s on:%s)\n",
                   m, b, cf, cn, cn / cf, cfs, cns }'
    done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
