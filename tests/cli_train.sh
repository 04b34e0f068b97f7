#!/usr/bin/env bash
# tests/cli_train.sh - `nnguard train` end to end: train LeNet-5 on 3000 examples, check the
# printed accuracy, the saved ONNX and its training metadata; checkpoint + --resume gives the
# same file as an uninterrupted run; fine-tune from --init; safetensors output; usage errors.
# usage: bash tests/cli_train.sh NNGUARD_BIN SOURCE_DIR FMNIST_DIR
. "$(dirname "$0")/lib.sh"
set -e

# 1. a small run: accuracy printed, file written, metadata recorded
"$NG" train --arch lenet5 --data "$DATA" --count 3000 --epochs 2 --threads 2 --seed 3 -o "$T/a.onnx" >"$T/out" 2>"$T/err" \
    || { cat "$T/err" >&2; fail "train exited non-zero"; }
acc=$(sed -n 's/^test accuracy \([0-9.]*\)%.*/\1/p' "$T/out")
if [ -n "$acc" ] && awk -v a="$acc" 'BEGIN { exit !(a > 55) }'; then ok "test accuracy $acc%"; else fail "accuracy '$acc' (want > 55%): $(cat "$T/out")"; fi
grep -q "^epoch 2/2: loss" "$T/err" && ok "per-epoch lines" || fail "no per-epoch line on stderr: $(cat "$T/err")"
"$NG" info "$T/a.onnx" >"$T/info"
for kv in nnguard.train.seed=3 nnguard.train.arch=lenet5 nnguard.train.epochs=2 nnguard.train.examples=3000; do
    if grep -Eq "^ *${kv%%=*} +${kv#*=}\$" "$T/info"; then ok "metadata $kv"; else fail "metadata $kv missing: $(grep train "$T/info")"; fi
done

# 2. checkpoint + resume == uninterrupted (same seed, 2 epochs, 1 thread)
"$NG" train --arch lenet5 --data "$DATA" --count 2000 --epochs 2 --threads 1 -q --checkpoint "$T/full.ck" -o "$T/full.onnx" >/dev/null
"$NG" train --arch lenet5 --data "$DATA" --count 2000 --epochs 1 --threads 1 -q --checkpoint "$T/ck" -o "$T/part.onnx" >/dev/null
[ -s "$T/ck" ] && [ -s "$T/ck.state" ] && ok "checkpoint and state written" || fail "checkpoint files missing"
"$NG" train --arch lenet5 --data "$DATA" --count 2000 --epochs 2 --threads 1 -q --checkpoint "$T/ck" --resume -o "$T/resumed.onnx" >/dev/null
# the files differ only in metadata written by the CLI (none here differs), so compare whole files
cmp -s "$T/full.onnx" "$T/resumed.onnx" && ok "resume gives the uninterrupted model" || fail "resumed model differs"

# 3. fine-tune from a model file, safetensors output
"$NG" train --init "$T/a.onnx" --data "$DATA" --count 2000 --epochs 1 --lr 1e-4 --optimizer sgd --momentum 0.9 \
    --freeze 'c1.*' -q -o "$T/ft.safetensors" >"$T/out" 2>"$T/err" && [ -s "$T/ft.safetensors" ] \
    && ok "fine-tune to safetensors" || fail "fine-tune: $(cat "$T/err")"

# 4. usage errors
rc=0; "$NG" train -o "$T/x.onnx" 2>"$T/err" || rc=$?
[ "$rc" -eq 2 ] && grep -q -- "--arch" "$T/err" && ok "no model: usage error" || fail "no model: rc $rc"
rc=0; "$NG" train --arch lenet5 --schedule wavy -o "$T/x.onnx" 2>"$T/err" || rc=$?
[ "$rc" -eq 2 ] && ok "bad schedule: usage error" || fail "bad schedule: rc $rc"
rc=0; "$NG" train --arch lenet5 --data "$DATA" --count 500 --epochs 1 --freeze 'nothing*' -q -o "$T/x.onnx" 2>"$T/err" || rc=$?
[ "$rc" -ne 0 ] && grep -q "nothing" "$T/err" && ok "freeze pattern matching nothing refused" || fail "freeze: rc $rc $(cat "$T/err")"
"$NG" train --help | grep -q -- "--checkpoint" && ok "--help" || fail "--help"

finish
