#!/usr/bin/env bash
# scripts/advparams_resetproof.sh - re-measure docs/results/advparams-resetproof-lenet5.txt in one
# command: on LeNet-5, the reset-proof rule (--reset-proof) against the plain hardened form at the
# same budgets, with the default spread (4) and with --spread 1, each with the top-1x reset +
# fine-tuning attacker run with EVERY detector (--every-detector).
# usage: scripts/advparams_resetproof.sh [OUTDIR] [THREADS] [SEED] [all|quick]
#   (from the repository, after a build). quick: the four rows the conclusion rests on
#   (reset-proof --spread 1 at 8,000 and 10,000; hardened at 8,000 and 12,000); run it with SEED
#   0 to 4. About 20 CPU seconds per row (23 rows for all).
# The last lines print the table: changed, encrypted, plain fine-tuned, then every detector's
# top-1x reset + fine-tuned (extremes, duplicates, magnitude, neighbours, gradient, distribution).
set -euo pipefail
NG=${NG:-$(pwd)/build/nnguard}
OUT=${1:-advparams-resetproof}
TH=${2:-1}
SEED=${3:-0}
MODE=${4:-all}
mkdir -p "$OUT"
cd "$OUT"
[ -f lenet5-5ep.onnx ] || "$NG" train --arch lenet5 --epochs 5 --seed 0 --threads "$TH" -q -o lenet5-5ep.onnx
row() {   # name, budget, then eval-scheme options
    local name=$1-s$SEED b=$2; shift 2
    /usr/bin/time -f "%U %S %e" "$NG" eval-scheme advparams --model lenet5-5ep.onnx --budget "$b" --fractions 0.01 \
        --rates 0.5 --prune-epochs 0 --every-detector --seed "$SEED" --threads "$TH" --force "$@" \
        -o "$name.json" > "$name.txt" 2> "$name.err"
}
if [ "$MODE" = quick ]; then
    for b in 8000 10000; do row "rp$b-sp1" "$b" --reset-proof --spread 1; done
    row h8000 8000
    row h12000 12000
else
    for b in 2000 4000 8000 9000 10000 12000 16000; do row "rp$b" "$b" --reset-proof; done
    for b in 2000 4000 8000 10000 11000 12000 16000; do row "h$b" "$b"; done
    for b in 2000 4000 6000 7000 8000 10000; do row "rp$b-sp1" "$b" --reset-proof --spread 1; done
    for b in 4000 8000 12000; do row "h$b-sp1" "$b" --spread 1; done
fi
printf "%-16s %8s %9s %10s  %s\n" row changed encrypted fine-tuned "every detector's top 1x reset + fine-tuned"
for f in *-s"$SEED".txt; do
    ch=$(grep -o "[0-9]* parameters changed" "$f" | cut -d' ' -f1)
    enc=$(grep -o "> [0-9.]*%" "$f" | head -1 | cut -c3-)
    ft=$(grep -o "attacked *[0-9.]*%" "$f" | head -1 | awk '{print $2}')
    sc=$(grep -o "scratch *[0-9.]*%" "$f" | head -1 | awk '{print $2}')
    det=$(grep -A6 "every detector" "$f" | tail -6 | awk '{print $NF}' | tr '\n' ' ')
    printf "%-16s %8s %9s %10s  %s (scratch %s)\n" "${f%.txt}" "$ch" "$enc" "$ft" "$det" "$sc"
done
