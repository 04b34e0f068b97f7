#!/usr/bin/env bash
# cli_advparams: `nnguard advparams encrypt|decrypt` and `eval --advparams-key` end to end on the
# LeNet-5 fixture: encrypt/decrypt round trip (re-encrypting the decrypted file reproduces the
# encrypted file byte for byte), no marker unless --mark, refusals exit 3 with nothing written
# (existing key file, another model's key, group-readable key, sealed key without passphrase); a
# missed target accuracy exits 1 with nothing written unless --allow-miss; decrypt writes 0600.
# ctest-label: slow (each encrypt loads the Fashion-MNIST training set)
. "$(dirname "$0")/lib.sh"
M=$SRC/tests/fixtures/lenet5.onnx

expect 0 "" "" "$NG" advparams encrypt --help
assert grep -q -- "--target-acc" "$T/out"
expect 0 "" "" "$NG" advparams decrypt --help
expect 2 "" "" "$NG" advparams encrypt "$M" --data "$DATA"

# a missed target (accuracy < 0 is never reached) exits 1 and writes nothing, unless --allow-miss
expect 1 "" "" "$NG" advparams encrypt "$M" --data "$DATA" -o "$T/miss.onnx" --key-out "$T/miss.key" --budget 2 --target-acc 0
assert grep -q "target missed" "$T/err"
assert test ! -e "$T/miss.onnx" -a ! -e "$T/miss.key"
expect 0 "" "" "$NG" advparams encrypt "$M" --data "$DATA" -o "$T/miss.onnx" --key-out "$T/miss.key" --budget 2 --target-acc 0 --allow-miss
assert grep -q "writing the files anyway" "$T/err"
assert test -s "$T/miss.onnx" -a -s "$T/miss.key"
# an existing OUT is refused (exit 3) unless --force; an existing KEY even with --force
expect 3 "" "" "$NG" advparams encrypt "$M" --data "$DATA" -o "$T/miss.onnx" --key-out "$T/miss2.key" --budget 2 --target-acc 0 --allow-miss
assert grep -q -- "--force" "$T/err"
expect 3 "" "" "$NG" advparams encrypt "$M" --data "$DATA" -o "$T/miss.onnx" --key-out "$T/miss.key" --budget 2 --force --allow-miss
assert grep -q "never overwritten" "$T/err"
expect 3 "" "" "$NG" advparams encrypt "$M" --data "$DATA" -o "$M" --key-out "$T/miss3.key" --force
assert grep -q "same device and inode" "$T/err"

# the default (hardened) form, a smaller budget than its default to keep the test short
expect 0 "" "" "$NG" advparams encrypt "$M" --data "$DATA" -o "$T/enc.onnx" --key-out "$T/k.key" --budget 300 --allow-miss
assert grep -q "advparams: step  1" "$T/err"
assert grep -q "changed 300 of" "$T/out"
assert test "$(stat -c %a "$T/k.key")" = 600
assert test -s "$T/enc.onnx"
assert bash -c "! grep -aq nnguard '$T/enc.onnx'"
cat "$T/out"

# existing key file: refused before any work, nothing written
expect 3 "" "" "$NG" advparams encrypt "$M" --data "$DATA" -o "$T/enc2.onnx" --key-out "$T/k.key"
assert test ! -e "$T/enc2.onnx"

expect 0 "" "" "$NG" advparams decrypt "$T/enc.onnx" --key "$T/k.key" -o "$T/dec.onnx"
assert test "$(stat -c %a "$T/dec.onnx")" = 600   # plaintext of a protected model
expect 0 "" "" "$NG" advparams encrypt "$T/dec.onnx" --data "$DATA" -o "$T/enc3.onnx" --key-out "$T/k3.key" --budget 300 --allow-miss
assert cmp -s "$T/enc.onnx" "$T/enc3.onnx"

# --dead-layer: the budget plus the silenced layer's moves (312 on the fixture at 100), and the
# decrypted file is the same as the other key's (the original parameters, bit for bit)
expect 0 "" "" "$NG" advparams encrypt "$M" --data "$DATA" -o "$T/encd.onnx" --key-out "$T/kd.key" --budget 100 --dead-layer --allow-miss
assert grep -q "changed 312 of" "$T/out"
expect 0 "" "" "$NG" advparams decrypt "$T/encd.onnx" --key "$T/kd.key" -o "$T/decd.onnx"
assert cmp -s "$T/dec.onnx" "$T/decd.onnx"

# --hide: camouflage rounds keep the count (100) and decrypt to the same original bits
expect 0 "" "" "$NG" advparams encrypt "$M" --data "$DATA" -o "$T/ench.onnx" --key-out "$T/kh.key" --budget 100 --hide 2 --allow-miss
assert grep -q "changed 100 of" "$T/out"
expect 0 "" "" "$NG" advparams decrypt "$T/ench.onnx" --key "$T/kh.key" -o "$T/dech.onnx"
assert cmp -s "$T/dec.onnx" "$T/dech.onnx"

# --reset-proof: the count kept (100), decrypt to the same original bits; with --hide refused
expect 0 "" "" "$NG" advparams encrypt "$M" --data "$DATA" -o "$T/encr.onnx" --key-out "$T/kr.key" --budget 100 --reset-proof --allow-miss
assert grep -q "changed 100 of" "$T/out"
assert bash -c "! cmp -s '$T/encr.onnx' '$T/ench.onnx'"
expect 0 "" "" "$NG" advparams decrypt "$T/encr.onnx" --key "$T/kr.key" -o "$T/decr.onnx"
assert cmp -s "$T/dec.onnx" "$T/decr.onnx"
expect 2 "" "" "$NG" advparams encrypt "$M" --data "$DATA" -o "$T/encr2.onnx" --key-out "$T/kr2.key" --budget 100 --reset-proof --hide 2
assert grep -q "reset-proof rule" "$T/err"
assert test ! -e "$T/encr2.onnx"

# eval with the key in memory equals eval of the decrypted file
expect 0 "" "" "$NG" eval "$T/dec.onnx" --data "$DATA"; cp "$T/out" "$T/eval_plain"
expect 0 "" "" "$NG" eval "$T/enc.onnx" --data "$DATA" --advparams-key "$T/k.key"; cp "$T/out" "$T/eval_key"
assert test -s "$T/eval_plain"
assert bash -c "grep -o '[0-9.]*%' '$T/eval_plain' | head -1 > '$T/a1'; grep -o '[0-9.]*%' '$T/eval_key' | head -1 > '$T/a2'; cmp -s '$T/a1' '$T/a2'"

# another model's key (different encryption set) refused, nothing written
expect 0 "" "" "$NG" advparams encrypt "$M" --data "$DATA" -o "$T/encB.onnx" --key-out "$T/kB.key" --seed 5 --budget 3 --mark --allow-miss
assert grep -aq "nnguard.scheme" "$T/encB.onnx"
expect 3 "" "" "$NG" advparams decrypt "$T/enc.onnx" --key "$T/kB.key" -o "$T/bad.onnx"
assert grep -q "belongs to another model" "$T/err"
assert test ! -e "$T/bad.onnx"
expect 3 "" "" "$NG" eval "$T/enc.onnx" --data "$DATA" --advparams-key "$T/kB.key"

# group-readable key refused
cp "$T/k.key" "$T/k644.key"; chmod 644 "$T/k644.key"
expect 3 "" "" "$NG" advparams decrypt "$T/enc.onnx" --key "$T/k644.key" -o "$T/bad.onnx"
assert test ! -e "$T/bad.onnx"

# sealed key
printf 'a passphrase\n' > "$T/pw"; chmod 600 "$T/pw"
expect 0 "" "" "$NG" advparams encrypt "$M" --data "$DATA" -o "$T/encS.onnx" --key-out "$T/kS.key" --budget 5 --passphrase-file "$T/pw" --allow-miss
expect 3 "" "" "$NG" advparams decrypt "$T/encS.onnx" --key "$T/kS.key" -o "$T/bad.onnx"
assert test ! -e "$T/bad.onnx"
printf 'wrong\n' > "$T/pw2"; chmod 600 "$T/pw2"
expect 3 "" "" "$NG" advparams decrypt "$T/encS.onnx" --key "$T/kS.key" -o "$T/bad.onnx" --passphrase-file "$T/pw2"
expect 0 "" "" "$NG" advparams decrypt "$T/encS.onnx" --key "$T/kS.key" -o "$T/decS.onnx" --passphrase-file "$T/pw"
assert cmp -s "$T/decS.onnx" "$T/dec.onnx"

# safetensors (graph from --arch): the decrypted file is the plain file byte for byte
expect 0 "" "" "$NG" convert "$M" -o "$T/m.safetensors"
expect 0 "" "" "$NG" advparams encrypt "$T/m.safetensors" --arch lenet5 --data "$DATA" -o "$T/e.safetensors" --key-out "$T/kst.key" --budget 4 --target-acc 0 --rule gain --allow-miss
assert bash -c "! cmp -s '$T/e.safetensors' '$T/m.safetensors'"
expect 0 "" "" "$NG" advparams decrypt "$T/e.safetensors" --key "$T/kst.key" -o "$T/d.safetensors"
assert cmp -s "$T/d.safetensors" "$T/m.safetensors"
# --rule alone selects the paper's form (stops at the target, here within 25 changes)
expect 0 "" "" "$NG" advparams encrypt "$M" --data "$DATA" -o "$T/encP.onnx" --key-out "$T/kP.key" --rule grad --target-acc 0.15 --allow-miss
assert bash -c "grep -q 'changed [0-9]* of' '$T/out' && test \$(grep -o 'changed [0-9]*' '$T/out' | cut -d' ' -f2) -le 25"
expect 2 "" "" "$NG" advparams encrypt "$M" --data "$DATA" -o "$T/x" --key-out "$T/x.key" --spread 0
expect 2 "" "" "$NG" advparams encrypt "$M" --data "$DATA" -o "$T/x" --key-out "$T/x.key" --hide 101
expect 2 "" "" "$NG" advparams encrypt "$T/m.safetensors" --arch lenet5 --data "$DATA" -o "$T/x" --key-out "$T/x.key" --rule best

finish
