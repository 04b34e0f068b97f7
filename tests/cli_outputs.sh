#!/usr/bin/env bash
# tests/cli_outputs.sh - what every command does with the files it writes (issue 10, points 4-5):
# - an output that is an input (same device and inode: ./m.onnx, a hard link, a symlink) is refused
#   with exit 3 even with --force, and the input is untouched;
# - an existing output is refused with exit 3 unless --force (lock, unlock, convert, predict, train,
#   advparams decrypt, eval-scheme); keygen never overwrites, and --force does not change that;
# - unlocked / decrypted models are 0600 whatever the umask; other outputs follow the umask;
# - a killed unlock leaves no plaintext behind: stopped mid-write (NG_TEST_STOP_AFTER_WRITE), the
#   folder shows no name at all (O_TMPFILE) or one 0600 ".OUT.tmp-*" (NG_NO_O_TMPFILE=1); after
#   SIGTERM / SIGINT / SIGKILL there is no temporary file and no OUT.
# usage: bash tests/cli_outputs.sh NNGUARD_BIN SOURCE_DIR FMNIST_DIR
. "$(dirname "$0")/lib.sh"

MODEL=$SRC/tests/fixtures/lenet5.onnx
mode() { stat -c %a "$1" 2>/dev/null; }

cd "$T" || exit 1
"$NG" keygen -o k.key >/dev/null || fail "keygen"
cp "$MODEL" m.onnx
SUM=$(sha256sum m.onnx | cut -d' ' -f1)
intact() { [ "$(sha256sum m.onnx | cut -d' ' -f1)" = "$SUM" ] && ok "$1: m.onnx untouched" || fail "$1: m.onnx changed"; }

# ---- output = input, by device and inode ----
expect 3 "same device and inode" "lock m.onnx -o ./m.onnx" "$NG" lock m.onnx -o ./m.onnx --key k.key
expect 3 "same device and inode" "... even with --force" "$NG" lock m.onnx -o ./m.onnx --key k.key --force
ln m.onnx hard.onnx; ln -s m.onnx sym.onnx
expect 3 "same device and inode" "lock to a hard link of the input" "$NG" lock m.onnx -o hard.onnx --key k.key --force
expect 3 "same device and inode" "lock to a symlink to the input" "$NG" lock m.onnx -o sym.onnx --key k.key --force
expect 3 "same device and inode" "lock over the key file" "$NG" lock m.onnx -o ./k.key --key k.key --force
expect 3 "same device and inode" "convert over its input" "$NG" convert m.onnx -o "$T/../$(basename "$T")/m.onnx" --force
intact "refused same-file writes"
rm -f hard.onnx sym.onnx

# ---- existing outputs: refused without --force, replaced with it ----
umask 022
echo old > l.onnx
expect 3 "already exists" "lock onto an existing file" "$NG" lock m.onnx -o l.onnx --key k.key
[ "$(cat l.onnx)" = old ] && ok "existing output untouched" || fail "existing output changed"
expect 0 "" "lock --force replaces it" "$NG" lock m.onnx -o l.onnx --key k.key --force
[ "$(mode l.onnx)" = 644 ] && ok "locked file 0644 under umask 022" || fail "locked file mode $(mode l.onnx)"
echo old > u.onnx
expect 3 "--force" "unlock onto an existing file" "$NG" unlock l.onnx -o u.onnx --key k.key
expect 0 "" "unlock --force" "$NG" unlock l.onnx -o u.onnx --key k.key --force
cmp -s u.onnx m.onnx && ok "unlock round trip" || fail "unlock round trip"
[ "$(mode u.onnx)" = 600 ] && ok "unlocked file 0600 under umask 022" || fail "unlocked file mode $(mode u.onnx)"
(umask 000; "$NG" unlock l.onnx -o u0.onnx --key k.key >/dev/null 2>&1)
[ "$(mode u0.onnx)" = 600 ] && ok "unlocked file 0600 under umask 000" || fail "unlocked file mode $(mode u0.onnx) under umask 000"
(umask 027; "$NG" lock m.onnx -o l027.onnx --key k.key >/dev/null 2>&1)
[ "$(mode l027.onnx)" = 640 ] && ok "locked file 0640 under umask 027" || fail "locked file mode $(mode l027.onnx) under umask 027"
(umask 077; "$NG" convert m.onnx -o c077.safetensors >/dev/null 2>&1)
[ "$(mode c077.safetensors)" = 600 ] && ok "converted file 0600 under umask 077" || fail "converted file mode $(mode c077.safetensors)"
echo old > c.safetensors
expect 3 "already exists" "convert onto an existing file" "$NG" convert m.onnx -o c.safetensors
expect 0 "" "convert --force" "$NG" convert m.onnx -o c.safetensors --force
expect 3 "same device and inode" "predict --labels over the model" "$NG" predict m.onnx --images "$DATA/t10k-images-idx3-ubyte.gz" --limit 5 --labels m.onnx --force
echo old > labels.txt
expect 3 "already exists" "predict onto an existing file" "$NG" predict m.onnx --images "$DATA/t10k-images-idx3-ubyte.gz" --limit 5 --labels labels.txt
expect 2 "same file" "predict --logits and --labels the same file" "$NG" predict m.onnx --images "$DATA/t10k-images-idx3-ubyte.gz" --limit 5 --labels x.txt --logits ./x.txt
expect 0 "" "predict --force" "$NG" predict m.onnx --images "$DATA/t10k-images-idx3-ubyte.gz" --limit 5 --labels labels.txt --force
echo old > t.onnx
expect 3 "already exists" "train onto an existing file (before any training)" "$NG" train --arch mlp --count 10 --epochs 1 -o t.onnx
expect 3 "same device and inode" "train -o over --init" "$NG" train --init m.onnx --count 10 --epochs 1 -o m.onnx --force
expect 3 "already exists" "eval-scheme onto an existing report" "$NG" eval-scheme deeplock -o t.onnx --model m.onnx
expect 1 "not a folder" "eval-scheme on a missing data folder" "$NG" eval-scheme deeplock --data "$T/no-such-data" --workdir wd-new --model m.onnx
assert test ! -e wd-new
expect 1 "is not a folder" "eval-scheme --workdir naming a file" "$NG" eval-scheme deeplock --workdir t.onnx --model m.onnx
expect 1 "not a folder" "evaluate on a missing data folder" "$NG" evaluate --data "$T/no-such-data" --out ev-new
assert test ! -e ev-new
expect 3 "already exists" "keygen onto an existing key" "$NG" keygen -o k.key
expect 2 "never overwrites" "keygen --force is refused" "$NG" keygen -o k.key --force
expect 2 "is a folder" "an output that is a folder" "$NG" lock m.onnx -o "$T" --key k.key --force
intact "output checks"

# ---- a killed unlock leaves no plaintext ----
"$NG" convert m.onnx -o m.safetensors >/dev/null 2>&1
"$NG" lock m.safetensors -o l.safetensors --key k.key >/dev/null 2>&1 || fail "lock safetensors"
mkdir -p kill
entries() { find kill -mindepth 1 | wc -l; }
# killed SIG NAMED INMEM: stop unlock after its first write, look at the folder, kill it with SIG
killed() {
    local sig=$1 named=$2 inmem=$3 args=(unlock l.safetensors -o kill/plain.safetensors --key k.key)
    [ "$inmem" = 1 ] && args+=(--in-memory)
    rm -rf kill; mkdir kill
    # (a background job starts with SIGINT ignored: give it the default action back, as a terminal would)
    NG_TEST_STOP_AFTER_WRITE=1 NG_NO_O_TMPFILE=$named env --default-signal=INT "$NG" "${args[@]}" >/dev/null 2>&1 &
    local pid=$! i
    for i in $(seq 200); do [ "$(ps -o stat= -p $pid 2>/dev/null | cut -c1)" = T ] && break; sleep 0.05; done
    if [ "$(ps -o stat= -p $pid 2>/dev/null | cut -c1)" != T ]; then fail "unlock (sig $sig named $named) never stopped"; kill -9 $pid; wait $pid; return; fi
    if [ "$named" = 1 ]; then
        local tmp; tmp=$(find kill -name '.plain.safetensors.tmp-*')
        [ -n "$tmp" ] && [ "$(mode "$tmp")" = 600 ] && [ -s "$tmp" ] && ok "mid-write: one 0600 temp file (named, sig $sig)" \
            || fail "mid-write (named): $(ls -la kill)"
    else
        [ "$(entries)" = 0 ] && ok "mid-write: no name in the folder (O_TMPFILE, sig $sig)" || fail "mid-write (O_TMPFILE): $(ls -la kill)"
    fi
    kill -s "$sig" $pid; kill -s CONT $pid 2>/dev/null
    wait $pid; local rc=$?
    [ "$rc" -ge 128 ] && ok "unlock killed by $sig (exit $rc)" || fail "unlock after $sig exited $rc"
    [ "$(entries)" = 0 ] && ok "nothing left after $sig (named $named, in-memory $inmem)" || fail "left after $sig: $(ls -la kill)"
}
killed TERM 1 0
killed INT 1 0
killed TERM 1 1
killed TERM 0 0
killed KILL 0 0
killed KILL 0 1

finish
