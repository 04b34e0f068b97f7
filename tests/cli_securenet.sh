#!/usr/bin/env bash
# cli_securenet: `nnguard license keygen|stamp|train|replace|info` and `eval|predict --license-key`
# end to end on tiny budgets (accuracy bounds: cli_securenet_train); stamping is deterministic;
# per-user/hierarchical write their keys and description; replacement hands the model to a new key.
# Attacks fgsm|pgd|backdoor and the defences (license harden) on tiny budgets.
# Bad input exits non-zero with a message naming the file or option, and writes nothing.
# ctest-label: slow
set -u
NG=$1; SRC=$2; DATA=$3
T=$(mktemp -d /tmp/nnguard-clisn-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail=0; pass=0
ok()   { if "$@"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAILED: $*" >&2; fi; }
code() { local want=$1; shift; "$@" >"$T/out" 2>"$T/err"; local got=$?
         if [ "$got" = "$want" ]; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAILED (exit $got, wanted $want): $*" >&2; cat "$T/err" >&2; fi; }
M=$SRC/tests/fixtures/lenet5.onnx
cd "$T"

code 0 "$NG" license --help
ok grep -q replace "$T/out"
code 2 "$NG" license nosuch
code 0 "$NG" license train --help
code 0 "$NG" license keygen -o k1
ok test "$(stat -c %a k1)" = 600
code 0 "$NG" license keygen -o k2
code 3 "$NG" license keygen -o k1
code 0 "$NG" keygen --bits 128 -o k128
printf 'nnguard-key v1\nbits: 256\nkey: 00\n' > kbad; chmod 600 kbad

# the images stamped from the CLI: deterministic, and different from the input
/usr/bin/python3 -c "
import gzip, struct, sys
b = gzip.open('$DATA/t10k-images-idx3-ubyte.gz').read(16 + 20 * 784)
sys.stdout.buffer.write(struct.pack('>IIII', 2051, 20, 28, 28) + b[16:])" > in.idx
code 0 "$NG" license stamp --key k1 --images in.idx -o s1.idx
ok grep -q "stamped 20 images (patch)" "$T/out"
code 0 "$NG" license stamp --key k1 --images in.idx -o s2.idx
ok cmp -s s1.idx s2.idx
ok test "$(stat -c %s s1.idx)" = "$(stat -c %s in.idx)"
ok test "$(cmp -l in.idx s1.idx | wc -l)" -ge 20
code 0 "$NG" license stamp --key k2 --images in.idx -o s3.idx
ok test "$(cmp -l s1.idx s3.idx | wc -l)" -ge 20
code 0 "$NG" license stamp --key k1 --images in.idx --stamp blend --alpha 0.2 -o b1.idx
# bad input: nothing written
code 2 "$NG" license stamp --key k1 --images in.idx --patch 30 -o bad.idx
ok grep -q "does not fit" "$T/err"
code 3 "$NG" license stamp --key k128 --images in.idx -o bad.idx
ok grep -q "k128.*256 bits" "$T/err"
code 3 "$NG" license stamp --key kbad --images in.idx -o bad.idx
ok grep -q "kbad" "$T/err"
ok test ! -e bad.idx

# license training (single key)
code 0 "$NG" license train --scheme single --arch lenet5 --key k1 --data "$DATA" --fraction 0.01 --epochs 1 --seed 3 -q -o m.onnx
ok test -s m.onnx -a -s m.onnx.license.json
ok grep -q '"scheme": "single"' m.onnx.license.json
KEYHEX=$(sed -n 's/^key: //p' k1)
ok test -n "$KEYHEX"
ok test "$(grep -c "$KEYHEX" m.onnx.license.json m.onnx | grep -v ':0' | wc -l)" = 0   # never the key
code 0 "$NG" license info m.onnx
ok grep -q "scheme single, stamp patch 4x4" "$T/out"
code 0 "$NG" predict m.onnx --images in.idx --license-key k1 --labels p1.txt
ok test "$(wc -l < p1.txt)" = 20
code 0 "$NG" eval m.onnx --data "$DATA" --limit 100 --license-key k2
ok grep -q "not one of" "$T/err"

# attacks: random keys fail; reverse-trigger runs on licensed models only
code 0 "$NG" attack keyguess m.onnx --data "$DATA" --trials 2 --limit 200 --json
ok grep -q '"trials": 2' "$T/out"
code 0 "$NG" attack reverse-trigger m.onnx --data "$DATA" --count 200 --epochs 1 --limit 200 --json
ok grep -q '"mode": "patch"' "$T/out"
code 3 "$NG" attack reverse-trigger "$M" --data "$DATA"
ok grep -q "no SecureNet license metadata" "$T/err"

# bad input to train / eval: message names the option or file, nothing written
code 2 "$NG" license train --scheme double --arch lenet5 --key k1 --data "$DATA" -o x.onnx
ok grep -q "unknown license scheme 'double'" "$T/err"
code 2 "$NG" license train --scheme class-subset --grant 0,12 --arch lenet5 --key k1 --data "$DATA" -o x.onnx
ok grep -q -- "--grant" "$T/err"
code 2 "$NG" license train --scheme hierarchical --tiers "0-9;0-4;5-10" --arch lenet5 --keys-out kd --data "$DATA" -o x.onnx
ok grep -q -- "--tiers" "$T/err"
code 3 "$NG" license train --scheme single --arch lenet5 --key k128 --data "$DATA" -o x.onnx
ok grep -q "256 bits" "$T/err"
code 2 "$NG" license train --scheme single --arch lenet5 --key k1 --patch 30 --data "$DATA" --fraction 0.01 --epochs 1 -o x.onnx
ok grep -q "does not fit" "$T/err"
ok test ! -e x.onnx -a ! -e x.onnx.license.json -a ! -e kd
code 3 "$NG" eval "$M" --data "$DATA" --limit 10 --license-key k1
ok grep -q "lenet5.onnx.*no SecureNet license metadata" "$T/err"
code 3 "$NG" predict "$M" --images in.idx --license-key k1 --labels p2.txt
ok test ! -e p2.txt
code 3 "$NG" eval m.onnx --data "$DATA" --limit 10 --license-key kbad

# per-user and hierarchical write their keys (0600) and the description
code 0 "$NG" license train --scheme per-user --users 3 --arch lenet5 --keys-out ku --data "$DATA" --fraction 0.01 --epochs 1 -q -o u.onnx
ok test -s ku/user-1.key -a -s ku/user-3.key -a ! -e ku/user-4.key
ok test "$(stat -c %a ku/user-2.key)" = 600
ok test "$(grep -c '"id"' u.onnx.license.json)" = 3
code 0 "$NG" license train --scheme hierarchical --tiers "0-9;0-4;5-9" --arch lenet5 --keys-out kh --data "$DATA" --fraction 0.01 --epochs 1 -q -o h.onnx
ok test -s kh/master.key -a -s kh/tier-1.key -a -s kh/tier-2.key
code 0 "$NG" license info h.onnx
ok grep -q ":3ff,.*:1f,.*:3e0" "$T/out"
code 3 "$NG" license train --scheme hierarchical --tiers "0-9;0-4;5-9" --arch lenet5 --keys-out kh --data "$DATA" --fraction 0.01 --epochs 1 -q -o h2.onnx
ok grep -q "never overwritten" "$T/err"
ok test ! -e h2.onnx

# key replacement: k2 takes over from k1
code 3 "$NG" license replace m.onnx --old-key k2 --new-key k1 --data "$DATA" -o r.onnx
ok grep -q "k2: this license key" "$T/err"
ok test ! -e r.onnx
code 0 "$NG" license replace m.onnx --old-key k1 --new-key k2 --data "$DATA" --fraction 0.01 --epochs 1 -q -o r.onnx
ID2=$("$NG" license info r.onnx | sed -n 's/^keys (id:granted class mask): \([0-9a-f]*\):.*/\1/p')
ok test -n "$ID2"
ok grep -q "\"id\": \"$ID2\"" r.onnx.license.json
# adversarial examples: eps 0 flips nothing, PGD flips at least as many as FGSM (fixture, 300 images)
jf() { /usr/bin/python3 -c "import json,sys; d=json.load(open('$T/out')); print(d$1)"; }
code 0 "$NG" attack fgsm "$M" --data "$DATA" --limit 300 --eps 0 --json
ok test "$(jf "['results'][0]['flipped']")" = 0
code 0 "$NG" attack fgsm "$M" --data "$DATA" --limit 300 --eps 0.1 --json
F1=$(jf "['results'][0]['flipped']")
ok test "$F1" -ge 100 -a "$F1" -le 240
code 0 "$NG" attack pgd "$M" --data "$DATA" --limit 300 --eps 0.1 --steps 10 --json
ok test "$(jf "['results'][0]['flipped']")" -ge "$F1"
# on the licensed model: a row crafted with the key and one without
code 0 "$NG" attack fgsm m.onnx --data "$DATA" --limit 100 --license-key k1 --json
ok test "$(jf "[\"results\"][1][\"crafted\"]")" = without-key
# backdoor and the defences write models that keep the license metadata
code 0 "$NG" attack backdoor m.onnx --data "$DATA" --count 300 --epochs 1 --limit 100 --license-key k1 --insider --target 3 -o bd.onnx --json
ok grep -q '"with_key"' "$T/out"
code 0 "$NG" license info bd.onnx
ok grep -q "scheme single" "$T/out"
code 0 "$NG" license harden bd.onnx --key k1 --data "$DATA" --fraction 0.005 --epochs 1 --steps 2 --limit 100 --backdoor-target 3 -o hd.onnx --json
ok grep -q '"backdoor_success_key"' "$T/out"
code 0 "$NG" license harden bd.onnx --key k1 --mode clean --data "$DATA" --fraction 0.005 --epochs 1 --limit 100 -o hc.onnx
ok grep -q "license clean fine-tuning" "$T/out"
code 0 "$NG" license info hd.onnx
ok grep -q "scheme single" "$T/out"

# bad input to the attacks and defences: a clear message naming the file or option, non-zero, nothing written
code 2 "$NG" attack nosuch "$M"
ok grep -q "unknown attack 'nosuch'" "$T/err"
code 2 "$NG" attack fgsm "$M" --eps 2
ok grep -q -- "--eps" "$T/err"
code 2 "$NG" attack fgsm "$M" --steps 5
ok grep -q -- "--steps is for pgd" "$T/err"
code 3 "$NG" attack fgsm "$M" --data "$DATA" --limit 10 --license-key k1
ok grep -q "lenet5.onnx.*no SecureNet license metadata" "$T/err"
code 3 "$NG" attack pgd m.onnx --data "$DATA" --limit 10 --license-key k128
ok grep -q "k128.*256 bits" "$T/err"
code 3 "$NG" attack backdoor m.onnx --data "$DATA" --count 100 --license-key kbad -o x.onnx
ok grep -q "kbad" "$T/err"
code 2 "$NG" attack backdoor m.onnx --data "$DATA" --count 100 --epochs 1 --target 10 -o x.onnx
ok grep -q -- "--target 10 is not a class" "$T/err"
code 2 "$NG" attack backdoor m.onnx --data "$DATA" --count 100 --insider -o x.onnx
ok grep -q -- "--insider needs --license-key" "$T/err"
code 2 "$NG" attack backdoor m.onnx --data "$DATA" --count 100
ok grep -q -- "-o OUT" "$T/err"
code 3 "$NG" attack backdoor m.onnx --data "$DATA" --count 100 -o bd.onnx
ok grep -q "bd.onnx.*exists" "$T/err"
code 3 "$NG" license harden "$M" --key k1 --data "$DATA" -o x.onnx
ok grep -q "lenet5.onnx.*no SecureNet license metadata" "$T/err"
code 3 "$NG" license harden m.onnx --key k2 --data "$DATA" -o x.onnx
ok grep -q "k2" "$T/err"
code 3 "$NG" license harden m.onnx --key k128 --data "$DATA" -o x.onnx
ok grep -q "k128.*256 bits" "$T/err"
code 2 "$NG" license harden m.onnx --key k1 --data "$DATA" --backdoor-target 10 -o x.onnx
ok grep -q -- "--backdoor-target 10" "$T/err"
code 2 "$NG" license harden m.onnx --key k1 --mode fancy -o x.onnx
ok grep -q -- "--mode" "$T/err"
code 2 "$NG" license train --scheme class-subset --grant 10 --arch lenet5 --key k1 --data "$DATA" -o x.onnx
ok grep -q -- "--grant" "$T/err"
code 2 "$NG" license train --scheme single --arch lenet5 --key k1 --stamp blend --alpha 1.5 --data "$DATA" -o x.onnx
ok grep -q -- "--alpha" "$T/err"
code 3 "$NG" license replace m.onnx --old-key k1 --new-key kbad --data "$DATA" -o x.onnx
ok grep -q "kbad" "$T/err"
code 2 "$NG" license stamp --key k1 --images in.idx --patch 29 -o x.idx
ok grep -q "does not fit" "$T/err"
ok test ! -e x.onnx -a ! -e x.onnx.license.json -a ! -e x.idx
echo "$pass passed, $fail failed"
test "$fail" = 0
