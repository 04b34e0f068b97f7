#!/usr/bin/env bash
# scripts/advparams_issue14.sh - re-measure issue 14's AdvParams figures in one command:
#   the vgg-small fine-tuning curve (docs/results/advparams-curve-vgg.txt) and the LeNet-5 rows of
#   docs/results/advparams-hide-lenet5.txt (plain hardened, camouflage rounds, moves down only).
# usage: scripts/advparams_issue14.sh [OUTDIR] [THREADS]   (from the repository, after a build)
# Models are trained into OUTDIR when missing (vgg-small, 2 epochs: minutes on 2 cores). Reports
# land in OUTDIR as *.txt / *.json; the last lines print the table rows to compare.
set -euo pipefail
NG=${NG:-$(pwd)/build/nnguard}
OUT=${1:-advparams-issue14}
TH=${2:-2}
mkdir -p "$OUT"
cd "$OUT"
T="/usr/bin/time -f %U_%S_%e"
[ -f lenet5-5ep.onnx ] || "$NG" train --arch lenet5 --epochs 5 --seed 0 --threads "$TH" -q -o lenet5-5ep.onnx
[ -f vgg-small.onnx ] || "$NG" train --arch vgg-small --epochs 2 --seed 0 --threads "$TH" -q -o vgg-small.onnx

# vgg-small: parameters changed -> fine-tuned on 1% (5 epochs) against scratch
$T "$NG" eval-scheme advparams --model vgg-small.onnx --curve-only --curve 32000,48000,64000 --fractions 0.01 \
   --attack-epochs 5 --limit 1000 --threads "$TH" -o curve-vgg.json > curve-vgg.txt 2> curve-vgg.err

# LeNet-5: the detector table and the reset + fine-tune attacker for each form
row() {   # name, then eval-scheme options
    local name=$1; shift
    $T "$NG" eval-scheme advparams --model lenet5-5ep.onnx "$@" --fractions 0.01 --rates 0.5 --prune-epochs 0 \
       --threads "$TH" -o "$name.json" > "$name.txt" 2> "$name.err"
}
row plain2000
row plain8000 --budget 8000
row hide4 --hide 4
row hide8-1000 --hide 8 --budget 1000
row down2000 --down

grep -h "hardened  " curve-vgg.txt
for f in plain2000 plain8000 hide4 hide8-1000 down2000; do
    echo "== $f"
    grep -h "accuracy 8\|attacked\|gradient outlier\|its top" "$f.txt" | cut -c1-140
done
