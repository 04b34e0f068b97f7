#!/usr/bin/env bash
# Training throughput: nnguard's bench_train against PyTorch (shared/peers/torch_lenet_fmnist.py),
# LeNet-5, one epoch of Fashion-MNIST, batch 64, Adam, 2 threads. The two alternate ROUNDS times
# (default 3) so that a noisy neighbour hits both; prints every pair, its ratio and the median.
# Usage: scripts/bench_train.sh [BUILD_DIR]   (default build)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-${BUILD_DIR:-build}}
PEER=../shared/peers/torch_lenet_fmnist.py
[ -x "$B/bench_train" ] || { echo "bench_train.sh: $B/bench_train not built (BUILD_DIR=$B bash scripts/build.sh)" >&2; exit 1; }
[ -f "$PEER" ] || { echo "bench_train.sh: $PEER not found (the shared folder must sit beside the repo)" >&2; exit 1; }
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
ratios=""
for round in $(seq "${ROUNDS:-3}"); do
    ng=$("$B/bench_train" 1 2)
    echo "round $round: $ng"
    pt=$(/usr/bin/python3 "$PEER" 1 2)
    echo "round $round: pytorch lenet5: $pt"
    ng_ips=$(sed -n 's/.*train \([0-9]*\) img\/s.*/\1/p' <<<"$ng")
    pt_ips=$(sed -n 's/.*train \([0-9]*\) img\/s.*/\1/p' <<<"$pt")
    r=$(awk -v a="$ng_ips" -v b="$pt_ips" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
    echo "round $round: training throughput nnguard $ng_ips img/s, pytorch $pt_ips img/s, ratio ${r}x"
    ratios="$ratios $r"
done
med=$(tr ' ' '\n' <<<"$ratios" | sed '/^$/d' | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
echo "training throughput ratio nnguard/pytorch, median of ${ROUNDS:-3} rounds: ${med}x (target >= 2x)"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
