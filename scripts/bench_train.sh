#!/usr/bin/env bash
# Training throughput: nnguard's bench_train against PyTorch (shared/peers/torch_lenet_fmnist.py),
# LeNet-5, one epoch of Fashion-MNIST, batch 64, Adam, 2 threads; prints both and the ratio.
# Usage: scripts/bench_train.sh [BUILD_DIR]   (default build)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-${BUILD_DIR:-build}}
PEER=../shared/peers/torch_lenet_fmnist.py
[ -x "$B/bench_train" ] || { echo "bench_train.sh: $B/bench_train not built (BUILD_DIR=$B bash scripts/build.sh)" >&2; exit 1; }
ng=$("$B/bench_train" 1 2)
echo "$ng"
pt=$(/usr/bin/python3 "$PEER" 1 2)
echo "pytorch lenet5: $pt"
ng_ips=$(sed -n 's/.*train \([0-9]*\) img\/s.*/\1/p' <<<"$ng")
pt_ips=$(sed -n 's/.*train \([0-9]*\) img\/s.*/\1/p' <<<"$pt")
awk -v a="$ng_ips" -v b="$pt_ips" 'BEGIN { printf "training throughput: nnguard %d img/s, pytorch %d img/s, ratio %.2fx (target >= 2x)\n", a, b, (b > 0 ? a / b : 0) }'
