#!/usr/bin/env bash
# scripts/advparams_deadrp.sh - re-measure docs/results/advparams-deadrp-lenet5.txt in one command:
# on LeNet-5, AdvParams' dead-layer form with the reset-proof rounds (--form dead --reset-proof,
# and --dead-at 2: the second conv layer dead), against every detector, the dead-layer attacker
# and every detector again on the model it revives.
# usage: scripts/advparams_deadrp.sh [OUTDIR] [THREADS] [SEEDS] [BUDGETS] [FORM-OPTIONS...]
#   (from the repository, after a build; defaults: advparams-deadrp 1 "0 1 2 3 4" "500 1000 2000 3000"
#   --form dead --reset-proof). About 30 CPU seconds per row, one row per seed and budget.
#   table: scripts/advparams_deadrp.sh OUTDIR table   (prints the rows already in OUTDIR)
# Columns (accuracies on the 10,000 test images, shares of the perturbed in the top 10 x changed):
#   changed, encrypted, ft = plain fine-tuning on 1% (5 epochs), det = the largest share of the six
#   detectors on the encrypted model (random: rnd), top1 = the max over the six detectors of their
#   top-1x reset + fine-tuning, then on the dead-layer attacker's revived model: dft = fine-tuned,
#   ddet = largest share there, dtop = the max of its best detector's top-10x and every detector's
#   top-1x reset + fine-tuning; max = the largest accuracy any attacker reached; target = scratch + 3.
set -euo pipefail
NG=${NG:-$(pwd)/build/nnguard}
OUT=${1:-advparams-deadrp}
table() {
    printf "%-34s %7s %6s %6s %6s %6s %6s | %6s %6s %6s | %6s %6s %s\n" row changed enc ft rnd det top1 dft ddet dtop max target ""
    for f in "$OUT"/*.json; do
        jq -r --arg n "$(basename "$f" .json)" '.models[0] as $m | ($m.detectors | map(select(.found != null and .top_k != null and .which == null))) as $d |
          ($m.detectors | map(select(.detector == "dead layer: re-initialised")) | .[0]) as $dl |
          ($m.finetune[0].accuracy_scratch[-1]) as $sc |
          ([$m.every_detector_top1x[] | select(.found != null) | .accuracy_tuned] | max) as $t1 |
          (if $dl then ([$dl.then_best_tuned, ($m.every_detector_top1x_revived // [] | map(select(.found != null) | .accuracy_tuned) | max // 0)] | max) else 0 end) as $dt |
          ([$m.finetune[0].accuracy_attacked[-1], $t1, ($dl.accuracy_tuned // 0), $dt] | max) as $mx |
          [$n, $m.changed, $m.accuracy_after*100, $m.finetune[0].accuracy_attacked[-1]*100,
           ($d[0].random_expected / $m.changed * 100), ([$d[].found] | max) / $m.changed * 100, $t1*100,
           (($dl.accuracy_tuned // -0.01)*100), (if $dl then ([$dl.then_found[]] | max) / $dl.then_perturbed * 100 else -1 end), $dt*100,
           $mx*100, ($sc+0.03)*100, (if $mx <= $sc + 0.03 and $m.accuracy_after <= 0.12 then "held" else "FAILS" end)] |
          "\(.[0]) \(.[1]) \(.[2:11] | map(. * 100 | round / 100) | join(" ")) \(.[11]*100|round/100) \(.[12])"' "$f" |
        awk '{printf "%-34s %7s %6s %6s %6s %6s %6s | %6s %6s %6s | %6s %6s %s\n", $1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13}'
    done
}
if [ "${2:-}" = table ]; then table; exit 0; fi
TH=${2:-1}
SEEDS=${3:-0 1 2 3 4}
BUDGETS=${4:-500 1000 2000 3000}
shift $(( $# < 4 ? $# : 4 ))
FORM=("$@")
[ ${#FORM[@]} -gt 0 ] || FORM=(--form dead --reset-proof)
TAG=$(printf "%s" "${FORM[*]}" | tr -c 'a-z0-9' '_' | sed 's/__*/_/g; s/^_//; s/_$//')
mkdir -p "$OUT"
[ -f "$OUT/lenet5-5ep.onnx" ] || "$NG" train --arch lenet5 --epochs 5 --seed 0 --threads "$TH" -q -o "$OUT/lenet5-5ep.onnx"
for s in $SEEDS; do
    for b in $BUDGETS; do
        name="$OUT/$TAG-b$b-s$s"
        [ -f "$name.json" ] && continue
        "$NG" eval-scheme advparams --model "$OUT/lenet5-5ep.onnx" --budget "$b" --fractions 0.01 --rates 0.5 \
            --prune-epochs 0 --every-detector --seed "$s" --threads "$TH" --force "${FORM[@]}" \
            -o "$name.json" > "$name.txt" 2> "$name.err"
    done
done
table
