#!/usr/bin/env bash
# Inference against the runtimes users pick, in the same run (issue 13, item 4): nnguard (bench_model),
# ONNX Runtime (npm onnxruntime-node, CPU, 2 intra-op threads) and PyTorch (python3-torch, 2 threads)
# on LeNet-5 at batch 256 and torchvision resnet18 / mobilenet_v2 at batch 1 and 32 (random weights).
# Every round runs the three one after another on the same model and batch (paired rounds: a noisy
# neighbour hits all three); prints each round, the medians and the ratios peer time / nnguard time
# (> 1: nnguard is faster; the issue's targets: >= 1.0x ONNX Runtime on LeNet-5, >= 0.8x on the
# torchvision models). A model nnguard refuses prints "unsupported" and the script goes on.
#   ROUNDS (default 3), ITERS (timed runs per measurement, default 10), NG_BENCH_DIR (default
#   build/peers: node_modules and the generated models live there, never in the repository),
#   MODELS (default "lenet5 resnet18 mobilenet_v2": which of them to run).
# Needs nodejs + npm (network once, for `npm install --ignore-scripts onnxruntime-node`), python3-torch,
# python3-torchvision and python3-onnx (scripts/install-deps.sh --peers).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD_DIR:-build}
D=${NG_BENCH_DIR:-$B/peers}
PY=${NG_PYTHON:-/usr/bin/python3}
ROUNDS=${ROUNDS:-3}
ITERS=${ITERS:-10}
BUILD_DIR=$B bash scripts/build.sh >/dev/null
mkdir -p "$D"
D=$(cd "$D" && pwd)
if [ ! -d "$D/node_modules/onnxruntime-node" ]; then
    echo "installing onnxruntime-node into $D (npm, --ignore-scripts: the package ships libonnxruntime.so)" >&2
    npm install --ignore-scripts --no-audit --no-fund --prefix "$D" onnxruntime-node >&2
fi
[ -f "$D/models/mobilenet_v2.pt" ] || "$PY" bench/peers/gen_models.py "$D/models" >&2
export NODE_PATH=$D/node_modules
ORT_VERSION=$(node -e 'console.log(require("onnxruntime-node/package.json").version)')
echo "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)};" \
     "onnxruntime-node $ORT_VERSION;" \
     "$ROUNDS paired rounds of $ITERS timed runs each (median seconds per batch)"

median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

run() {   # run NAME C H W BATCH
    local name=$1 c=$2 h=$3 w=$4 b=$5 ng="" ort="" pt="" t
    local onnx=$D/models/$name.onnx pt_model=$D/models/$name.pt
    for r in $(seq "$ROUNDS"); do
        if t=$("$B/bench_model" "$onnx" "$b" "$ITERS" 2 2>/dev/null); then ng="$ng $t"; else
            echo "$name batch $b: nnguard unsupported (${t#unsupported: })"; ng=unsupported; fi
        t=$(node bench/peers/ort_peer.js "$onnx" "$c" "$h" "$w" "$b" "$ITERS") && ort="$ort $t"
        t=$(OMP_NUM_THREADS=2 "$PY" bench/peers/torch_peer.py "$pt_model" "$c" "$h" "$w" "$b" "$ITERS") && pt="$pt $t"
        [ "$ng" = unsupported ] && break
    done
    local mo mp
    mo=$(median <<<"$ort"); mp=$(median <<<"$pt")
    if [ "$ng" = unsupported ]; then
        printf '%-13s batch %3d: nnguard unsupported, onnxruntime %.2f img/s, pytorch %.2f img/s\n' \
            "$name" "$b" "$(awk -v b="$b" -v t="$mo" 'BEGIN{print b/t}')" "$(awk -v b="$b" -v t="$mp" 'BEGIN{print b/t}')"
        return
    fi
    local mn
    mn=$(median <<<"$ng")
    awk -v n="$name" -v b="$b" -v g="$mn" -v o="$mo" -v p="$mp" -v gs="$ng" -v os="$ort" -v ps="$pt" 'BEGIN {
        printf "%-13s batch %3d: nnguard %8.1f img/s, onnxruntime %8.1f img/s, pytorch %8.1f img/s; " \
               "ratio vs onnxruntime %.2fx, vs pytorch %.2fx   (s/batch nnguard:%s ort:%s torch:%s)\n",
               n, b, b / g, b / o, b / p, o / g, p / g, gs, os, ps }'
}

MODELS=${MODELS:-lenet5 resnet18 mobilenet_v2}
for m in $MODELS; do
    case $m in
        lenet5) run lenet5 1 28 28 256 ;;
        resnet18|mobilenet_v2) run "$m" 3 224 224 1; run "$m" 3 224 224 32 ;;
        *) echo "MODELS: unknown model '$m' (lenet5, resnet18, mobilenet_v2)" >&2; exit 2 ;;
    esac
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
