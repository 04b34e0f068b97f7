#!/usr/bin/env bash
# Training throughput of the conv architectures against PyTorch on the same work (issue 13, item 4):
# vgg-small and resnet-small, 6,000 Fashion-MNIST training images (--fraction 0.1), one epoch, batch 64,
# Adam 1e-3, 2 threads: `nnguard train` against ../shared/peers/torch_convnets_fmnist.py (python3-torch),
# in paired rounds (each round runs both, so a noisy neighbour hits both); prints every round's img/s,
# the ratio nnguard / PyTorch and its median (the issue's target: >= 1.5x).
#   ROUNDS (default 3), PEER (default ../shared/peers/torch_convnets_fmnist.py), ARCHS.
# nnguard's training GEMMs are OpenBLAS's, so OPENBLAS_CORETYPE (printed) picks their kernels: on an
# AVX-512 machine that sets it to Haswell, nnguard trains on AVX2 while PyTorch's convolutions
# (Debian's build: MKL-DNN, i.e. oneDNN) ignore it; only its Linear layers go through the system BLAS.
# `env -u OPENBLAS_CORETYPE bash scripts/bench_train_convnets.sh` runs both peers without it.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD_DIR:-build}
PY=${NG_PYTHON:-/usr/bin/python3}
PEER=${PEER:-../shared/peers/torch_convnets_fmnist.py}
[ -f "$PEER" ] || { echo "bench_train_convnets.sh: $PEER not found (the shared folder must sit beside the repo; or set PEER)" >&2; exit 1; }
BUILD_DIR=$B bash scripts/build.sh >/dev/null
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
echo "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); ${ROUNDS:-3} paired rounds;" \
     "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)}"
for arch in ${ARCHS:-vgg-small resnet-small}; do
    ratios=""
    for r in $(seq "${ROUNDS:-3}"); do
        ng=$("$B/nnguard" train --arch "$arch" --fraction 0.1 --epochs 1 --batch 64 --threads 2 --seed 0 -q \
             -o "$T/m.onnx" --force | sed -n 's/.*, \([0-9]*\) img\/s training.*/\1/p')
        pt=$("$PY" "$PEER" "$arch" 6000 2000 2 1 0 | tail -1 |
             "$PY" -c 'import json, sys; print("%.0f" % json.load(sys.stdin)["train_images_per_s"])')
        ratio=$(awk -v a="$ng" -v b="$pt" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
        echo "$arch round $r: nnguard $ng img/s, pytorch $pt img/s, ratio ${ratio}x"
        ratios="$ratios $ratio"
    done
    med=$(tr ' ' '\n' <<<"$ratios" | sed '/^$/d' | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
    echo "$arch training ratio nnguard/pytorch, median of ${ROUNDS:-3}: ${med}x (target >= 1.5x)"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
