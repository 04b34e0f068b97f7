#!/usr/bin/env bash
# tests/cli_secrets.sh - secrets never leak through the CLI: keygen / lock / unlock / eval / predict /
# info / convert / advparams run with right and wrong keys and passphrases, with --help and --json,
# and every byte they print (stdout and stderr) is searched for the key (hex, upper-case hex,
# base64), the passphrase and the AdvParams key file's bytes (hex). Key files are created 0600; a key,
# AdvParams key or passphrase file readable by group or others (644, 640, 604) is refused with a
# message that says how to fix it (chmod 600); keygen never overwrites a key file.
# usage: bash tests/cli_secrets.sh NNGUARD_BIN SOURCE_DIR FMNIST_DIR
. "$(dirname "$0")/lib.sh"

MODEL=$SRC/tests/fixtures/lenet5.onnx
ALL=$T/all.log      # everything any command printed
: > "$ALL"

# run RC WHAT CMD...: CMD must exit with RC (any non-zero when RC is 'nz'); output appended to ALL.
run() {
    local want=$1 what=$2; shift 2
    local rc=0
    "$@" >"$T/o" 2>"$T/e" || rc=$?
    { echo "### $what"; cat "$T/o" "$T/e"; } >> "$ALL"
    if [ "$want" = nz ]; then [ "$rc" -ne 0 ] || fail "$what: succeeded, expected a refusal"
    elif [ "$rc" -ne "$want" ]; then fail "$what: exit $rc, expected $want: $(head -c 300 "$T/e")"; fi
}

printf 'correct horse battery staple\n' > "$T/pass"; chmod 600 "$T/pass"
printf 'a wrong passphrase\n' > "$T/wrongpass"; chmod 600 "$T/wrongpass"
run 0 "keygen" "$NG" keygen -o "$T/k.key"
run 0 "keygen 128" "$NG" keygen -o "$T/k128.key" --bits 128
run 0 "keygen other" "$NG" keygen -o "$T/wrong.key"
run 0 "keygen sealed" "$NG" keygen -o "$T/sealed.key" --passphrase-file "$T/pass"
for f in k.key k128.key wrong.key sealed.key; do
    m=$(stat -c %a "$T/$f")
    [ "$m" = 600 ] && ok "$f is 0600" || fail "$f has mode $m, expected 600"
done
cp -p "$T/k.key" "$T/k.before"
run nz "keygen over an existing key" "$NG" keygen -o "$T/k.key"
cmp -s "$T/k.key" "$T/k.before" && ok "keygen never overwrites a key" || fail "keygen overwrote a key file"

# lock / unlock / eval / predict / info with right and wrong keys and passphrases
run 0 "lock" "$NG" lock "$MODEL" -o "$T/locked.onnx" --key "$T/k.key"
run 0 "lock expand" "$NG" lock "$MODEL" -o "$T/locked_x.onnx" --key "$T/k128.key" --keystream expand
run 0 "lock with a sealed key" "$NG" lock "$MODEL" -o "$T/locked_s.onnx" --key "$T/sealed.key" --passphrase-file "$T/pass"
run 0 "lock with a passphrase" "$NG" lock "$MODEL" -o "$T/locked_p.onnx" --passphrase-file "$T/pass"
run 0 "convert locked" "$NG" convert "$T/locked.onnx" -o "$T/locked.safetensors"
run 0 "unlock" "$NG" unlock "$T/locked.onnx" -o "$T/u.onnx" --key "$T/k.key"
run 3 "unlock, wrong key" "$NG" unlock "$T/locked.onnx" -o "$T/u2.onnx" --key "$T/wrong.key"
run nz "unlock, 128-bit key on ctr" "$NG" unlock "$T/locked.onnx" -o "$T/u2.onnx" --key "$T/k128.key"
run 0 "unlock --no-check, wrong key" "$NG" unlock "$T/locked.onnx" -o "$T/u3.onnx" --key "$T/wrong.key" --no-check
run nz "unlock, wrong passphrase" "$NG" unlock "$T/locked_p.onnx" -o "$T/u4.onnx" --passphrase-file "$T/wrongpass"
run 0 "unlock, passphrase" "$NG" unlock "$T/locked_p.onnx" -o "$T/u5.onnx" --passphrase-file "$T/pass"
run nz "unlock, sealed key, wrong passphrase" "$NG" unlock "$T/locked_s.onnx" -o "$T/u6.onnx" --key "$T/sealed.key" --passphrase-file "$T/wrongpass"
run nz "unlock, sealed key, no passphrase" "$NG" unlock "$T/locked_s.onnx" -o "$T/u6.onnx" --key "$T/sealed.key"
run 0 "eval with key" "$NG" eval "$T/locked.onnx" --key "$T/k.key" --data "$DATA" --limit 100 --per-class
run 0 "eval --json with key" "$NG" eval "$T/locked.onnx" --key "$T/k.key" --data "$DATA" --limit 100 --json
run 3 "eval wrong key" "$NG" eval "$T/locked.onnx" --key "$T/wrong.key" --data "$DATA" --limit 100
run 0 "eval without key" "$NG" eval "$T/locked.onnx" --data "$DATA" --limit 100
run 0 "predict with key" "$NG" predict "$T/locked.onnx" --key "$T/k.key" --images "$DATA/t10k-images-idx3-ubyte.gz" --limit 20 --labels "$T/labels.txt"
run nz "predict wrong key" "$NG" predict "$T/locked.onnx" --key "$T/wrong.key" --images "$DATA/t10k-images-idx3-ubyte.gz" --limit 20 --labels "$T/labels2.txt"
run 0 "info locked" "$NG" info "$T/locked.onnx"
run 0 "info locked (passphrase)" "$NG" info "$T/locked_p.onnx"
for c in keygen lock unlock eval predict info advparams; do run 0 "$c --help" "$NG" $c --help; done

# AdvParams
run 0 "advparams encrypt" "$NG" advparams encrypt "$MODEL" --data "$DATA" -o "$T/enc.onnx" --key-out "$T/a.key" \
    --budget 3 --encryption-set 64 --threads 1 --allow-miss
run 0 "advparams encrypt sealed" "$NG" advparams encrypt "$MODEL" --data "$DATA" -o "$T/enc2.onnx" --key-out "$T/a2.key" \
    --budget 3 --encryption-set 64 --threads 1 --allow-miss --passphrase-file "$T/pass" --seed 1 --tensors "c*.weight"
for f in a.key a2.key; do
    m=$(stat -c %a "$T/$f" 2>/dev/null)
    [ "$m" = 600 ] && ok "$f is 0600" || fail "$f has mode $m, expected 600"
done
run 0 "advparams decrypt" "$NG" advparams decrypt "$T/enc.onnx" --key "$T/a.key" -o "$T/dec.onnx"
run 0 "advparams decrypt sealed" "$NG" advparams decrypt "$T/enc2.onnx" --key "$T/a2.key" -o "$T/dec2.onnx" --passphrase-file "$T/pass"
run nz "advparams decrypt, wrong passphrase" "$NG" advparams decrypt "$T/enc2.onnx" --key "$T/a2.key" -o "$T/dec3.onnx" --passphrase-file "$T/wrongpass"
run nz "advparams decrypt, other model's key" "$NG" advparams decrypt "$T/enc2.onnx" --key "$T/a.key" -o "$T/dec4.onnx"
run 0 "eval with advparams key" "$NG" eval "$T/enc.onnx" --advparams-key "$T/a.key" --data "$DATA" --limit 100
run 0 "info advparams" "$NG" info "$T/enc.onnx"

# ---- nothing secret in any output ----
key_hex=$(sed -n 's/^key: //p' "$T/k.key")
[ ${#key_hex} -eq 64 ] || fail "could not read the key's hex from the key file"
leak() {   # leak WHAT NEEDLE
    if [ -n "$2" ] && grep -qiF -- "$2" "$ALL"; then fail "output contains $1"; else ok "no $1 in any output"; fi
}
for f in k.key k128.key wrong.key; do
    h=$(sed -n 's/^key: //p' "$T/$f")
    leak "the key of $f (hex)" "$h"
    leak "the first half of the key of $f (hex)" "${h:0:${#h}/2}"
    b64=$(printf "$(echo "$h" | sed 's/../\\x&/g')" | base64 -w0)
    [ ${#b64} -ge 20 ] || fail "could not base64 the key of $f"
    leak "the key of $f (base64)" "${b64%%=*}"
done
leak "the passphrase" "correct horse battery staple"
leak "the wrong passphrase" "a wrong passphrase"
# AdvParams key: no 12-byte window of the payload after the two model ids (public: `info` shows
# them), i.e. of the positions and values, printed as hex
adv_hex=$(od -An -v -tx1 -j $((24 + 64)) "$T/a.key" | tr -d ' \n')
n=0
for ((i = 0; i + 24 <= ${#adv_hex} - 64; i += 24)); do
    grep -qiF -- "${adv_hex:i:24}" "$ALL" && n=$((n + 1))
done
[ "$n" -eq 0 ] && ok "no AdvParams key bytes in any output" || fail "$n windows of the AdvParams key appear in the output"
# ... nor its positions as text: "tensor[index]" or the tensor name next to the index, for every entry
# (payload layout in nnguard/advparams.h)
positions=$(/usr/bin/python3 - "$T/a.key" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()[24:-32]
def parse(fixed):   # the fixed-size fields before the pattern may grow between versions: try sizes
    o = 64 + fixed
    p, = struct.unpack_from("<I", b, o); o += 4 + p
    e, = struct.unpack_from("<I", b, o); o += 4
    out = []
    for _ in range(e):
        l, = struct.unpack_from("<I", b, o); o += 4
        name = b[o:o + l].decode(); o += l
        idx, orig, pert = struct.unpack_from("<QII", b, o); o += 16
        out.append(f"{name}[{idx}]")
    if o != len(b): raise ValueError
    return out
for fixed in range(32, 80, 4):
    try: print("\n".join(parse(fixed))); break
    except Exception: pass
PY
)
[ -n "$positions" ] || fail "could not read the AdvParams key's positions"
n=0
for pos in $positions; do
    if grep -qF -- "$pos" "$ALL"; then n=$((n + 1)); echo "printed: $pos" >&2; fi
done
[ "$n" -eq 0 ] && ok "no AdvParams key position printed" || fail "$n AdvParams key positions (tensor[index]) were printed"

# ---- permissions: group/other-readable secrets are refused with the fix ----
for mode in 644 640 604; do
    cp -p "$T/k.key" "$T/k$mode.key"; chmod $mode "$T/k$mode.key"
    run nz "lock with a $mode key" "$NG" lock "$MODEL" -o "$T/p$mode.onnx" --key "$T/k$mode.key"
    grep -q "chmod 600" "$T/e" && ok "key file $mode refused, message says chmod 600" || fail "key file $mode: message lacks 'chmod 600': $(cat "$T/e")"
    [ -e "$T/p$mode.onnx" ] && fail "a refused key still produced output"
done
chmod 644 "$T/pass"
run nz "passphrase file 644" "$NG" unlock "$T/locked_p.onnx" -o "$T/u7.onnx" --passphrase-file "$T/pass"
grep -q "chmod 600" "$T/e" && ok "passphrase file 644 refused with the fix" || fail "passphrase file 644: $(cat "$T/e")"
chmod 600 "$T/pass"
cp -p "$T/a.key" "$T/a644.key"; chmod 644 "$T/a644.key"
run nz "advparams decrypt with a 644 key" "$NG" advparams decrypt "$T/enc.onnx" --key "$T/a644.key" -o "$T/dec5.onnx"
grep -q "chmod 600" "$T/e" && ok "AdvParams key 644 refused with the fix" || fail "AdvParams key 644: $(cat "$T/e")"
run nz "eval with a 644 AdvParams key" "$NG" eval "$T/enc.onnx" --advparams-key "$T/a644.key" --data "$DATA" --limit 10
grep -q "chmod 600" "$T/e" && ok "eval: AdvParams key 644 refused with the fix" || fail "eval AdvParams key 644: $(cat "$T/e")"

finish
