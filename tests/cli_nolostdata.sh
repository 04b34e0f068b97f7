#!/usr/bin/env bash
# tests/cli_nolostdata.sh - every nnguard subcommand that writes a file, made to fail mid-write
# (NG_FAULT_WRITE_AFTER=<bytes>: the library's writes fail with ENOSPC after that many bytes), must
# exit non-zero and leave: the existing output byte-identical, its inputs untouched, no
# ".<name>.tmp-*" file in the folder, and (exclusive outputs: key files) no output at all. The same
# command without the fault must then succeed and replace the output. Finally the same on a real
# full disk (a 1 MiB tmpfs), when this runs as root and mounting is allowed.
# usage: bash tests/cli_nolostdata.sh NNGUARD_BIN SOURCE_DIR FMNIST_DIR
. "$(dirname "$0")/lib.sh"

MODEL=$SRC/tests/fixtures/lenet5.onnx
MNT=
on_exit 'if [ -n "$MNT" ]; then umount "$MNT" 2>/dev/null; fi'
ORIG="original output, must survive"

sums() { sha256sum "$@" 2>/dev/null | awk '{print $1}' | tr '\n' ' '; }
temps() { find "$(dirname "$1")" -maxdepth 1 -name '.*.tmp-*' | wc -l; }

# faulty WHAT OUT EXCL "INPUTS" CMD...: CMD writes OUT; run it with faults at several offsets.
faulty() {
    local what=$1 out=$2 excl=$3 inputs=$4; shift 4
    local before after rc n
    before=$(sums $inputs)
    for n in ${FAULTS:-0 1 200 20000}; do
        rm -f "$out"
        [ "$excl" = 1 ] || echo "$ORIG" > "$out"
        rc=0
        NG_FAULT_WRITE_AFTER=$n "$@" >"$T/out.log" 2>"$T/err.log" || rc=$?
        if [ "$rc" -eq 0 ]; then
            # a budget larger than the whole output lets it through (keys are ~120 bytes)
            [ -f "$out" ] && [ "$(stat -c %s "$out")" -le "$n" ] && continue
            fail "$what: fault after $n bytes reported success"; continue
        fi
        if [ "$excl" = 1 ]; then
            [ -e "$out" ] && fail "$what: fault after $n bytes left $out behind"
        else
            cmp -s "$out" "$T/orig" || fail "$what: fault after $n bytes changed the existing output"
        fi
        [ "$(temps "$out")" -eq 0 ] && true || fail "$what: fault after $n bytes left a temp file: $(ls -a "$(dirname "$out")" | grep tmp-)"
        grep -qi "write failed\|no space\|cannot\|error" "$T/err.log" || fail "$what: no message on a failed write: $(head -c 300 "$T/err.log")"
    done
    after=$(sums $inputs)
    [ "$before" = "$after" ] || fail "$what: an input changed"
    rm -f "$out"
    [ "$excl" = 1 ] || echo "$ORIG" > "$out"
    rc=0
    "$@" >"$T/out.log" 2>"$T/err.log" || rc=$?
    if [ "$rc" -ne 0 ]; then fail "$what: fault-free run failed ($rc): $(head -c 300 "$T/err.log")"; return; fi
    [ -s "$out" ] && ! cmp -s "$out" "$T/orig" || fail "$what: fault-free run did not replace the output"
    [ "$(temps "$out")" -eq 0 ] || fail "$what: temp file left after a successful run"
    ok "$what"
}

W=$T/w
mkdir -p "$W"
echo "$ORIG" > "$T/orig"
IMAGES=$DATA/t10k-images-idx3-ubyte.gz
"$NG" keygen -o "$T/k.key" >/dev/null || fail "keygen"
"$NG" lock "$MODEL" -o "$T/locked.onnx" --key "$T/k.key" >/dev/null || fail "lock"
"$NG" convert "$MODEL" -o "$T/model.safetensors" >/dev/null || fail "convert"
"$NG" lock "$T/model.safetensors" -o "$T/locked.safetensors" --key "$T/k.key" >/dev/null || fail "lock st"
# a key file must never be overwritten, and an exclusive write that fails leaves nothing
faulty "keygen" "$W/new.key" 1 "" "$NG" keygen -o "$W/new.key"
faulty "convert onnx->safetensors" "$W/out.safetensors" 0 "$MODEL" "$NG" convert "$MODEL" -o "$W/out.safetensors" --force
faulty "convert safetensors->onnx" "$W/out.onnx" 0 "$T/model.safetensors" \
    "$NG" convert "$T/model.safetensors" -o "$W/out.onnx" --arch lenet5 --force
faulty "lock (ONNX, in memory)" "$W/l.onnx" 0 "$MODEL $T/k.key" "$NG" lock "$MODEL" -o "$W/l.onnx" --key "$T/k.key" --force
faulty "lock (safetensors, streaming)" "$W/l.safetensors" 0 "$T/model.safetensors $T/k.key" \
    "$NG" lock "$T/model.safetensors" -o "$W/l.safetensors" --key "$T/k.key" --force
faulty "lock (safetensors, --in-memory)" "$W/l.safetensors" 0 "$T/model.safetensors $T/k.key" \
    "$NG" lock "$T/model.safetensors" -o "$W/l.safetensors" --key "$T/k.key" --in-memory --force
faulty "unlock (ONNX)" "$W/u.onnx" 0 "$T/locked.onnx $T/k.key" "$NG" unlock "$T/locked.onnx" -o "$W/u.onnx" --key "$T/k.key" --force
faulty "unlock (safetensors, streaming)" "$W/u.safetensors" 0 "$T/locked.safetensors $T/k.key" \
    "$NG" unlock "$T/locked.safetensors" -o "$W/u.safetensors" --key "$T/k.key" --force
faulty "predict --logits" "$W/logits.f32" 0 "$MODEL $IMAGES" \
    "$NG" predict "$MODEL" --images "$IMAGES" --limit 50 --logits "$W/logits.f32" --force
faulty "predict --labels" "$W/labels.txt" 0 "$MODEL $IMAGES" \
    "$NG" predict "$MODEL" --images "$IMAGES" --limit 200 --labels "$W/labels.txt" --force
FAULTS="0 20000" faulty "train -o (mlp, 64 images, 1 epoch)" "$W/t.onnx" 0 "" \
    "$NG" train --arch mlp --data "$DATA" --count 64 --epochs 1 --threads 1 -o "$W/t.onnx" --force
# AdvParams: encrypt writes the key (exclusive) and the model; a failure must leave neither
# a new key nor a changed model.
advenc() { rm -f "$W/a.key"; "$NG" advparams encrypt "$MODEL" --data "$DATA" -o "$W/a.onnx" --key-out "$W/a.key" \
    --budget 2 --encryption-set 32 --threads 1 --allow-miss --force "$@"; }
# (a budget of 20000 bytes lets the ~200-byte key through and fails the model: the key must go)
FAULTS="0 20000" faulty "advparams encrypt (model output)" "$W/a.onnx" 0 "$MODEL" advenc
for n in 20000; do
    echo "$ORIG" > "$W/a.onnx"; rm -f "$W/a.key"
    NG_FAULT_WRITE_AFTER=$n advenc >/dev/null 2>&1 && fail "advparams encrypt: fault after $n reported success"
    [ -e "$W/a.key" ] && fail "advparams encrypt: fault after $n bytes left a key without its model"
done
advenc >/dev/null 2>&1 || fail "advparams encrypt"
cp "$W/a.onnx" "$T/enc.onnx"; cp -p "$W/a.key" "$T/a.key"
faulty "advparams decrypt" "$W/d.onnx" 0 "$T/enc.onnx $T/a.key" \
    "$NG" advparams decrypt "$T/enc.onnx" --key "$T/a.key" -o "$W/d.onnx" --force
mkdir -p "$W/page"
faulty "evaluate --render (report.html)" "$W/page/report.html" 0 "$SRC/docs/report/quick/results.json" \
    "$NG" evaluate --render "$SRC/docs/report/quick/results.json" --out "$W/page" --force

# ---- a real full disk ----
if [ "$(id -u)" != 0 ]; then
    echo "skip: real full-disk test needs root to mount a tmpfs"
elif ! { MNT=$T/full && mkdir -p "$MNT" && mount -t tmpfs -o size=1m tmpfs "$MNT" 2>/dev/null; }; then
    MNT=
    echo "skip: mounting a 1 MiB tmpfs is not permitted here"
else
    echo "$ORIG" > "$MNT/out.onnx"
    echo "$ORIG" > "$MNT/out.safetensors"
    # leave ~100 KiB free: lenet5 (250 KB) cannot fit
    head -c $((900 * 1024)) /dev/zero > "$MNT/filler" 2>/dev/null
    for cmd in "convert $MODEL -o $MNT/out.safetensors --force" "lock $MODEL -o $MNT/out.onnx --key $T/k.key --force" \
               "lock $T/model.safetensors -o $MNT/out.safetensors --key $T/k.key --force" \
               "unlock $T/locked.onnx -o $MNT/out.onnx --key $T/k.key --force"; do
        out=$(echo "$cmd" | sed 's/.* -o \([^ ]*\).*/\1/')
        rc=0; $NG $cmd >/dev/null 2>"$T/err.log" || rc=$?
        if [ "$rc" -eq 0 ]; then fail "full disk: '$cmd' reported success"; continue; fi
        cmp -s "$out" "$T/orig" || fail "full disk: '$cmd' changed $out"
        [ "$(temps "$out")" -eq 0 ] || fail "full disk: '$cmd' left a temp file"
        grep -q "No space left" "$T/err.log" || fail "full disk: '$cmd' did not say the disk is full: $(cat "$T/err.log")"
    done
    rm -f "$MNT/filler"
    "$NG" lock "$MODEL" -o "$MNT/out.onnx" --key "$T/k.key" --force >/dev/null || fail "lock after freeing the disk"
    [ "$(temps "$MNT/out.onnx")" -eq 0 ] || fail "full disk: temp file left"
    ok "real full disk (1 MiB tmpfs): outputs intact, no temp files, message says so"
fi

finish
