#!/usr/bin/env bash
# cli_attacks: `nnguard attack ...` and `nnguard eval-scheme ...` end to end on the PyTorch
# LeNet-5 fixture, asserting the figures from their JSON output.
# ctest-label: slow
. "$(dirname "$0")/lib.sh"
set -e
FIX=$SRC/tests/fixtures/lenet5.onnx
cd "$T"

"$NG" keygen -o k.key >/dev/null
"$NG" lock "$FIX" -o locked.onnx --key k.key >/dev/null

"$NG" attack keyguess locked.onnx --trials 3 --limit 1000 --json > kg.json
check "$(jget kg.json "['trials']") == 3" "keyguess ran 3 trials"
check "$(jget kg.json "['accuracy_mean']") < 0.15" "wrong keys give about chance"
check "$(jget kg.json "['accuracy_locked']") < 0.15" "locked model without key is at chance"

# 2,000 examples: at 1,000 x 2 epochs a rare lock (the salt is fresh each run) left the
# loss at 2.285, a 0.02 fall; at 2,000 it fell by 1.1-1.3 in 12 of 12 locks, accuracy <= 0.61
# against scratch/sanity 0.63.
"$NG" attack finetune locked.onnx --count 2000 --epochs 2 --limit 1000 --sanity --json > ft.json 2>/dev/null
check "$(jget ft.json "['train_examples']") == 2000" "fine-tune used 2000 examples"
check "$(jget ft.json "['params_reinitialised']") > 10000" "the attacker re-initialised the locked values"
check "$(jget ft.json "['loss_attacked'][1]") < $(jget ft.json "['loss_before']") - 0.1" "the attack trained (its loss fell)"
check "$(jget ft.json "['accuracy_attacked'][1]") <= max($(jget ft.json "['accuracy_scratch'][1]"), $(jget ft.json "['accuracy_sanity'][1]")) + 0.05" \
      "fine-tuned locked model no better than a fresh init"

"$NG" attack prune "$FIX" --rates 0,0.5,0.99 --limit 1000 --json > pr.json 2>/dev/null
check "$(jget pr.json "[0]['zeroed']") == 0" "rate 0 prunes nothing"
check "$(jget pr.json "[1]['zeroed']") == 30735" "rate 0.5 zeroes half of every weight tensor (61470 weights)"
check "$(jget pr.json "[0]['accuracy']") > 0.8" "unpruned fixture keeps its accuracy"
check "$(jget pr.json "[2]['accuracy']") < 0.5" "99% pruning destroys the model"

"$NG" eval-scheme deeplock --model "$FIX" --trials 3 --attack-epochs 1 --fractions 0.02 --limit 1000 \
      --workdir wd -o dl.json > dl.txt 2>/dev/null
check "'$(jget dl.json "['unlock_bit_exact']")' == 'True'" "eval-scheme: unlock is bit-exact"
check "$(jget dl.json "['accuracy_unlocked']") == $(jget dl.json "['accuracy_original']")" "eval-scheme: unlocked accuracy equals original"
# The lock key is fresh from the system's random source each run, so the locked accuracy is a draw:
# 36 keys on this fixture (9 runs: the locked model and 3 wrong keys each) gave 0.093-0.115 (chance
# 0.10); one sanitizer run drew 0.167. The original is 0.83.
check "$(jget dl.json "['accuracy_locked']") < 0.25" "eval-scheme: locked accuracy near chance"
check "$(jget dl.json "['throughput']['lock_gb_s']") > 0" "eval-scheme: throughput measured"
assert grep -q "random wrong keys" dl.txt

"$NG" eval-scheme advparams --model "$FIX" --attack-epochs 1 --fractions 0.02 --rates 0.5 --prune-epochs 0 \
      --budget 300 --limit 1000 --workdir wd -o adv.json > adv.txt 2>/dev/null
check "'$(jget adv.json "['models'][0]['form']")' == 'hardened'" "advparams: the hardened form is the default"
check "$(jget adv.json "['models'][0]['changed']") == 300" "advparams: the hardened form changes exactly --budget parameters"
check "$(jget adv.json "['models'][0]['detectors'][0]['top_k']") == 3000" "advparams: detector table, k = 10 x budget"
check "$(jget adv.json "['models'][0]['detectors'][1]['found']") <= 300 * 0.2" "advparams: hardened values are not duplicates"
check "'$(jget adv.json "['models'][0]['changed_in_range']")' == 'True'" "advparams: changed values inside their tensor's range"
check "'$(jget adv.json "['models'][0]['decrypt_bit_exact']")' == 'True'" "advparams: decrypt is bit-exact"
check "$(jget adv.json "['models'][0]['accuracy_after']") < $(jget adv.json "['models'][0]['accuracy_before']") - 0.3" \
      "advparams: accuracy drops by more than 30 points"
# --curve-only: the curve rows alone; --hide keeps the count of the hardened rows
"$NG" eval-scheme advparams --model "$FIX" --attack-epochs 1 --fractions 0.02 --curve-only --curve 100 --hide 2 \
      --limit 1000 --workdir wd -o advc.json > advc.txt 2>/dev/null
check "$(jget advc.json "['models'][0]['curve'][1]['changed']") == 100" "advparams --curve-only --hide: 100 changed"
check "$(jget advc.json "['models'][0]['curve'][1]['hide']") == 2" "advparams --curve-only: the hidden row records its rounds"
check "'$(jget advc.json "['models'][0]['curve'][0]['form']")' == 'paper'" "advparams --curve-only: the paper row first"
# --reset-proof --spread 1 --every-detector: the six detectors' top-1x reset rows, values in the
# centre band (no extremes, no large magnitudes), decrypt bit-exact
"$NG" eval-scheme advparams --model "$FIX" --attack-epochs 1 --fractions 0.02 --rates 0.5 --prune-epochs 0 \
      --budget 200 --reset-proof --spread 1 --every-detector --limit 1000 --workdir wd -o advr.json > advr.txt 2>/dev/null
check "'$(jget advr.json "['models'][0]['reset_proof']")' == 'True'" "advparams --reset-proof: recorded"
check "$(jget advr.json "['models'][0]['spread']") == 1" "advparams --spread 1: recorded"
check "$(jget advr.json "['models'][0]['changed']") == 200" "advparams --reset-proof: 200 changed"
check "len($(jget advr.json "['models'][0]['every_detector_top1x']")) == 6" "advparams --every-detector: six rows"
check "$(jget advr.json "['models'][0]['detectors'][0]['found']") <= 200 * 0.1" "advparams --reset-proof: not at the extremes"
check "$(jget advr.json "['models'][0]['detectors'][2]['found']") <= 200 * 0.1" "advparams --reset-proof: not large"
check "'$(jget advr.json "['models'][0]['decrypt_bit_exact']")' == 'True'" "advparams --reset-proof: decrypt is bit-exact"

# usage errors
expect 2 "" "unknown attack: usage error" "$NG" attack nosuch "$FIX"
expect nz "not a Deep-Locked model" "keyguess on a plain model refused" "$NG" attack keyguess "$FIX" --trials 2
finish
