#!/usr/bin/env bash
# cli_securenet: `nnguard license keygen|stamp|train|replace|info` and `eval|predict --license-key`
# end to end on tiny budgets (accuracy bounds: cli_securenet_train); stamping is deterministic;
# per-user/hierarchical write their keys and description; replacement hands the model to a new key.
# Attacks fgsm|pgd|backdoor and the defences (license harden) on tiny budgets.
# Bad input exits non-zero with a message naming the file or option, and writes nothing.
# ctest-label: slow
. "$(dirname "$0")/lib.sh"
M=$SRC/tests/fixtures/lenet5.onnx
cd "$T"

expect 0 "" "" "$NG" license --help
assert grep -q replace "$T/out"
expect 2 "" "" "$NG" license nosuch
expect 0 "" "" "$NG" license train --help
expect 0 "" "" "$NG" license keygen -o k1
assert test "$(stat -c %a k1)" = 600
expect 0 "" "" "$NG" license keygen -o k2
expect 3 "" "" "$NG" license keygen -o k1
expect 0 "" "" "$NG" keygen --bits 128 -o k128
printf 'nnguard-key v1\nbits: 256\nkey: 00\n' > kbad; chmod 600 kbad

# the images stamped from the CLI: deterministic, and different from the input
/usr/bin/python3 -c "
import gzip, struct, sys
b = gzip.open('$DATA/t10k-images-idx3-ubyte.gz').read(16 + 20 * 784)
sys.stdout.buffer.write(struct.pack('>IIII', 2051, 20, 28, 28) + b[16:])" > in.idx
# one 4 x 4 place for two stamps: the pixels either key changes fit one 4 x 4 window
same_place() {
    rm -f sa.idx sb.idx
    "$NG" license stamp --key "$1" --images in.idx -o sa.idx >/dev/null && "$NG" license stamp --key "$2" --images in.idx -o sb.idx >/dev/null &&
    /usr/bin/python3 -c "
i, a, b = (open(f, 'rb').read()[16:] for f in ('in.idx', 'sa.idx', 'sb.idx'))
d = [k % 784 for k in range(len(i)) if a[k] != i[k] or b[k] != i[k]]
r = [k // 28 for k in d]; c = [k % 28 for k in d]
raise SystemExit(0 if d and max(r) - min(r) < 4 and max(c) - min(c) < 4 and a != b else 1)"
}

while same_place k1 k2; do rm -f k2; "$NG" license keygen -o k2 >/dev/null; done   # 1 in 625: k2 where k1 is
expect 0 "" "" "$NG" license stamp --key k1 --images in.idx -o s1.idx
assert grep -q "stamped 20 images (patch)" "$T/out"
expect 0 "" "" "$NG" license stamp --key k1 --images in.idx -o s2.idx
assert cmp -s s1.idx s2.idx
assert test "$(stat -c %s s1.idx)" = "$(stat -c %s in.idx)"
assert test "$(cmp -l in.idx s1.idx | wc -l)" -ge 20
expect 0 "" "" "$NG" license stamp --key k2 --images in.idx -o s3.idx
assert test "$(cmp -l s1.idx s3.idx | wc -l)" -ge 20
expect 0 "" "" "$NG" license stamp --key k1 --images in.idx --stamp blend --alpha 0.2 -o b1.idx
# bad input: nothing written
expect 2 "" "" "$NG" license stamp --key k1 --images in.idx --patch 30 -o bad.idx
assert grep -q "does not fit" "$T/err"
expect 3 "" "" "$NG" license stamp --key k128 --images in.idx -o bad.idx
assert grep -q "k128.*256 bits" "$T/err"
expect 3 "" "" "$NG" license stamp --key kbad --images in.idx -o bad.idx
assert grep -q "kbad" "$T/err"
assert test ! -e bad.idx

# license training (single key)
expect 0 "" "" "$NG" license train --scheme single --arch lenet5 --key k1 --data "$DATA" --fraction 0.01 --epochs 1 --seed 3 -q -o m.onnx
assert test -s m.onnx -a -s m.onnx.license.json
assert grep -q '"scheme": "single"' m.onnx.license.json
KEYHEX=$(sed -n 's/^key: //p' k1)
assert test -n "$KEYHEX"
assert test "$(grep -c "$KEYHEX" m.onnx.license.json m.onnx | grep -v ':0' | wc -l)" = 0   # never the key
expect 0 "" "" "$NG" license info m.onnx
assert grep -q "scheme single, stamp patch 4x4" "$T/out"
expect 0 "" "" "$NG" predict m.onnx --images in.idx --license-key k1 --labels p1.txt
assert test "$(wc -l < p1.txt)" = 20
expect 0 "" "" "$NG" eval m.onnx --data "$DATA" --limit 100 --license-key k2
assert grep -q "not one of" "$T/err"

# attacks: random keys fail; reverse-trigger runs on licensed models only
expect 0 "" "" "$NG" attack keyguess m.onnx --data "$DATA" --trials 2 --limit 200 --json
assert grep -q '"trials": 2' "$T/out"
expect 0 "" "" "$NG" attack reverse-trigger m.onnx --data "$DATA" --count 200 --epochs 1 --limit 200 --json
assert grep -q '"mode": "patch"' "$T/out"
expect 3 "" "" "$NG" attack reverse-trigger "$M" --data "$DATA"
assert grep -q "no SecureNet license metadata" "$T/err"

# bad input to train / eval: message names the option or file, nothing written
expect 2 "" "" "$NG" license train --scheme double --arch lenet5 --key k1 --data "$DATA" -o x.onnx
assert grep -q "unknown license scheme 'double'" "$T/err"
expect 2 "" "" "$NG" license train --scheme class-subset --grant 0,12 --arch lenet5 --key k1 --data "$DATA" -o x.onnx
assert grep -q -- "--grant" "$T/err"
expect 2 "" "" "$NG" license train --scheme hierarchical --tiers "0-9;0-4;5-10" --arch lenet5 --keys-out kd --data "$DATA" -o x.onnx
assert grep -q -- "--tiers" "$T/err"
expect 3 "" "" "$NG" license train --scheme single --arch lenet5 --key k128 --data "$DATA" -o x.onnx
assert grep -q "256 bits" "$T/err"
expect 2 "" "" "$NG" license train --scheme single --arch lenet5 --key k1 --patch 30 --data "$DATA" --fraction 0.01 --epochs 1 -o x.onnx
assert grep -q "does not fit" "$T/err"
assert test ! -e x.onnx -a ! -e x.onnx.license.json -a ! -e kd
expect 3 "" "" "$NG" eval "$M" --data "$DATA" --limit 10 --license-key k1
assert grep -q "lenet5.onnx.*no SecureNet license metadata" "$T/err"
expect 3 "" "" "$NG" predict "$M" --images in.idx --license-key k1 --labels p2.txt
assert test ! -e p2.txt
expect 3 "" "" "$NG" eval m.onnx --data "$DATA" --limit 10 --license-key kbad

# per-user and hierarchical write their keys (0600) and the description
expect 0 "" "" "$NG" license train --scheme per-user --users 3 --deny-class 1 --arch lenet5 --keys-out ku --data "$DATA" --fraction 0.01 --epochs 1 -q -o u.onnx
assert grep -q '"deny_class": 1,' u.onnx.license.json
# license replace keeps the model's deny class (nnguard.license.deny)
expect 0 "" "" "$NG" license replace u.onnx --old-key ku/user-1.key --new-key k1 --data "$DATA" --fraction 0.01 --epochs 1 -q -o ur.onnx
assert grep -q '"deny_class": 1,' ur.onnx.license.json
expect nz "" "" "$NG" license train --scheme single --deny-class 10 --arch lenet5 --key k1 --data "$DATA" --fraction 0.01 --epochs 1 -q -o xd.onnx
assert grep -q "deny class 10" "$T/err"
assert test ! -e xd.onnx -a ! -e xd.onnx.license.json
# --schedule reaches the training: cosine halves epoch 2's rate, so its model differs from const's
expect 0 "" "" "$NG" license train --scheme single --arch lenet5 --key k1 --data "$DATA" --fraction 0.01 --epochs 2 --schedule const -q -o sc.onnx
expect 0 "" "" "$NG" license train --scheme single --arch lenet5 --key k1 --data "$DATA" --fraction 0.01 --epochs 2 --schedule cosine -q -o sk.onnx
assert grep -q '"schedule": "const",' sc.onnx.license.json
assert grep -q '"schedule": "cosine",' sk.onnx.license.json
assert test "$(cksum < sc.onnx)" != "$(cksum < sk.onnx)"
assert grep -q '"schedule": "cosine",' ur.onnx.license.json   # license replace: cosine by default
expect 2 "" "" "$NG" license train --scheme single --arch lenet5 --key k1 --data "$DATA" --fraction 0.01 --epochs 2 --schedule linear -q -o sx.onnx
assert grep -q "schedule is const, step or cosine, not 'linear'" "$T/err"
assert test ! -e sx.onnx -a ! -e sx.onnx.license.json
assert test -s ku/user-1.key -a -s ku/user-3.key -a ! -e ku/user-4.key
assert test "$(stat -c %a ku/user-2.key)" = 600
assert test "$(grep -c '"id"' u.onnx.license.json)" = 3
assert same_place ku/user-1.key ku/user-3.key   # one license, one place (ng_license_key_align)
expect 0 "" "" "$NG" license train --scheme hierarchical --tiers "0-9;0-4;5-9" --arch lenet5 --keys-out kh --data "$DATA" --fraction 0.01 --epochs 1 -q -o h.onnx
assert test -s kh/master.key -a -s kh/tier-1.key -a -s kh/tier-2.key
expect 0 "" "" "$NG" license info h.onnx
assert grep -q ":3ff,.*:1f,.*:3e0" "$T/out"
expect 3 "" "" "$NG" license train --scheme hierarchical --tiers "0-9;0-4;5-9" --arch lenet5 --keys-out kh --data "$DATA" --fraction 0.01 --epochs 1 -q -o h2.onnx
assert grep -q "never overwritten" "$T/err"
assert test ! -e h2.onnx

# key replacement: k2 takes over from k1
expect 3 "" "" "$NG" license replace m.onnx --old-key k2 --new-key k1 --data "$DATA" -o r.onnx
assert grep -q "k2: this license key" "$T/err"
assert test ! -e r.onnx
expect 0 "" "" "$NG" license replace m.onnx --old-key k1 --new-key k2 --data "$DATA" --fraction 0.01 --epochs 1 -q -o r.onnx
assert grep -q "keygen --like k1 --model m.onnx" "$T/err"   # k2 stamps elsewhere: the note says how to do better
# keygen --like: a key stamped where k1 is (other values); replace then has nothing to note
expect 2 "" "" "$NG" license keygen --like k1 -o k3
expect 0 "" "" "$NG" license keygen --like k1 --model m.onnx -o k3
expect 3 "" "" "$NG" license keygen --like kbad --model m.onnx -o k4
assert grep -q "kbad" "$T/err"
assert test ! -e k4
expect 0 "" "" "$NG" license replace m.onnx --old-key k1 --new-key k3 --data "$DATA" --fraction 0.01 --epochs 1 -q -o r3.onnx
assert test "$(grep -c "keygen --like" "$T/err")" = 0
assert same_place k1 k3
# replacement's rate is recorded: LeNet-5's default 0.03 (no BatchNormalization: test_securenet checks
# the rule), or --lr's
assert grep -q '"lr": 0.03,' r3.onnx.license.json
expect 0 "" "" "$NG" license replace m.onnx --old-key k1 --new-key k3 --data "$DATA" --fraction 0.01 --epochs 1 --lr 0.02 -q -o r4.onnx
assert grep -q '"lr": 0.02,' r4.onnx.license.json
expect 0 "" "" "$NG" license replace m.onnx --old-key k1 --new-key k3 --data "$DATA" --fraction 0.01 --epochs 1 --lr 1e-7 -q -o r5.onnx
assert grep -q '"lr": 1e-7,' r5.onnx.license.json   # a small rate is not rounded away
assert test "$(same_place k1 k2; echo $?)" = 1
ID2=$("$NG" license info r.onnx | sed -n 's/^keys (id:granted class mask): \([0-9a-f]*\):.*/\1/p')
assert test -n "$ID2"
assert grep -q "\"id\": \"$ID2\"" r.onnx.license.json
# adversarial examples: eps 0 flips nothing, PGD flips at least as many as FGSM (fixture, 300 images)
jf() { /usr/bin/python3 -c "import json,sys; d=json.load(open('$T/out')); print(d$1)"; }
expect 0 "" "" "$NG" attack fgsm "$M" --data "$DATA" --limit 300 --eps 0 --json
assert test "$(jf "['results'][0]['flipped']")" = 0
expect 0 "" "" "$NG" attack fgsm "$M" --data "$DATA" --limit 300 --eps 0.1 --json
F1=$(jf "['results'][0]['flipped']")
assert test "$F1" -ge 100 -a "$F1" -le 240
expect 0 "" "" "$NG" attack pgd "$M" --data "$DATA" --limit 300 --eps 0.1 --steps 10 --json
assert test "$(jf "['results'][0]['flipped']")" -ge "$F1"
# on the licensed model: a row crafted with the key and one without
expect 0 "" "" "$NG" attack fgsm m.onnx --data "$DATA" --limit 100 --license-key k1 --json
assert test "$(jf "[\"results\"][1][\"crafted\"]")" = without-key
# backdoor and the defences write models that keep the license metadata
expect 0 "" "" "$NG" attack backdoor m.onnx --data "$DATA" --count 300 --epochs 1 --limit 100 --license-key k1 --insider --target 3 -o bd.onnx --json
assert grep -q '"with_key"' "$T/out"
expect 0 "" "" "$NG" license info bd.onnx
assert grep -q "scheme single" "$T/out"
expect 0 "" "" "$NG" license harden bd.onnx --key k1 --data "$DATA" --fraction 0.005 --epochs 1 --steps 2 --limit 100 --backdoor-target 3 -o hd.onnx --json
assert grep -q '"backdoor_success_key"' "$T/out"
expect 0 "" "" "$NG" license harden bd.onnx --key k1 --mode clean --data "$DATA" --fraction 0.005 --epochs 1 --limit 100 -o hc.onnx
assert grep -q "license clean fine-tuning" "$T/out"
expect 0 "" "" "$NG" license info hd.onnx
assert grep -q "scheme single" "$T/out"

# bad input to the attacks and defences: a clear message naming the file or option, non-zero, nothing written
expect 2 "" "" "$NG" attack nosuch "$M"
assert grep -q "unknown attack 'nosuch'" "$T/err"
expect 2 "" "" "$NG" attack fgsm "$M" --eps 2
assert grep -q -- "--eps" "$T/err"
expect 2 "" "" "$NG" attack fgsm "$M" --steps 5
assert grep -q -- "--steps is for pgd" "$T/err"
expect 3 "" "" "$NG" attack fgsm "$M" --data "$DATA" --limit 10 --license-key k1
assert grep -q "lenet5.onnx.*no SecureNet license metadata" "$T/err"
expect 3 "" "" "$NG" attack pgd m.onnx --data "$DATA" --limit 10 --license-key k128
assert grep -q "k128.*256 bits" "$T/err"
expect 3 "" "" "$NG" attack backdoor m.onnx --data "$DATA" --count 100 --license-key kbad -o x.onnx
assert grep -q "kbad" "$T/err"
expect 2 "" "" "$NG" attack backdoor m.onnx --data "$DATA" --count 100 --epochs 1 --target 10 -o x.onnx
assert grep -q -- "--target 10 is not a class" "$T/err"
expect 2 "" "" "$NG" attack backdoor m.onnx --data "$DATA" --count 100 --insider -o x.onnx
assert grep -q -- "--insider needs --license-key" "$T/err"
expect 2 "" "" "$NG" attack backdoor m.onnx --data "$DATA" --count 100
assert grep -q -- "-o OUT" "$T/err"
expect 3 "" "" "$NG" attack backdoor m.onnx --data "$DATA" --count 100 -o bd.onnx
assert grep -q "bd.onnx.*exists" "$T/err"
expect 3 "" "" "$NG" license harden "$M" --key k1 --data "$DATA" -o x.onnx
assert grep -q "lenet5.onnx.*no SecureNet license metadata" "$T/err"
expect 3 "" "" "$NG" license harden m.onnx --key k2 --data "$DATA" -o x.onnx
assert grep -q "k2" "$T/err"
expect 3 "" "" "$NG" license harden m.onnx --key k128 --data "$DATA" -o x.onnx
assert grep -q "k128.*256 bits" "$T/err"
expect 2 "" "" "$NG" license harden m.onnx --key k1 --data "$DATA" --backdoor-target 10 -o x.onnx
assert grep -q -- "--backdoor-target 10" "$T/err"
expect 2 "" "" "$NG" license harden m.onnx --key k1 --mode fancy -o x.onnx
assert grep -q -- "--mode" "$T/err"
expect 2 "" "" "$NG" license train --scheme class-subset --grant 10 --arch lenet5 --key k1 --data "$DATA" -o x.onnx
assert grep -q -- "--grant" "$T/err"
expect 2 "" "" "$NG" license train --scheme single --arch lenet5 --key k1 --stamp blend --alpha 1.5 --data "$DATA" -o x.onnx
assert grep -q -- "--alpha" "$T/err"
expect 3 "" "" "$NG" license replace m.onnx --old-key k1 --new-key kbad --data "$DATA" -o x.onnx
assert grep -q "kbad" "$T/err"
expect 2 "" "" "$NG" license stamp --key k1 --images in.idx --patch 29 -o x.idx
assert grep -q "does not fit" "$T/err"
assert test ! -e x.onnx -a ! -e x.onnx.license.json -a ! -e x.idx

# eval-scheme securenet records its schedule and the replacement's rate (--schedule, --replace-lr)
expect 0 "" "" "$NG" eval-scheme securenet --arch lenet5 --train-count 600 --train-epochs 2 --schedule cosine \
    --parts single,replace --replace-lr 0.005 --trials 2 --limit 300 --data "$DATA" --workdir es -o es.json
check "'$(jget es.json "['schedule']")' == 'cosine'" "eval-scheme: schedule recorded"
check "$(jget es.json "['models'][0]['replacement']['lr']") == 0.005" "eval-scheme: replacement rate recorded"
assert grep -q "SGD at 0.005" "$T/out"
expect 2 "" "" "$NG" eval-scheme securenet --replace-lr 0 --data "$DATA" -o es2.json
assert grep -q -- "--replace-lr" "$T/err"
expect 2 "" "" "$NG" eval-scheme securenet --schedule slow --data "$DATA" -o es2.json
assert grep -q "schedule is const, step or cosine, not 'slow'" "$T/err"
assert test ! -e es2.json
finish
