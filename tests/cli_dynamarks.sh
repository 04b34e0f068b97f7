#!/usr/bin/env bash
# tests/cli_dynamarks.sh - `nnguard serve`, `nnguard attack extract` and `nnguard wm verify` end to
# end on loopback: a Deep-Locked model served with its key answers what `nnguard predict` computes
# on the plain model; a short extraction (2,000 queries, MLP surrogate) from the soft-watermarked
# API is detected with p < 1e-6, while surrogates of the unwatermarked API and an independently
# trained model are not; label mode records its answers in SQLite and the label-trained surrogate
# is detected from the log; SIGTERM drains and exits 0.
# usage: bash tests/cli_dynamarks.sh NNGUARD_BIN SOURCE_DIR FMNIST_DIR
# ctest-label: slow
. "$(dirname "$0")/lib.sh"
MODEL=$SRC/tests/fixtures/lenet5.onnx
PIDS=()
on_exit 'for p in ${PIDS[@]+"${PIDS[@]}"}; do kill "$p" 2>/dev/null; done'
cd "$T"

# start_server NAME ARGS...: runs nnguard serve on a free port; sets PORT
start_server() {
    local name=$1; shift
    "$NG" serve "$@" --port 0 --threads 2 >"$name.out" 2>"$name.err" &
    PIDS+=($!)
    LASTPID=$!
    for _ in $(seq 300); do grep -q listening "$name.out" 2>/dev/null && break; sleep 0.1; done
    PORT=$(grep -o '127\.0\.0\.1:[0-9]*' "$name.out" | cut -d: -f2)
    [ -n "$PORT" ] || { fail "$name did not start: $(cat "$name.err")"; exit 1; }
}

# 200 test images as float32 for octet-stream requests
/usr/bin/python3 - "$DATA" <<'EOF'
import gzip, struct, sys, array
raw = gzip.open(sys.argv[1] + "/t10k-images-idx3-ubyte.gz").read()
n = 200
px = raw[16:16 + n * 784]
a = array.array("f", [b / 255.0 for b in px])
open("imgs.f32", "wb").write(a.tobytes())
open("imgs.idx", "wb").write(struct.pack(">IIII", 2051, n, 28, 28) + px)
EOF

# ---- a locked model served with its key answers like the plain model ----
"$NG" keygen -o dl.key >/dev/null
"$NG" lock "$MODEL" -o locked.onnx --key dl.key >/dev/null
start_server locked locked.onnx --key dl.key
curl -s -X POST -H 'Content-Type: application/octet-stream' --data-binary @imgs.f32 \
     "http://127.0.0.1:$PORT/v1/predict" > locked.json
"$NG" predict "$MODEL" --images imgs.idx --logits plain.f32 --labels plain.txt 2>/dev/null
/usr/bin/python3 - <<'EOF' && ok "locked model served with --key equals nnguard predict on the plain model (200 images)" || fail "served answers differ from nnguard predict"
import json, array, math
ans = json.load(open("locked.json"))
z = array.array("f"); z.frombytes(open("plain.f32", "rb").read())
labels = [int(l) for l in open("plain.txt")]
assert ans["labels"] == labels, "labels differ"
for i, row in enumerate(ans["probabilities"]):
    zi = z[i * 10:(i + 1) * 10]; m = max(zi); e = [math.exp(v - m) for v in zi]; s = sum(e)
    for j in range(10):
        assert abs(row[j] - e[j] / s) <= 1e-6 + 1e-5 * e[j] / s, (i, j, row[j], e[j] / s)
EOF
kill -TERM "$LASTPID"; wait "$LASTPID"; rc=$?
[ $rc -eq 0 ] && grep -q draining locked.err && ok "SIGTERM drains and exits 0" || fail "SIGTERM: exit $rc"
kill -0 "$LASTPID" 2>/dev/null && fail "server still running after SIGTERM" || ok "the server is gone after SIGTERM"

# ---- soft watermark: a short extraction is detected; plain API and independent model are not ----
"$NG" keygen -o wm.key >/dev/null
start_server soft "$MODEL" --wm-secret wm.key --wm-mode soft
SOFT=$PORT
start_server plain "$MODEL"
PLAIN=$PORT
curl -s -X POST -H 'Content-Type: application/octet-stream' --data-binary @imgs.f32 "http://127.0.0.1:$SOFT/v1/predict" > soft.json
check "__import__('json').load(open('soft.json'))['labels'] == [int(l) for l in open('plain.txt')]" \
      "soft watermark leaves every label identical (200 images; test_dynamarks checks all 10,000)"
EX="--budget 2000 --fidelity 500 --arch mlp --epochs 40 --seed 3 --json"
"$NG" attack extract --api "http://127.0.0.1:$SOFT" $EX -o sur_wm.onnx > ex_wm.json 2>/dev/null || fail "extract from the soft API"
"$NG" attack extract --api "http://127.0.0.1:$PLAIN" $EX -o sur_plain.onnx > ex_plain.json 2>/dev/null || fail "extract from the plain API"
check "$(jget ex_wm.json accuracy) > 0.7 and $(jget ex_wm.json fidelity) > 0.75" "surrogate of the watermarked API is useful (accuracy, fidelity)"
"$NG" train --arch mlp --epochs 1 --fraction 0.1 --seed 11 -o indep.onnx >/dev/null 2>&1 || fail "train an independent model"
V="--wm-secret wm.key --owner $MODEL --data $DATA --limit 5000 --json"
"$NG" wm verify sur_wm.onnx $V > v_wm.json || fail "verify the watermarked surrogate"
"$NG" wm verify sur_plain.onnx $V > v_plain.json || fail "verify the plain surrogate"
"$NG" wm verify indep.onnx $V > v_indep.json || fail "verify the independent model"
check "$(jget v_wm.json p_value) < 1e-6 and '$(jget v_wm.json verdict)' == 'stolen'" "watermarked-API surrogate detected (p = $(jget v_wm.json p_value))"
check "$(jget v_plain.json p_value) > 1e-6 and '$(jget v_plain.json verdict)' == 'not detected'" "plain-API surrogate not detected (p = $(jget v_plain.json p_value))"
check "$(jget v_indep.json p_value) > 1e-6" "independent model not detected (p = $(jget v_indep.json p_value))"
check "$(jget v_wm.json n) == 5000" "verification used the 5000 held-out images"
"$NG" wm verify sur_wm.onnx --wm-secret wm.key --owner locked.onnx --key dl.key --data "$DATA" --limit 5000 --json > v_locked.json \
    || fail "verify with the locked owner model and its key"
check "$(jget v_locked.json p_value) == $(jget v_wm.json p_value)" "a locked owner model with its key verifies like the plain one"
rc=0; "$NG" wm verify sur_wm.onnx --wm-secret wm.key --owner locked.onnx --data "$DATA" --limit 100 2>/dev/null || rc=$?
[ $rc -eq 3 ] && ok "a locked owner model without its key is refused" || fail "locked owner without key: exit $rc"
curl -s "http://127.0.0.1:$SOFT/metrics" > soft.metrics
check "$(grep '^nnguard_watermarked_total' soft.metrics | cut -d' ' -f2) >= 2000" "metrics count the watermarked answers"

# ---- label mode with clients and the SQLite log ----
printf 'abcdefghijklmnop0123 mallory 0 0\nqrstuvwxyzABCDEF4567 honest 0 0\n' > clients.txt
chmod 600 clients.txt
start_server label "$MODEL" --wm-secret wm.key --wm-mode label --wm-rate 0.05 --log log.db --clients clients.txt
LABEL=$PORT
# One image: the server answers 401 before reading a body, then closes the connection; a client
# still sending a large body can see the reset before the answer (HTTP 000), as with any server.
head -c 3136 imgs.f32 > img1.f32
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/octet-stream' --data-binary @img1.f32 "http://127.0.0.1:$LABEL/v1/predict")
[ "$code" = 401 ] && ok "label API refuses a request without a token" || fail "no token: HTTP $code"
"$NG" attack extract --api "http://127.0.0.1:$LABEL" --token abcdefghijklmnop0123 --labels --budget 2000 --fidelity 0 \
      --arch mlp --epochs 40 --seed 4 --json -o sur_lab.onnx > ex_lab.json 2>/dev/null || fail "extract from the label API"
kill -TERM "$LASTPID"; wait "$LASTPID" || fail "label server exit code"
rows=$(/usr/bin/python3 -c "import sqlite3; print(sqlite3.connect('log.db').execute(\"select count(*) from nnguard_wm_log where client='mallory' and label != label_true\").fetchone()[0])")
check "60 <= $rows <= 140" "label mode recorded about r = 5% of 2000 answers ($rows), each a wrong label"
"$NG" wm verify sur_lab.onnx --mode label --log log.db --client mallory --json > v_lab.json || fail "label verify"
"$NG" wm verify indep.onnx --mode label --log log.db --client mallory --json > v_lab_indep.json || fail "label verify indep"
check "$(jget v_lab.json p_value) < 1e-6" "label-trained surrogate detected from the log (p = $(jget v_lab.json p_value))"
check "$(jget v_lab_indep.json p_value) > 1e-6" "independent model not detected in label mode (p = $(jget v_lab_indep.json p_value))"

# ---- usage errors ----
rc=0; "$NG" serve "$MODEL" --wm-mode label 2>/dev/null || rc=$?
[ $rc -eq 2 ] && ok "watermark options without --wm-secret: usage error" || fail "exit $rc"
rc=0; "$NG" wm verify sur_wm.onnx --wm-secret wm.key 2>/dev/null || rc=$?
[ $rc -eq 2 ] && ok "soft verify without --owner: usage error" || fail "exit $rc"
chmod 644 clients.txt
rc=0; "$NG" serve "$MODEL" --clients clients.txt --port 0 2>err.txt || rc=$?
[ $rc -eq 3 ] && grep -q "chmod 600" err.txt && ok "a readable clients file is refused" || fail "clients perms: exit $rc"
for c in serve wm "attack extract"; do $NG $c --help >/dev/null || fail "$c --help"; done

finish
