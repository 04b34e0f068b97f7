#!/usr/bin/env bash
# cli_securenet_bind: a bound license from the CLI (license train --bind, license bind, eval|predict
# --license-key, license replace) on a short LeNet-5 license training (5% of the data, 2 epochs).
# With its key the bound file gives the unbound model's logits bit for bit; without a key it is at
# most 15% (scrambled parameters); a key that opens no slot, an altered slot (a hex digit of its
# ciphertext XOR 1, and a byte flipped out of hex) are refused naming the key file, exit non-zero;
# replace re-binds to the new key alone (the old key's slot is gone); per-user and hierarchical
# models get one slot per key; license harden and attack fgsm --license-key open a bound model.
# Bad input writes nothing.
# ctest-label: slow
. "$(dirname "$0")/lib.sh"
acc() { "$NG" eval "$@" --data "$DATA" --limit 2000 --threads 1 --json 2>/dev/null | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['accuracy'])"; }
ge() { /usr/bin/python3 -c "import sys; sys.exit(0 if float('$1') >= float('$2') else 1)"; }
# byte offset in FILE of character N of the (first / only) slot "ID:NONCE:CT" in the metadata
slot_off() { /usr/bin/python3 -c "
import re, sys
b = open('$1', 'rb').read()
m = re.search(rb'[0-9a-f]{16}:[0-9a-f]{48}:[0-9a-f]{96}', b)
if not m: sys.exit(1)
print(m.start() + $2)"; }
# offset of the first decimal digit of the slot's ciphertext (XOR 1 keeps it a hex digit)
ct_digit() { /usr/bin/python3 -c "
import re, sys
b = open('$1', 'rb').read()
m = re.search(rb'[0-9a-f]{16}:[0-9a-f]{48}:([0-9a-f]{96})', b)
i = next(i for i in range(m.start(1), m.end(1)) if 48 <= b[i] <= 57)
print(i)"; }
xor1() { /usr/bin/python3 -c "
f = open('$1', 'r+b'); f.seek($2); c = f.read(1)[0]; f.seek($2); f.write(bytes([c ^ 1]))"; }
nslots() { /usr/bin/python3 -c "
import re
print(len(re.findall(rb'[0-9a-f]{16}:[0-9a-f]{48}:[0-9a-f]{96}', open('$1', 'rb').read())))"; }
cd "$T"
/usr/bin/python3 -c "
import gzip, struct, sys
b = gzip.open('$DATA/t10k-images-idx3-ubyte.gz').read(16 + 200 * 784)
sys.stdout.buffer.write(struct.pack('>IIII', 2051, 200, 28, 28) + b[16:])" > in.idx
for k in k1 k2; do "$NG" license keygen -o $k >/dev/null; done

# an unbound licensed model, then bound by license bind and by license train --bind
expect 0 "" "" "$NG" license train --scheme single --arch lenet5 --key k1 --data "$DATA" --fraction 0.05 --epochs 2 --seed 3 --threads 1 -q -o m.onnx
expect 0 "" "" "$NG" license bind m.onnx --key k1 -o b.onnx
assert grep -q "bound m.onnx to 1 license key" "$T/out"
assert test "$(nslots b.onnx)" = 1
assert test "$(nslots m.onnx)" = 0
expect 0 "" "" "$NG" license info b.onnx
assert grep -q "bound: parameters locked (\*), key slots for: $(/usr/bin/python3 -c "import json; print(json.load(open('m.onnx.license.json'))['keys'][0]['id'])")" "$T/out"
expect 0 "" "" "$NG" license info m.onnx
assert grep -q "not bound" "$T/out"
expect 0 "" "" "$NG" predict m.onnx --images in.idx --license-key k1 --threads 1 --logits lm.f32
expect 0 "" "" "$NG" predict b.onnx --images in.idx --license-key k1 --threads 1 --logits lb.f32
assert cmp -s lm.f32 lb.f32
a_m=$(acc m.onnx --license-key k1); a_b=$(acc b.onnx --license-key k1); a_none=$(acc b.onnx)
echo "unbound with key $a_m, bound with key $a_b, bound without key $a_none"
assert test "$a_m" = "$a_b"
assert ge "$a_b" 0.5
assert ge 0.15 "$a_none"
expect 0 "bound licensed model" "" "$NG" eval b.onnx --data "$DATA" --limit 100 --threads 1
expect 0 "" "" "$NG" license train --scheme single --arch lenet5 --key k1 --data "$DATA" --fraction 0.05 --epochs 2 --seed 3 --threads 1 --bind -q -o t.onnx
assert grep -q "bound to its keys" "$T/out"
assert grep -q '"bound": true' t.onnx.license.json
assert test "$(acc t.onnx --license-key k1)" = "$a_m"

# several keys: one slot per granted key (per-user; hierarchical's master and tiers), each opens it;
# license bind with some of the keys leaves the others out
expect 0 "" "" "$NG" license train --scheme per-user --users 3 --arch lenet5 --keys-out pu --data "$DATA" --fraction 0.01 --epochs 1 --seed 3 --threads 1 --bind -q -o pu.onnx
assert test "$(nslots pu.onnx)" = 3
for u in 1 2 3; do expect 0 "" "" "$NG" eval pu.onnx --data "$DATA" --limit 100 --threads 1 --license-key pu/user-$u.key; done
expect 0 "" "" "$NG" license train --scheme hierarchical --tiers "0-9;0-4;5-9" --arch lenet5 --keys-out hi --data "$DATA" --fraction 0.01 --epochs 1 --seed 3 --threads 1 -q -o hi.onnx
expect 0 "" "" "$NG" license bind hi.onnx --key hi/master.key --key hi/tier-2.key -o hib.onnx
assert test "$(nslots hib.onnx)" = 2
expect 0 "" "" "$NG" eval hib.onnx --data "$DATA" --limit 100 --threads 1 --license-key hi/tier-2.key --per-class
expect 3 "tier-1.key" "" "$NG" eval hib.onnx --data "$DATA" --limit 100 --license-key hi/tier-1.key

# a key that opens no slot; altered slots: refused, naming the key file
expect 3 "k2" "" "$NG" eval b.onnx --data "$DATA" --limit 100 --license-key k2
assert grep -q "opens none of the bound model's key slots" "$T/err"
cp b.onnx bad1.onnx; xor1 bad1.onnx "$(ct_digit bad1.onnx)"
assert test "$(nslots bad1.onnx)" = 1
expect nz "opens none" "" "$NG" eval bad1.onnx --data "$DATA" --limit 100 --license-key k1
assert grep -q "k1" "$T/err"
cp b.onnx bad2.onnx; flip_byte bad2.onnx "$(slot_off bad2.onnx 20)"
expect nz "k1" "" "$NG" eval bad2.onnx --data "$DATA" --limit 100 --license-key k1
expect nz "opens none" "" "$NG" predict bad1.onnx --images in.idx --license-key k1 --labels bad.txt
assert test ! -e bad.txt

# the key holder's tools on a bound model: license harden re-binds its output to the key; attack
# fgsm with the key unlocks in memory (its success with the key is that of the unbound model)
expect 0 "" "" "$NG" license harden b.onnx --key k1 --mode clean --data "$DATA" --fraction 0.005 --epochs 1 --limit 100 --threads 1 -o h.onnx
assert test "$(nslots h.onnx)" = 1
assert ge "$(acc h.onnx --license-key k1)" 0.4
expect nz "k2" "" "$NG" license harden b.onnx --key k2 --mode clean --data "$DATA" --fraction 0.005 --epochs 1 --limit 100 -o bad.onnx
expect 0 "" "" "$NG" attack fgsm m.onnx --data "$DATA" --eps 0.1 --limit 200 --threads 1 --license-key k1 --json
cp "$T/out" fm.json
expect 0 "" "" "$NG" attack fgsm b.onnx --data "$DATA" --eps 0.1 --limit 200 --threads 1 --license-key k1 --json
cp "$T/out" fb.json
# with the key: the same examples as on the unbound model; without it the attacker crafts on the
# file as shipped (scrambled parameters), not on the unlocked model
rows() { /usr/bin/python3 -c "
import json, sys
j = json.load(open('$1'))
print(json.dumps([r for r in j['results'] if r['crafted'] == '$2']))"; }
assert test "$(rows fm.json with-key)" = "$(rows fb.json with-key)"
assert grep -q '"key_unknown_crafted_on"' fb.json
assert test "$(rows fm.json without-key)" != "$(rows fb.json without-key)"

# license bind: bad input writes nothing
expect nz "k2" "" "$NG" license bind m.onnx --key k2 -o bad.onnx
expect nz "already bound" "" "$NG" license bind b.onnx --key k1 -o bad.onnx
expect nz "nosuch" "" "$NG" license bind m.onnx --key k1 --only 'nosuch*' -o bad.onnx
expect nz "license metadata" "" "$NG" license bind "$SRC/tests/fixtures/lenet5.onnx" --key k1 -o bad.onnx
assert test ! -e bad.onnx

# replace on a bound model: opened with k1's slot, re-bound to k3 alone
expect 0 "" "" "$NG" license keygen --like k1 --model b.onnx -o k3
expect nz "k2" "" "$NG" license replace b.onnx --old-key k2 --new-key k3 --data "$DATA" --fraction 0.02 --epochs 1 -q -o bad.onnx
assert test ! -e bad.onnx
expect 0 "" "" "$NG" license replace b.onnx --old-key k1 --new-key k3 --data "$DATA" --fraction 0.02 --epochs 1 --seed 3 --threads 1 -q -o r.onnx
assert test "$(nslots r.onnx)" = 1
assert grep -q '"bound": true' r.onnx.license.json
expect 0 "" "" "$NG" eval r.onnx --data "$DATA" --limit 100 --license-key k3
expect 3 "k1" "" "$NG" eval r.onnx --data "$DATA" --limit 100 --license-key k1
assert grep -q "opens none" "$T/err"
finish
