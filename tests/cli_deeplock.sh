#!/usr/bin/env bash
# tests/cli_deeplock.sh - `nnguard keygen / lock / unlock` and `eval --key` end to end through the binary:
# round trips bit for bit (ONNX and safetensors, ctr and expand, --paper-exact, passphrase), exit code
# 3 and no OUT on a wrong key, on an edited graph (unlock and eval --key) and on corrupted data;
# double-locked/plain inputs refused, two locks with one key differ, a format 2 file unlocks with a
# warning, key file permissions, and a locked model evaluated with its key scores exactly what the
# original scores.
# usage: bash tests/cli_deeplock.sh NNGUARD_BIN SOURCE_DIR FMNIST_DIR
. "$(dirname "$0")/lib.sh"

MODEL=$SRC/tests/fixtures/lenet5.onnx

same() { if cmp -s "$1" "$2"; then ok "$3"; else fail "$3: $1 and $2 differ"; fi; }

for cmd in keygen lock unlock; do
    expect 0 "" "$cmd --help" "$NG" "$cmd" --help
    grep -q "usage: nnguard $cmd" "$T/out" || fail "$cmd --help prints no usage"
done

# ---- keys ----
expect 0 "" "keygen 256" "$NG" keygen -o "$T/k.key"
expect 0 "" "keygen 128" "$NG" keygen -o "$T/k128.key" --bits 128
expect 0 "" "keygen other" "$NG" keygen -o "$T/k2.key"
[ "$(stat -c %a "$T/k.key")" = 600 ] && ok "key file mode 0600" || fail "key file mode $(stat -c %a "$T/k.key")"
cp "$T/k.key" "$T/k.copy"
expect 3 "already exists" "keygen refuses to overwrite" "$NG" keygen -o "$T/k.key"
same "$T/k.key" "$T/k.copy" "key file untouched after refused keygen"
expect 2 "" "keygen --bits 100 is a usage error" "$NG" keygen -o "$T/x.key" --bits 100

# ---- ONNX, ctr ----
expect 0 "" "lock onnx" "$NG" lock "$MODEL" -o "$T/l.onnx" --key "$T/k.key"
cmp -s "$MODEL" "$T/l.onnx" && fail "locked onnx equals the original"
expect 0 "" "unlock onnx" "$NG" unlock "$T/l.onnx" -o "$T/u.onnx" --key "$T/k.key"
"$NG" info "$MODEL" > "$T/info_orig" 2>&1
"$NG" info "$T/u.onnx" > "$T/info_un" 2>&1
ID_ORIG=$(grep -io 'model id[^0-9a-f]*[0-9a-f]\{64\}' "$T/info_orig" | grep -o '[0-9a-f]\{64\}' | head -1)
ID_UN=$(grep -io 'model id[^0-9a-f]*[0-9a-f]\{64\}' "$T/info_un" | grep -o '[0-9a-f]\{64\}' | head -1)
if [ -n "$ID_ORIG" ] && [ "$ID_ORIG" = "$ID_UN" ]; then ok "unlocked onnx has the original model id $ID_ORIG"
else fail "model id after unlock '$ID_UN' vs original '$ID_ORIG'"; fi
grep -qE "^protection: +deeplock|^ +nnguard\.(scheme +deeplock|deeplock)" "$T/info_un" && fail "unlocked model still shows deeplock metadata"

expect 3 "wrong key or altered file" "wrong key: exit 3" "$NG" unlock "$T/l.onnx" -o "$T/bad.onnx" --key "$T/k2.key"
[ -e "$T/bad.onnx" ] && fail "OUT exists after a refused unlock" || ok "no OUT after a refused unlock"
expect 3 "128 bits" "128-bit key on a ctr model" "$NG" unlock "$T/l.onnx" -o "$T/bad.onnx" --key "$T/k128.key"
[ -e "$T/bad.onnx" ] && fail "OUT exists after a refused unlock (key size)"
expect 0 "was verified" "--no-check with a wrong key" "$NG" unlock "$T/l.onnx" -o "$T/nc.onnx" --key "$T/k2.key" --no-check
cmp -s "$T/nc.onnx" "$MODEL" && fail "--no-check with a wrong key gave the original"
expect 3 "already Deep-Locked" "double lock refused" "$NG" lock "$T/l.onnx" -o "$T/ll.onnx" --key "$T/k.key"
expect 3 "not Deep-Locked" "unlock of a plain model refused" "$NG" unlock "$MODEL" -o "$T/x.onnx" --key "$T/k.key"
[ -e "$T/ll.onnx" ] || [ -e "$T/x.onnx" ] && fail "OUT written after a refused command"

chmod 644 "$T/k.key"
expect 3 "chmod 600" "group/other-readable key refused" "$NG" unlock "$T/l.onnx" -o "$T/x.onnx" --key "$T/k.key"
chmod 600 "$T/k.key"

# ---- eval with and without the key (unlock while loading) ----
if [ -f "$DATA/t10k-images-idx3-ubyte.gz" ]; then
    ACC_O=$("$NG" eval "$MODEL" --data "$DATA" --limit 1000 --json 2>/dev/null | grep -o '"accuracy": *[0-9.e-]*')
    ACC_K=$("$NG" eval "$T/l.onnx" --key "$T/k.key" --data "$DATA" --limit 1000 --json 2>/dev/null | grep -o '"accuracy": *[0-9.e-]*')
    if [ -n "$ACC_O" ] && [ "$ACC_O" = "$ACC_K" ]; then ok "eval with key: $ACC_K (same as the original)"
    else fail "eval with key gives '$ACC_K', original '$ACC_O'"; fi
    rc=0; "$NG" eval "$T/l.onnx" --data "$DATA" --limit 1000 --json >"$T/out" 2>"$T/err" || rc=$?
    if grep -q "locked" "$T/err"; then ok "eval without key says the model is locked (exit $rc): $(grep -o '"accuracy": *[0-9.e-]*' "$T/out")"
    else fail "eval without key does not say it is locked: $(cat "$T/err")"; fi
    expect 3 "wrong key or altered file" "eval with a wrong key: exit 3" "$NG" eval "$T/l.onnx" --key "$T/k2.key" --data "$DATA" --limit 10
fi

# ---- safetensors (streamed), ctr and expand, --only, corruption ----
expect 0 "" "convert to safetensors" "$NG" convert "$MODEL" -o "$T/m.safetensors"
if [ -f "$T/m.safetensors" ]; then
    expect 0 "" "lock safetensors (stream)" "$NG" lock "$T/m.safetensors" -o "$T/l.safetensors" --key "$T/k.key" --threads 2
    expect 0 "" "lock safetensors (in memory)" "$NG" lock "$T/m.safetensors" -o "$T/lm.safetensors" --key "$T/k.key" --in-memory
    cmp -s "$T/l.safetensors" "$T/lm.safetensors" && fail "two locks with one key are equal (no fresh salt)" || ok "two locks with one key differ (fresh salt)"
    expect 0 "" "unlock the in-memory lock (streamed)" "$NG" unlock "$T/lm.safetensors" -o "$T/um.safetensors" --key "$T/k.key"
    same "$T/um.safetensors" "$T/m.safetensors" "in-memory lock, streamed unlock: round trip"
    expect 0 "" "unlock safetensors" "$NG" unlock "$T/l.safetensors" -o "$T/u.safetensors" --key "$T/k.key"
    same "$T/u.safetensors" "$T/m.safetensors" "safetensors round trip bit for bit"
    expect 3 "wrong key or altered file" "safetensors wrong key: exit 3" "$NG" unlock "$T/l.safetensors" -o "$T/bad.st" --key "$T/k2.key"
    [ -e "$T/bad.st" ] && fail "OUT exists after a refused streamed unlock"
    expect 0 "" "lock expand" "$NG" lock "$T/m.safetensors" -o "$T/le.safetensors" --key "$T/k128.key" --keystream expand
    expect 0 "" "unlock expand" "$NG" unlock "$T/le.safetensors" -o "$T/ue.safetensors" --key "$T/k128.key"
    same "$T/ue.safetensors" "$T/m.safetensors" "expand round trip bit for bit"
    expect 3 "128-bit" "expand with a 256-bit key refused" "$NG" lock "$T/m.safetensors" -o "$T/x.st" --key "$T/k.key" --keystream expand
    expect 0 "" "lock --only" "$NG" lock "$T/m.safetensors" -o "$T/lo.safetensors" --key "$T/k.key" --only '*.bias'
    expect 0 "" "unlock --only" "$NG" unlock "$T/lo.safetensors" -o "$T/uo.safetensors" --key "$T/k.key"
    same "$T/uo.safetensors" "$T/m.safetensors" "--only round trip"
    SIZE=$(stat -c %s "$T/l.safetensors")
    cp "$T/l.safetensors" "$T/c.safetensors"
    flip_byte "$T/c.safetensors" $((SIZE - 5))
    expect 3 "modified or truncated" "corrupted locked file refused" "$NG" unlock "$T/c.safetensors" -o "$T/bad.st" --key "$T/k.key"
    head -c $((SIZE - 16)) "$T/l.safetensors" > "$T/t.safetensors"
    rc=0; "$NG" unlock "$T/t.safetensors" -o "$T/bad.st" --key "$T/k.key" >/dev/null 2>"$T/err" || rc=$?
    [ "$rc" -ne 0 ] && ok "truncated locked file refused (exit $rc)" || fail "truncated locked file accepted"
    [ -e "$T/bad.st" ] && fail "OUT exists after a refused unlock of a damaged file"
fi

# ---- an edited graph is refused (Relu -> Tanh passed unlock and eval with the key before format 3) ----
perl -pe 's/Relu/Tanh/g' "$T/l.onnx" > "$T/edited.onnx"
cmp -s "$T/l.onnx" "$T/edited.onnx" && fail "the graph edit changed nothing"
expect 3 "graph was altered" "unlock of an edited graph refused" "$NG" unlock "$T/edited.onnx" -o "$T/bad.onnx" --key "$T/k.key"
[ -e "$T/bad.onnx" ] && fail "OUT exists after a refused unlock of an edited graph"
if [ -f "$DATA/t10k-images-idx3-ubyte.gz" ]; then
    expect 3 "graph was altered" "eval --key of an edited graph refused" "$NG" eval "$T/edited.onnx" --key "$T/k.key" --data "$DATA" --limit 10
fi

# ---- format 2 files (earlier nnguard) still unlock, with a warning ----
FK=$(printf '%02x' $(seq 0 31) | tr -d '\n')
FCHK=$(/usr/bin/python3 -c "import hashlib,sys; print(hashlib.blake2b(b'nnguard-key-check-v1', key=bytes.fromhex(sys.argv[1]), digest_size=32).hexdigest()[:16])" "$FK")
printf 'nnguard-key v1\nbits: 256\nkey: %s\ncheck: %s\n' "$FK" "$FCHK" > "$T/fixed.key"; chmod 600 "$T/fixed.key"
expect 0 "Deep-Lock format 2" "unlock of a format 2 file warns" "$NG" unlock "$SRC/tests/fixtures/deeplock_v2_ctr.onnx" -o "$T/u_v2.onnx" --key "$T/fixed.key"
grep -q "shares it" "$T/err" && ok "the warning names the weakness" || fail "format 2 warning: $(cat "$T/err")"

# ---- --paper-exact ----
expect 2 "needs --keystream expand" "--paper-exact without expand" "$NG" lock "$MODEL" -o "$T/pe.onnx" --key "$T/k.key" --paper-exact
expect 0 "never lock a second model" "--paper-exact warns" "$NG" lock "$MODEL" -o "$T/pe.onnx" --key "$T/k128.key" --keystream expand --paper-exact
expect 0 "" "--paper-exact round trip" "$NG" unlock "$T/pe.onnx" -o "$T/upe.onnx" --key "$T/k128.key"
same "$T/upe.onnx" "$T/u.onnx" "--paper-exact unlocks to the same model"

# ---- passphrase ----
printf 'a long passphrase\n' > "$T/pass"; chmod 600 "$T/pass"
printf 'another one\n' > "$T/pass2"; chmod 600 "$T/pass2"
expect 0 "" "lock with a passphrase" "$NG" lock "$MODEL" -o "$T/lp.onnx" --passphrase-file "$T/pass"
expect 3 "wrong key or altered file" "wrong passphrase: exit 3" "$NG" unlock "$T/lp.onnx" -o "$T/bad.onnx" --passphrase-file "$T/pass2"
expect 0 "" "unlock with the passphrase" "$NG" unlock "$T/lp.onnx" -o "$T/up.onnx" --passphrase-file "$T/pass"
same "$T/up.onnx" "$T/u.onnx" "passphrase round trip gives the same file as the key round trip"
expect 0 "" "keygen sealed" "$NG" keygen -o "$T/sealed.key" --passphrase-file "$T/pass"
expect 3 "sealed" "sealed key without passphrase refused" "$NG" lock "$MODEL" -o "$T/x.onnx" --key "$T/sealed.key"
expect 0 "" "lock with a sealed key" "$NG" lock "$MODEL" -o "$T/ls.onnx" --key "$T/sealed.key" --passphrase-file "$T/pass"
expect 0 "" "unlock with a sealed key" "$NG" unlock "$T/ls.onnx" -o "$T/us.onnx" --key "$T/sealed.key" --passphrase-file "$T/pass"
same "$T/us.onnx" "$T/u.onnx" "sealed-key round trip"

finish
