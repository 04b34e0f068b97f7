#!/usr/bin/env bash
# tests/cli_seal.sh - `nnguard seal / unseal / identity new / license issue|verify` and eval / predict
# opening sealed models, end to end through the binary: round trips bit for bit (ONNX, safetensors,
# both AEADs, passphrase, lock then seal), eval of a sealed model with its key or a license scores
# exactly what the original scores; every refusal exits 3 (1 for a malformed file) with a message
# naming the tensor / field / license problem and writes no output: wrong key, flipped byte, truncated
# file, edited field, wrong / expired / forged / other-model / other-identity / other-issuer license.
# Also runs examples/run_sealed (the C API embedded in a program: path or buffer, key or license)
# and nnguard serve with a license (answers = predict on the plain model; an expired license refused).
# usage: bash tests/cli_seal.sh NNGUARD_BIN SOURCE_DIR FMNIST_DIR
. "$(dirname "$0")/lib.sh"

MODEL=$SRC/tests/fixtures/lenet5.onnx

same() { if cmp -s "$1" "$2"; then ok "$3"; else fail "$3: $1 and $2 differ"; fi; }
absent() { if [ -e "$1" ]; then fail "$2: $1 was written"; else ok "$2: no output"; fi; }

for cmd in seal unseal identity license "license issue" "license verify"; do
    # shellcheck disable=SC2086
    expect 0 "" "$cmd --help" "$NG" $cmd --help
done

"$NG" keygen -o "$T/k.key" >/dev/null && "$NG" keygen -o "$T/k2.key" >/dev/null || fail "keygen"
printf 'correct horse\n' >"$T/pass" && chmod 600 "$T/pass"

# ---- round trips ----
expect 0 "" "seal onnx (auto AEAD)" "$NG" seal "$MODEL" -o "$T/s.onnx" --key "$T/k.key"
expect 0 "" "unseal onnx" "$NG" unseal "$T/s.onnx" -o "$T/u.onnx" --key "$T/k.key"
same "$MODEL" "$T/u.onnx" "unseal gives the original file back"
[ "$(stat -c %a "$T/u.onnx")" = 600 ] && ok "unsealed output is 0600" || fail "unsealed output mode $(stat -c %a "$T/u.onnx")"
expect 0 "" "seal xchacha20poly1305" "$NG" seal "$MODEL" -o "$T/sx.onnx" --key "$T/k.key" --aead xchacha20poly1305
grep -q xchacha20poly1305 "$T/sx.onnx" && ok "AEAD recorded in the file" || fail "AEAD not recorded"
expect 0 "" "unseal xchacha20poly1305" "$NG" unseal "$T/sx.onnx" -o "$T/ux.onnx" --key "$T/k.key" --threads 1
same "$MODEL" "$T/ux.onnx" "xchacha20poly1305 round trip"
expect 0 "" "seal with a passphrase" "$NG" seal "$MODEL" -o "$T/sp.onnx" --passphrase-file "$T/pass"
expect 0 "" "unseal with a passphrase" "$NG" unseal "$T/sp.onnx" -o "$T/up.onnx" --passphrase-file "$T/pass"
same "$MODEL" "$T/up.onnx" "passphrase round trip"
expect 0 "" "convert to safetensors" "$NG" convert "$MODEL" -o "$T/m.safetensors"
expect 0 "" "seal safetensors" "$NG" seal "$T/m.safetensors" -o "$T/s.safetensors" --key "$T/k.key"
expect 0 "" "unseal safetensors" "$NG" unseal "$T/s.safetensors" -o "$T/u.safetensors" --key "$T/k.key"
same "$T/m.safetensors" "$T/u.safetensors" "safetensors round trip"
expect 0 "" "lock" "$NG" lock "$MODEL" -o "$T/l.onnx" --key "$T/k.key"
expect 0 "" "lock then seal" "$NG" seal "$T/l.onnx" -o "$T/ls.onnx" --key "$T/k.key"
expect 0 "" "unseal a locked+sealed model" "$NG" unseal "$T/ls.onnx" -o "$T/uls.onnx" --key "$T/k.key"
same "$T/l.onnx" "$T/uls.onnx" "unseal of lock+seal gives the locked file"
expect 3 "already sealed" "seal twice" "$NG" seal "$T/s.onnx" -o "$T/ss.onnx" --key "$T/k.key"
absent "$T/ss.onnx" "seal twice"
expect 3 "exists" "existing output without --force" "$NG" seal "$MODEL" -o "$T/s.onnx" --key "$T/k.key"

# ---- tampering: exit 3, named, nothing written ----
expect 3 "wrong key" "unseal with a wrong key" "$NG" unseal "$T/s.onnx" -o "$T/x1.onnx" --key "$T/k2.key"
absent "$T/x1.onnx" "wrong key"
cp "$T/s.onnx" "$T/flip.onnx"
flip_byte "$T/flip.onnx" 150000
expect 3 "fails authentication" "unseal a flipped byte" "$NG" unseal "$T/flip.onnx" -o "$T/x2.onnx" --key "$T/k.key"
grep -q "tensor 'f1.weight'" "$T/err" && ok "flipped byte: names tensor f1.weight" || fail "flipped byte: $(cat "$T/err")"
absent "$T/x2.onnx" "flipped byte"
head -c 200000 "$T/s.onnx" >"$T/cut.onnx"
expect 1 "" "unseal a truncated file" "$NG" unseal "$T/cut.onnx" -o "$T/x3.onnx" --key "$T/k.key"
absent "$T/x3.onnx" "truncated"
cp "$T/s.safetensors" "$T/ed.safetensors"
perl -0pi -e 's/("nnguard\.seal\.graph_mac":")(.)/$1 . ($2 eq "0" ? "1" : "0")/e' "$T/ed.safetensors"
expect 3 "field nnguard.seal.graph_mac was edited" "unseal an edited field" "$NG" unseal "$T/ed.safetensors" -o "$T/x4.safetensors" --key "$T/k.key"
absent "$T/x4.safetensors" "edited field"
expect 3 "fails authentication" "eval of a flipped byte" "$NG" eval "$T/flip.onnx" --key "$T/k.key" --data "$DATA" --limit 100

# ---- identities and licenses ----
expect 0 "" "identity new (issuer)" "$NG" identity new -o "$T/iss"
expect 0 "" "identity new (licensee)" "$NG" identity new -o "$T/me"
expect 0 "" "identity new (other)" "$NG" identity new -o "$T/other"
[ "$(stat -c %a "$T/me")" = 600 ] && ok "identity is 0600" || fail "identity mode $(stat -c %a "$T/me")"
expect 3 "exists" "identity never overwritten" "$NG" identity new -o "$T/me"
L=(--identity "$T/me" --issuer-pub "$T/iss.pub")
expect 0 "" "license issue" "$NG" license issue --issuer "$T/iss" --to "$T/me.pub" --model "$T/s.onnx" --key "$T/k.key" --expires 2099-12-31 -o "$T/lic"
expect 0 "" "license verify" "$NG" license verify "$T/lic" --issuer-pub "$T/iss.pub" --model "$T/s.onnx" --identity "$T/me"
expect 3 "wrong key" "license issue with a wrong key" "$NG" license issue --issuer "$T/iss" --to "$T/me.pub" --model "$T/s.onnx" --key "$T/k2.key" --expires 2099-12-31 -o "$T/licbad"
absent "$T/licbad" "license with a wrong key"
expect 0 "" "unseal with a license" "$NG" unseal "$T/s.onnx" -o "$T/ul.onnx" --license "$T/lic" "${L[@]}"
same "$MODEL" "$T/ul.onnx" "license round trip"
expect 0 "already expired" "license issue (expired)" "$NG" license issue --issuer "$T/iss" --to "$T/me.pub" --model "$T/s.onnx" --key "$T/k.key" --expires 2020-01-01 -o "$T/lic_old"
expect 0 "" "license issue (other model)" "$NG" license issue --issuer "$T/iss" --to "$T/me.pub" --model "$T/sx.onnx" --key "$T/k.key" --expires 2099-12-31 -o "$T/lic_sx"
expect 0 "" "license issue (other identity)" "$NG" license issue --issuer "$T/iss" --to "$T/other.pub" --model "$T/s.onnx" --key "$T/k.key" --expires 2099-12-31 -o "$T/lic_other"
expect 0 "" "license issue (lock + seal)" "$NG" license issue --issuer "$T/iss" --to "$T/me.pub" --model "$T/ls.onnx" --key "$T/k.key" --expires 2099-12-31 -o "$T/lic_ls"
sed 's/^expires: 2099/expires: 2098/' "$T/lic" >"$T/lic_forged"
expect 3 "expired on 2020-01-01" "expired license" "$NG" unseal "$T/s.onnx" -o "$T/x5.onnx" --license "$T/lic_old" "${L[@]}"
expect 3 "forged or was edited" "forged license" "$NG" unseal "$T/s.onnx" -o "$T/x5.onnx" --license "$T/lic_forged" "${L[@]}"
expect 3 "another model" "other-model license" "$NG" unseal "$T/s.onnx" -o "$T/x5.onnx" --license "$T/lic_sx" "${L[@]}"
expect 3 "another identity" "other-identity license" "$NG" unseal "$T/s.onnx" -o "$T/x5.onnx" --license "$T/lic_other" "${L[@]}"
expect 3 "not issued by this issuer" "other issuer" "$NG" unseal "$T/s.onnx" -o "$T/x5.onnx" --license "$T/lic" --identity "$T/me" --issuer-pub "$T/other.pub"
absent "$T/x5.onnx" "refused licenses"
# classes: a license granting some classes (signed), refused beyond the model's 10 classes or when edited
expect 0 "" "license issue --classes" "$NG" license issue --issuer "$T/iss" --to "$T/me.pub" --model "$T/s.onnx" --key "$T/k.key" --expires 2099-12-31 --classes 2,0-1 -o "$T/lic_c"
grep -q "classes 0,1,2" "$T/out" && ok "issue prints the classes" || fail "issue output: $(cat "$T/out")"
grep -qx "classes: 0,1,2" "$T/lic_c" && ok "license carries classes: 0,1,2" || fail "license classes line: $(grep classes "$T/lic_c")"
expect 0 "" "license verify (classes)" "$NG" license verify "$T/lic_c" --issuer-pub "$T/iss.pub"
grep -q "classes:  0,1,2" "$T/out" && ok "verify prints the classes" || fail "verify output: $(cat "$T/out")"
expect 2 "grants class 12 but the model has 10 classes" "license issue --classes beyond the model" "$NG" license issue --issuer "$T/iss" --to "$T/me.pub" --model "$T/s.onnx" --key "$T/k.key" --expires 2099-12-31 --classes 0,12 -o "$T/lic_c12"
absent "$T/lic_c12" "class beyond the model"
expect 2 "out of range" "license issue --classes 5000" "$NG" license issue --issuer "$T/iss" --to "$T/me.pub" --model "$T/s.onnx" --key "$T/k.key" --expires 2099-12-31 --classes 5000 -o "$T/lic_c12"
expect 2 "not a class list" "license issue --classes 1,x" "$NG" license issue --issuer "$T/iss" --to "$T/me.pub" --model "$T/s.onnx" --key "$T/k.key" --expires 2099-12-31 --classes 1,x -o "$T/lic_c12"
absent "$T/lic_c12" "bad class lists"
sed 's/^classes: 0,1,2$/classes: 0,1,2,3/' "$T/lic_c" >"$T/lic_c_more"
grep -v '^classes: ' "$T/lic_c" >"$T/lic_c_none"
expect 3 "forged or was edited" "license with an added class" "$NG" license verify "$T/lic_c_more" --issuer-pub "$T/iss.pub"
expect 3 "forged or was edited" "license with its classes line removed" "$NG" license verify "$T/lic_c_none" --issuer-pub "$T/iss.pub"
expect 3 "grants only some classes" "unseal to a file with a class-limited license" "$NG" unseal "$T/s.onnx" -o "$T/x8.onnx" --license "$T/lic_c" "${L[@]}"
absent "$T/x8.onnx" "class-limited unseal"
expect 0 "" "license issue (safetensors)" "$NG" license issue --issuer "$T/iss" --to "$T/me.pub" --model "$T/s.safetensors" --key "$T/k.key" --expires 2099-12-31 -o "$T/lic_st"
expect 0 "" "streamed unseal with a license" "$NG" unseal "$T/s.safetensors" -o "$T/ul.safetensors" --license "$T/lic_st" "${L[@]}"
grep -q streamed "$T/out" && ok "unseal streams safetensors" || fail "unseal did not stream: $(cat "$T/out")"
same "$T/m.safetensors" "$T/ul.safetensors" "streamed license round trip"
expect 3 "another model" "streamed unseal, other-model license" "$NG" unseal "$T/s.safetensors" -o "$T/x7.safetensors" --license "$T/lic" "${L[@]}"
absent "$T/x7.safetensors" "streamed, other-model license"
expect 0 "" "unseal safetensors in memory" "$NG" unseal "$T/s.safetensors" -o "$T/um.safetensors" --key "$T/k.key" --in-memory
same "$T/m.safetensors" "$T/um.safetensors" "in-memory unseal of a streamed seal"
expect 3 "expired" "license verify (expired)" "$NG" license verify "$T/lic_old" --issuer-pub "$T/iss.pub"
expect 3 "forged" "license verify (forged)" "$NG" license verify "$T/lic_forged" --issuer-pub "$T/iss.pub"
expect 3 "another model" "license verify (other model)" "$NG" license verify "$T/lic_sx" --issuer-pub "$T/iss.pub" --model "$T/s.onnx"
expect 2 "all three" "license without identity" "$NG" unseal "$T/s.onnx" -o "$T/x6.onnx" --license "$T/lic"
expect 3 "not sealed" "license on a plain model" "$NG" eval "$MODEL" --license "$T/lic" "${L[@]}" --data "$DATA" --limit 10

# ---- examples/run_sealed.c: the C API embedded in a program (path or memory buffer, key or license) ----
EX=$(dirname "$NG")/example_run_sealed
expect 0 "" "example: sealed file + key" "$EX" "$T/s.onnx" --key "$T/k.key" --compare "$MODEL"
grep -q "identical to" "$T/out" && ok "example: logits identical (key, path)" || fail "example (key): $(cat "$T/out")"
expect 0 "" "example: buffer + license, locked then sealed" "$EX" "$T/ls.onnx" --buffer --license "$T/lic_ls" "${L[@]}" --compare "$MODEL"
grep -q "identical to" "$T/out" && ok "example: logits identical (license, buffer)" || fail "example (license): $(cat "$T/out")"
expect 1 "expired" "example: expired license refused" "$EX" "$T/s.onnx" --buffer --license "$T/lic_old" "${L[@]}"
expect 0 "" "example: class-limited license" "$EX" "$T/s.onnx" --license "$T/lic_c" "${L[@]}"
grep "predicted:" "$T/out" | grep -qvE "[3-9]" && ok "example: class-limited license predicts only 0-2 ($(grep predicted: "$T/out"))" || fail "example class-limited: $(cat "$T/out")"
expect 1 "fails authentication" "example: flipped byte refused" "$EX" "$T/flip.onnx" --buffer --key "$T/k.key"

# ---- eval / predict open sealed models in memory ----
if [ -f "$DATA/t10k-images-idx3-ubyte.gz" ] || [ -f "$DATA/t10k-images-idx3-ubyte" ]; then
    acc() { "$NG" eval "$@" --data "$DATA" --limit 500 --json 2>/dev/null | grep -o '"accuracy": *[0-9.e-]*'; }
    A0=$(acc "$MODEL")
    A1=$(acc "$T/s.onnx" --key "$T/k.key")
    A2=$(acc "$T/s.onnx" --license "$T/lic" "${L[@]}")
    A3=$(acc "$T/ls.onnx" --license "$T/lic_ls" "${L[@]}")
    A4=$(acc "$T/ls.onnx" --key "$T/k.key")
    if [ -n "$A0" ] && [ "$A0" = "$A1" ] && [ "$A0" = "$A2" ] && [ "$A0" = "$A3" ] && [ "$A0" = "$A4" ]; then
        ok "eval of sealed / locked+sealed models with key or license: $A0 (same as the original)"
    else fail "eval: original '$A0', key '$A1', license '$A2', lock+seal license '$A3', lock+seal key '$A4'"; fi
    expect 3 "expired" "eval with an expired license" "$NG" eval "$T/s.onnx" --license "$T/lic_old" "${L[@]}" --data "$DATA" --limit 10
    IMG=$T/img.idx
    gzip -dc "$DATA/t10k-images-idx3-ubyte.gz" 2>/dev/null | head -c $((16 + 784 * 20)) >"$IMG"
    printf '\x00\x00\x00\x14' | dd of="$IMG" bs=1 seek=4 conv=notrunc status=none
    expect 0 "" "predict plain" "$NG" predict "$MODEL" --images "$IMG" --labels "$T/p0.txt"
    expect 0 "" "predict sealed with a license" "$NG" predict "$T/s.onnx" --images "$IMG" --labels "$T/p1.txt" --license "$T/lic" "${L[@]}"
    same "$T/p0.txt" "$T/p1.txt" "predict: same labels as the original"
    expect 3 "another identity" "predict with another identity's license" "$NG" predict "$T/s.onnx" --images "$IMG" --labels "$T/p2.txt" --license "$T/lic_other" "${L[@]}"
    absent "$T/p2.txt" "predict refused"
    # a license granting classes 0,1,2: every label in {0,1,2}, and the plain label where it was one of them
    expect 0 "" "predict with a class-limited license" "$NG" predict "$T/s.onnx" --images "$IMG" --labels "$T/pc.txt" --license "$T/lic_c" "${L[@]}"
    expect 3 "forged or was edited" "predict with an edited class list" "$NG" predict "$T/s.onnx" --images "$IMG" --labels "$T/pc2.txt" --license "$T/lic_c_more" "${L[@]}"
    absent "$T/pc2.txt" "predict with an edited class list"
    /usr/bin/python3 -c "
import sys
p=[int(l) for l in open(sys.argv[1])]; c=[int(l) for l in open(sys.argv[2])]
assert len(c)==len(p)==20 and all(x in (0,1,2) for x in c), c
assert all(b==a for a,b in zip(p,c) if a in (0,1,2)), (p,c)
assert any(a not in (0,1,2) for a in p), 'the images must include other classes for the test to mean something'
" "$T/p0.txt" "$T/pc.txt" && ok "class-limited predict: labels $(tr '\n' ' ' <"$T/pc.txt")in {0,1,2}" || fail "class-limited predict: $(tr '\n' ' ' <"$T/pc.txt")"
    CA=$("$NG" eval "$T/s.onnx" --license "$T/lic_c" "${L[@]}" --data "$DATA" --limit 500 --per-class --json 2>/dev/null)
    /usr/bin/python3 -c "
import json,sys
d=json.loads(sys.argv[1]); pc=d['per_class']
assert all(v==0 for v in pc[3:]) and all(v>0.5 for v in pc[:3]), pc
print(round(d['accuracy'],4), 'classes 3-9: 0')
" "$CA" >"$T/ca" 2>&1 && ok "eval with a class-limited license: accuracy $(cat "$T/ca")" || fail "eval class-limited: $CA"
    # serve: a sealed model opened with a license answers what predict computes on the plain model
    /usr/bin/python3 -c "import sys,array; px=open(sys.argv[1],'rb').read()[16:]; open(sys.argv[2],'wb').write(array.array('f',[b/255.0 for b in px]).tobytes())" "$IMG" "$T/img.f32"
    "$NG" serve "$T/s.onnx" --license "$T/lic" "${L[@]}" --port 0 --threads 2 >"$T/serve.out" 2>"$T/serve.err" &
    SPID=$!
    for _ in $(seq 300); do grep -q listening "$T/serve.out" 2>/dev/null && break; sleep 0.1; done
    PORT=$(grep -o '127\.0\.0\.1:[0-9]*' "$T/serve.out" | cut -d: -f2)
    if [ -n "$PORT" ]; then
        curl -s -X POST -H 'Content-Type: application/octet-stream' --data-binary @"$T/img.f32" \
             "http://127.0.0.1:$PORT/v1/predict" >"$T/serve.json"
        /usr/bin/python3 -c "import json,sys; a=json.load(open(sys.argv[1]))['labels']; b=[int(l) for l in open(sys.argv[2])]; sys.exit(a!=b)" \
            "$T/serve.json" "$T/p0.txt" && ok "serve with a license: same labels as the plain model" || fail "serve with a license: $(head -c 300 "$T/serve.json")"
    else
        fail "serve with a license did not start: $(cat "$T/serve.err")"
    fi
    kill -TERM "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null
    # serve with the class-limited license: classes 3..9 have probability 0, the rest sums to 1
    "$NG" serve "$T/s.onnx" --license "$T/lic_c" "${L[@]}" --port 0 --threads 2 >"$T/serve.out" 2>"$T/serve.err" &
    SPID=$!
    for _ in $(seq 300); do grep -q listening "$T/serve.out" 2>/dev/null && break; sleep 0.1; done
    PORT=$(grep -o '127\.0\.0\.1:[0-9]*' "$T/serve.out" | cut -d: -f2)
    if [ -n "$PORT" ]; then
        curl -s -X POST -H 'Content-Type: application/octet-stream' --data-binary @"$T/img.f32" \
             "http://127.0.0.1:$PORT/v1/predict" >"$T/serve.json"
        /usr/bin/python3 -c "
import json,sys
d=json.load(open(sys.argv[1])); P=d['probabilities']; lab=d['labels']
assert all(x in (0,1,2) for x in lab), lab
for p in P:
    assert all(v==0 for v in p[3:]) and abs(sum(p[:3])-1)<1e-4, p
" "$T/serve.json" && ok "serve with a class-limited license: classes 3-9 probability 0, labels in {0,1,2}" || fail "serve class-limited: $(head -c 400 "$T/serve.json")"
    else
        fail "serve with a class-limited license did not start: $(cat "$T/serve.err")"
    fi
    kill -TERM "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null
    expect 3 "expired" "serve with an expired license" "$NG" serve "$T/s.onnx" --license "$T/lic_old" "${L[@]}" --port 0
else
    echo "skip: eval/predict (no Fashion-MNIST at $DATA)"
fi

finish
