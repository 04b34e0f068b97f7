# tests/lib.sh - the shared preamble of the shell tests tests/cli_*.sh (sourced, not run).
#
# CMakeLists.txt runs every test as `bash tests/cli_NAME.sh NNGUARD_BIN SOURCE_DIR FMNIST_DIR`.
# Each script starts with
#     . "$(dirname "$0")/lib.sh"
# (sourced without arguments, so this file sees the script's own $1 $2 $3; missing ones: usage
# message, exit 2) and ends with `finish` (the fail-fast ones, under `set -e`, with their own line).
#
# What it sets up:
#   NG SRC DATA   the three arguments (binary, source tree, Fashion-MNIST folder)
#   T             a fresh temporary folder, removed on exit (however the script ends)
#   set -uo pipefail (a script that wants to stop at the first failed command adds `set -e`)
#   TEST_NAME     the script's name (cli_NAME), used in messages
#
# Helpers (all but die return 0, so they are safe under `set -e`; failures are counted, not fatal):
#   ok WHAT                 count a passed check and print "ok: WHAT"
#   fail WHAT               count a failed check and print "FAIL: WHAT" on stderr
#   assert CMD...           a check: CMD must succeed (ok/fail with the command line as WHAT)
#   expect RC NEEDLE WHAT CMD...
#                           a check: CMD must exit with RC ('nz': any non-zero) and, when NEEDLE is
#                           not empty, say NEEDLE (fixed string) on stderr. CMD's stdout and stderr
#                           are left in $T/out and $T/err for further checks. WHAT empty: the
#                           command line.
#   die WHAT                a setup step later checks depend on failed: print "FATAL: WHAT", exit 1
#   check PYEXPR WHAT       a check: the Python expression PYEXPR must be true
#   jget FILE KEY           print a value of the JSON file FILE: KEY is a top-level key, or a
#                           Python subscript chain starting with '[' (e.g. "['runs'][1]['acc']")
#   flip_byte FILE OFFSET   invert every bit of the byte at OFFSET in place (a tamper that always
#                           changes the file: writing a fixed value is a no-op 1 time in 256 on
#                           random ciphertext)
#   on_exit CMD             run the shell command CMD on exit, before $T is removed (servers to
#                           kill, mounts to undo); hooks run in the order they were added
#   finish                  print "TEST_NAME: P passed, F failed" and exit 1 if any check failed
#                           (0 otherwise). A script that finds a peer missing exits 77 itself
#                           (ctest's SKIP_RETURN_CODE); the exit trap keeps that code.
# Python: /usr/bin/python3, standard library only.

set -uo pipefail
if [ $# -lt 3 ]; then echo "usage: bash $0 NNGUARD_BIN SOURCE_DIR FMNIST_DIR" >&2; exit 2; fi
NG=$1
SRC=$2
DATA=$3
TEST_NAME=$(basename "$0" .sh)
T=$(mktemp -d)   # a neutral name: some checks grep command output, which can print paths
NG_PASSED=0
NG_FAILED=0
NG_EXIT_HOOKS=()

on_exit() { NG_EXIT_HOOKS+=("$1"); }
ng_lib_cleanup() {
    local h
    for h in ${NG_EXIT_HOOKS[@]+"${NG_EXIT_HOOKS[@]}"}; do eval "$h"; done
    rm -rf "$T"
}
trap ng_lib_cleanup EXIT

ok() { echo "ok: $*"; NG_PASSED=$((NG_PASSED + 1)); return 0; }
fail() { echo "FAIL: $*" >&2; NG_FAILED=$((NG_FAILED + 1)); return 0; }
die() { echo "FATAL: $*" >&2; exit 1; }
assert() { if "$@"; then ok "$*"; else fail "$*"; fi; }
flip_byte() {
    local b
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    [ -n "$b" ] || die "flip_byte: $1 has no byte at offset $2"
    printf "\\$(printf '%03o' $((b ^ 255)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

expect() {
    local want=$1 needle=$2 what=$3; shift 3
    local rc=0
    [ -n "$what" ] || what="$*"
    "$@" >"$T/out" 2>"$T/err" || rc=$?
    if [ "$want" = nz ]; then
        if [ "$rc" -eq 0 ]; then fail "$what: exit code 0, expected a failure"; return 0; fi
    elif [ "$rc" -ne "$want" ]; then
        fail "$what: exit code $rc, expected $want ($(head -c 300 "$T/err"))"; return 0
    fi
    if [ -n "$needle" ] && ! grep -qF -- "$needle" "$T/err"; then
        fail "$what: stderr lacks '$needle': $(cat "$T/err")"; return 0
    fi
    ok "$what"
}

check() {
    if /usr/bin/python3 -c "import sys; sys.exit(0 if ($1) else 1)"; then ok "$2"; else fail "$2 ($1)"; fi
}

jget() {
    /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
k = sys.argv[2]
print(eval("d" + k) if k.startswith("[") else d[k])' "$1" "$2"
}

finish() {
    echo "$TEST_NAME: $NG_PASSED passed, $NG_FAILED failed"
    [ "$NG_FAILED" -eq 0 ] || exit 1
    exit 0
}
