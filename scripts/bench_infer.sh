#!/usr/bin/env bash
# LeNet-5 on Fashion-MNIST: nnguard's engine beside the PyTorch peer on the same machine.
#   BUILD_DIR=build THREADS=2 bash scripts/bench_infer.sh [bench_infer options, e.g. --model lenet.onnx]
# Runs build/bench_infer (inference over the 10,000 test images at batch 256, best of 5; training
# direction at batch 64 with Adam) and ../shared/peers/torch_lenet_fmnist.py 1 THREADS, then prints
# both images/s figures and the ratio nnguard/PyTorch (target: >= 2).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD_DIR:-build}
THREADS=${THREADS:-2}
PY=${NG_PYTHON:-/usr/bin/python3}
PEER=../shared/peers/torch_lenet_fmnist.py
[ -x "$B/bench_infer" ] || BUILD_DIR="$B" bash scripts/build.sh
[ -f "$PEER" ] || { echo "bench_infer.sh: $PEER not found (the shared folder must sit beside the repo)" >&2; exit 1; }

# Both sides suffer when other work shares the cores (PyTorch's spinning threads far more): say so.
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
ours=$("$B/bench_infer" --threads "$THREADS" "$@")
echo "nnguard: $ours" | sed '2,$s/^/nnguard: /'
theirs=$("$PY" "$PEER" 1 "$THREADS")
echo "pytorch: $theirs"

our_inf=$(echo "$ours" | awk '/^infer /{print $2}')
our_tr=$(echo "$ours" | awk '/^train /{print $2}')
pt_inf=$(echo "$theirs" | sed -n 's/.*infer \([0-9.]*\) img\/s.*/\1/p' | tail -1)
pt_tr=$(echo "$theirs" | sed -n 's/.*train \([0-9.]*\) img\/s.*/\1/p' | tail -1)
awk -v a="$our_inf" -v b="$pt_inf" -v c="$our_tr" -v d="$pt_tr" -v t="$THREADS" 'BEGIN {
    printf "inference (batch 256, %d threads): nnguard %.0f img/s, PyTorch %.0f img/s, ratio %.2f\n", t, a, b, a / b
    printf "training  (batch 64,  %d threads): nnguard %.0f img/s, PyTorch %.0f img/s, ratio %.2f\n", t, c, d, c / d
}'
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
