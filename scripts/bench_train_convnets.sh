#!/usr/bin/env bash
# Training throughput of the conv architectures against PyTorch on the same work (issue 13, item 4):
# vgg-small and resnet-small, 6,000 Fashion-MNIST training images (--fraction 0.1), one epoch, batch 64,
# Adam 1e-3, 2 threads: `nnguard train` against ../shared/peers/torch_convnets_fmnist.py (python3-torch),
# in paired rounds (each round runs both, so a noisy neighbour hits both); prints every round's img/s,
# the ratio nnguard / PyTorch and its median (the issue's target: >= 1.5x). Then what both rates mean
# in arithmetic: the step's multiply-accumulates per image (`nnguard info`: Conv and Gemm, forward
# plus both gradients), each peer's GFLOP/s, and the best single-core GEMM rate bench_gemm_train
# measures in this run (our kernels and OpenBLAS on the models' shapes) times 2 cores, the most a
# 2-thread step can run at; the line says what share of that 1.5x PyTorch would take.
#   ROUNDS (default 3), PEER (default ../shared/peers/torch_convnets_fmnist.py), ARCHS.
# On AVX2 / AVX-512 CPUs nnguard's training Convs run on its own kernels (NG_PWGEMM=0: OpenBLAS), so
# OPENBLAS_CORETYPE (printed) now only picks the Gemm layers' kernels, as for PyTorch (Debian's
# build: oneDNN for convolutions, the system BLAS for Linear layers).
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
# the best GFLOP/s of any product bench_gemm_train measures (one thread)
peak1=$("$B/bench_gemm_train" 20 | awk '$2 == "x" && $4 == "x" { for (i = 6; i <= 10; i++) if ($i + 0 > m) m = $i + 0 }
                                      END { printf "%.1f", m }')
echo "best one-core GEMM rate (build/bench_gemm_train 20): $peak1 GFLOP/s"
for arch in ${ARCHS:-vgg-small resnet-small}; do
    ratios="" ngs="" pts=""
    for r in $(seq "${ROUNDS:-3}"); do
        ng=$("$B/nnguard" train --arch "$arch" --fraction 0.1 --epochs 1 --batch 64 --threads 2 --seed 0 -q \
             -o "$T/m.onnx" --force | sed -n 's/.*, \([0-9]*\) img\/s training.*/\1/p')
        pt=$("$PY" "$PEER" "$arch" 6000 2000 2 1 0 | tail -1 |
             "$PY" -c 'import json, sys; print("%.0f" % json.load(sys.stdin)["train_images_per_s"])')
        ratio=$(awk -v a="$ng" -v b="$pt" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
        echo "$arch round $r: nnguard $ng img/s, pytorch $pt img/s, ratio ${ratio}x"
        ratios="$ratios $ratio" ngs="$ngs $ng" pts="$pts $pt"
    done
    med=$(tr ' ' '\n' <<<"$ratios" | sed '/^$/d' | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
    echo "$arch training ratio nnguard/pytorch, median of ${ROUNDS:-3}: ${med}x (target >= 1.5x)"
    macs=$("$B/nnguard" info --json "$T/m.onnx" | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["macs"]["train"])')
    median() { tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
    awk -v a="$arch" -v m="$macs" -v n="$(median "$ngs")" -v p="$(median "$pts")" -v k="$peak1" 'BEGIN {
        f = 2 * m * 1e-9; top = 2 * k
        printf "%s: %.1f MFLOP per training image; medians nnguard %.0f GFLOP/s, PyTorch %.0f GFLOP/s; 2 cores x %.1f = %.0f GFLOP/s at most;", a, f * 1e3, n * f, p * f, k, top
        printf " 1.5x PyTorch = %.0f GFLOP/s = %.0f%% of that (nnguard now %.0f%%, PyTorch %.0f%%)\n", 1.5 * p * f, 150 * p * f / top, 100 * n * f / top, 100 * p * f / top }'
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
