#!/usr/bin/env bash
# scripts/advparams_resetproof.sh - re-measure docs/results/advparams-resetproof-lenet5.txt in one
# command: on LeNet-5, the reset-proof rule (--reset-proof) against the plain hardened form at the
# same budgets, each with the top-1x reset + fine-tuning attacker run with EVERY detector.
# usage: scripts/advparams_resetproof.sh [OUTDIR] [THREADS] [SEED]   (from the repository, after a build)
# About 1-2 CPU minutes per row on LeNet-5 (14 rows). The last lines print the table to compare.
set -euo pipefail
NG=${NG:-$(pwd)/build/nnguard}
OUT=${1:-advparams-resetproof}
TH=${2:-1}
SEED=${3:-0}
mkdir -p "$OUT"
cd "$OUT"
[ -f lenet5-5ep.onnx ] || "$NG" train --arch lenet5 --epochs 5 --seed 0 --threads "$TH" -q -o lenet5-5ep.onnx
row() {   # name, budget, then eval-scheme options
    local name=$1 b=$2; shift 2
    /usr/bin/time -f "%U %S %e" "$NG" eval-scheme advparams --model lenet5-5ep.onnx --budget "$b" --fractions 0.01 \
        --rates 0.5 --prune-epochs 0 --every-detector --seed "$SEED" --threads "$TH" --force "$@" \
        -o "$name.json" > "$name.txt" 2> "$name.err"
}
BUDGETS="2000 4000 8000 9000 10000 12000 16000"
for b in $BUDGETS; do row "rp$b" "$b" --reset-proof; done
for b in 2000 4000 8000 10000 11000 12000 16000; do row "h$b" "$b"; done
printf "%-8s %8s %9s %10s  %s\n" row changed encrypted fine-tuned "every detector's top 1x reset + fine-tuned (extremes dup magnitude neighbours gradient distribution)"
for f in rp*.txt h*.txt; do
    n=${f%.txt}
    ch=$(grep -o "[0-9]* parameters changed" "$f" | cut -d' ' -f1)
    enc=$(grep -o "> [0-9.]*%" "$f" | head -1 | cut -c3-)
    ft=$(grep -o "attacked *[0-9.]*%" "$f" | head -1 | awk '{print $2}')
    det=$(grep -A6 "every detector" "$f" | tail -6 | awk '{print $NF}' | tr '\n' ' ')
    printf "%-8s %8s %9s %10s  %s\n" "$n" "$ch" "$enc" "$ft" "$det"
done
