#!/usr/bin/env bash
# cli_advparams: `nnguard advparams encrypt|decrypt` and `eval --advparams-key` end to end on the
# LeNet-5 fixture: encrypt/decrypt round trip (re-encrypting the decrypted file reproduces the
# encrypted file byte for byte), no marker unless --mark, refusals exit 3 with nothing written
# (existing key file, another model's key, group-readable key, sealed key without passphrase); a
# missed target accuracy exits 1 with nothing written unless --allow-miss; decrypt writes 0600.
# ctest-label: slow (each encrypt loads the Fashion-MNIST training set)
set -u
NG=$1; SRC=$2; DATA=$3
T=$(mktemp -d /tmp/nnguard-cliadv-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail=0; pass=0
ok()   { if "$@"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAILED: $*" >&2; fi; }
code() { local want=$1; shift; "$@" >"$T/out" 2>"$T/err"; local got=$?
         if [ "$got" = "$want" ]; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAILED (exit $got, wanted $want): $*" >&2; cat "$T/err" >&2; fi; }
M=$SRC/tests/fixtures/lenet5.onnx

code 0 "$NG" advparams encrypt --help
ok grep -q -- "--target-acc" "$T/out"
code 0 "$NG" advparams decrypt --help
code 2 "$NG" advparams encrypt "$M" --data "$DATA"

# a missed target (accuracy < 0 is never reached) exits 1 and writes nothing, unless --allow-miss
code 1 "$NG" advparams encrypt "$M" --data "$DATA" -o "$T/miss.onnx" --key-out "$T/miss.key" --budget 2 --target-acc 0
ok grep -q "target missed" "$T/err"
ok test ! -e "$T/miss.onnx" -a ! -e "$T/miss.key"
code 0 "$NG" advparams encrypt "$M" --data "$DATA" -o "$T/miss.onnx" --key-out "$T/miss.key" --budget 2 --target-acc 0 --allow-miss
ok grep -q "writing the files anyway" "$T/err"
ok test -s "$T/miss.onnx" -a -s "$T/miss.key"
# an existing OUT is refused (exit 3) unless --force; an existing KEY even with --force
code 3 "$NG" advparams encrypt "$M" --data "$DATA" -o "$T/miss.onnx" --key-out "$T/miss2.key" --budget 2 --target-acc 0 --allow-miss
ok grep -q -- "--force" "$T/err"
code 3 "$NG" advparams encrypt "$M" --data "$DATA" -o "$T/miss.onnx" --key-out "$T/miss.key" --budget 2 --force --allow-miss
ok grep -q "never overwritten" "$T/err"
code 3 "$NG" advparams encrypt "$M" --data "$DATA" -o "$M" --key-out "$T/miss3.key" --force
ok grep -q "same device and inode" "$T/err"

# the default (hardened) form, a smaller budget than its default to keep the test short
code 0 "$NG" advparams encrypt "$M" --data "$DATA" -o "$T/enc.onnx" --key-out "$T/k.key" --budget 300 --allow-miss
ok grep -q "advparams: step  1" "$T/err"
ok grep -q "changed 300 of" "$T/out"
ok test "$(stat -c %a "$T/k.key")" = 600
ok test -s "$T/enc.onnx"
ok bash -c "! grep -aq nnguard '$T/enc.onnx'"
cat "$T/out"

# existing key file: refused before any work, nothing written
code 3 "$NG" advparams encrypt "$M" --data "$DATA" -o "$T/enc2.onnx" --key-out "$T/k.key"
ok test ! -e "$T/enc2.onnx"

code 0 "$NG" advparams decrypt "$T/enc.onnx" --key "$T/k.key" -o "$T/dec.onnx"
ok test "$(stat -c %a "$T/dec.onnx")" = 600   # plaintext of a protected model
code 0 "$NG" advparams encrypt "$T/dec.onnx" --data "$DATA" -o "$T/enc3.onnx" --key-out "$T/k3.key" --budget 300 --allow-miss
ok cmp -s "$T/enc.onnx" "$T/enc3.onnx"

# eval with the key in memory equals eval of the decrypted file
code 0 "$NG" eval "$T/dec.onnx" --data "$DATA"; cp "$T/out" "$T/eval_plain"
code 0 "$NG" eval "$T/enc.onnx" --data "$DATA" --advparams-key "$T/k.key"; cp "$T/out" "$T/eval_key"
ok test -s "$T/eval_plain"
ok bash -c "grep -o '[0-9.]*%' '$T/eval_plain' | head -1 > '$T/a1'; grep -o '[0-9.]*%' '$T/eval_key' | head -1 > '$T/a2'; cmp -s '$T/a1' '$T/a2'"

# another model's key (different encryption set) refused, nothing written
code 0 "$NG" advparams encrypt "$M" --data "$DATA" -o "$T/encB.onnx" --key-out "$T/kB.key" --seed 5 --budget 3 --mark --allow-miss
ok grep -aq "nnguard.scheme" "$T/encB.onnx"
code 3 "$NG" advparams decrypt "$T/enc.onnx" --key "$T/kB.key" -o "$T/bad.onnx"
ok grep -q "belongs to another model" "$T/err"
ok test ! -e "$T/bad.onnx"
code 3 "$NG" eval "$T/enc.onnx" --data "$DATA" --advparams-key "$T/kB.key"

# group-readable key refused
cp "$T/k.key" "$T/k644.key"; chmod 644 "$T/k644.key"
code 3 "$NG" advparams decrypt "$T/enc.onnx" --key "$T/k644.key" -o "$T/bad.onnx"
ok test ! -e "$T/bad.onnx"

# sealed key
printf 'a passphrase\n' > "$T/pw"; chmod 600 "$T/pw"
code 0 "$NG" advparams encrypt "$M" --data "$DATA" -o "$T/encS.onnx" --key-out "$T/kS.key" --budget 5 --passphrase-file "$T/pw" --allow-miss
code 3 "$NG" advparams decrypt "$T/encS.onnx" --key "$T/kS.key" -o "$T/bad.onnx"
ok test ! -e "$T/bad.onnx"
printf 'wrong\n' > "$T/pw2"; chmod 600 "$T/pw2"
code 3 "$NG" advparams decrypt "$T/encS.onnx" --key "$T/kS.key" -o "$T/bad.onnx" --passphrase-file "$T/pw2"
code 0 "$NG" advparams decrypt "$T/encS.onnx" --key "$T/kS.key" -o "$T/decS.onnx" --passphrase-file "$T/pw"
ok cmp -s "$T/decS.onnx" "$T/dec.onnx"

# safetensors (graph from --arch): the decrypted file is the plain file byte for byte
code 0 "$NG" convert "$M" -o "$T/m.safetensors"
code 0 "$NG" advparams encrypt "$T/m.safetensors" --arch lenet5 --data "$DATA" -o "$T/e.safetensors" --key-out "$T/kst.key" --budget 4 --target-acc 0 --rule gain --allow-miss
ok bash -c "! cmp -s '$T/e.safetensors' '$T/m.safetensors'"
code 0 "$NG" advparams decrypt "$T/e.safetensors" --key "$T/kst.key" -o "$T/d.safetensors"
ok cmp -s "$T/d.safetensors" "$T/m.safetensors"
# --rule alone selects the paper's form (stops at the target, here within 25 changes)
code 0 "$NG" advparams encrypt "$M" --data "$DATA" -o "$T/encP.onnx" --key-out "$T/kP.key" --rule grad --target-acc 0.15 --allow-miss
ok bash -c "grep -q 'changed [0-9]* of' '$T/out' && test \$(grep -o 'changed [0-9]*' '$T/out' | cut -d' ' -f2) -le 25"
code 2 "$NG" advparams encrypt "$M" --data "$DATA" -o "$T/x" --key-out "$T/x.key" --spread 0
code 2 "$NG" advparams encrypt "$T/m.safetensors" --arch lenet5 --data "$DATA" -o "$T/x" --key-out "$T/x.key" --rule best

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
