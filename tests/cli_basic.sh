#!/usr/bin/env bash
# tests/cli_basic.sh - end-to-end checks of `nnguard info/eval/predict/convert` through the binary.
# usage: bash tests/cli_basic.sh NNGUARD_BIN SOURCE_DIR FMNIST_DIR
# Needs tests/fixtures/lenet5.onnx (a trained LeNet-5) and lenet5_logits.f32 (PyTorch logits of the
# first 2000 Fashion-MNIST test images, 2000 x 10 float32 LE). python3 (standard library only) reads JSON.
. "$(dirname "$0")/lib.sh"
set -e

FIX=$SRC/tests/fixtures
MODEL=$FIX/lenet5.onnx
REF_LOGITS=$FIX/lenet5_logits.f32
IMAGES=$DATA/t10k-images-idx3-ubyte.gz
PY=${PYTHON:-python3}



[ -x "$NG" ] || die "$NG is not an executable"
[ -f "$IMAGES" ] || die "$IMAGES is missing (Fashion-MNIST test images)"
command -v "$PY" >/dev/null || die "$PY not found (needed to read JSON)"

# ---- --help on every command --------------------------------------------------------------------
for cmd in info eval predict convert; do
    if "$NG" "$cmd" --help >"$T/help" 2>&1 && grep -q "usage: nnguard $cmd" "$T/help"; then
        ok "$cmd --help"
    else
        fail "$cmd --help did not exit 0 with a usage line"
    fi
done

# ---- usage errors: exit 2 --------------------------------------------------------------------------
for cmd in info eval predict convert; do
    rc=0; "$NG" "$cmd" --no-such-option x >/dev/null 2>"$T/err" || rc=$?
    [ "$rc" -eq 2 ] && ok "$cmd --no-such-option exits 2" || fail "$cmd --no-such-option exited $rc, expected 2"
done
rc=0; "$NG" predict "$MODEL" --images "$IMAGES" >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] && ok "predict without --logits/--labels exits 2" || fail "predict without outputs exited $rc"

# ---- the fixture model ------------------------------------------------------------------------------
[ -f "$MODEL" ] || die "$MODEL is missing (made by tests/gen_fixtures.py)"
[ -f "$REF_LOGITS" ] || die "$REF_LOGITS is missing (made by tests/gen_fixtures.py)"

# ---- info ------------------------------------------------------------------------------------------
"$NG" info "$MODEL" >"$T/info.txt" || die "info $MODEL failed"
grep -q "model id:" "$T/info.txt" || fail "info text has no model id line"
grep -q "^compute: *0.42 M multiply-accumulates per sample forward, 1.13 M per training step" "$T/info.txt" ||
    fail "info text: no compute line of 0.42 / 1.13 M MACs"
"$NG" info "$MODEL" --json >"$T/info.json" || die "info --json failed"
"$PY" - "$T/info.json" <<'EOF' && ok "info --json fields" || fail "info --json fields (see above)"
import json, re, sys
j = json.load(open(sys.argv[1]))
errs = []
def want(cond, msg):
    if not cond: errs.append(msg)
want(j["format"] == "onnx", "format %r" % j.get("format"))
want(j.get("opset", 0) >= 7, "opset %r" % j.get("opset"))
want(j["input_shape"][1:] == [1, 28, 28], "input_shape %r" % j.get("input_shape"))
want(j["classes"] == 10, "classes %r" % j.get("classes"))
ops = [l["op"] for l in j["layers"]]
want(j["nodes"] == len(ops) == 12 and ops[0] == "Conv" and ops[-1] == "Gemm", "layers %r" % ops)
want(j["ops"] == {"Conv": 2, "Relu": 4, "MaxPool": 2, "Flatten": 1, "Gemm": 3}, "ops %r" % j.get("ops"))
# products per sample: c1 6x28x28 x 25, c2 16x10x10 x 150, fcs 400x120 + 120x84 + 84x10; training
# 3x but c1's dX (its input is the graph's)
want(j.get("macs") == {"forward": 416520, "train": 2 * 117600 + 3 * 298920}, "macs %r" % j.get("macs"))
want(j["producer"] == "pytorch" and j["ir_version"] >= 3, "producer %r, IR %r" % (j.get("producer"), j.get("ir_version")))
want(j["protected"] is False and j["protection"] == {}, "protection %r" % j.get("protection"))
want(re.fullmatch(r"[0-9a-f]{64}", j["model_id"]) is not None, "model_id %r" % j.get("model_id"))
n = 0
for t in j["tensors"]:
    k = 1
    for d in t["shape"]: k *= d
    n += k
    want(t["bytes"] == 4 * k, "tensor %s bytes %d for %d floats" % (t["name"], t["bytes"], k))
want(j["parameters"] == n == 61706, "parameters %r, tensors sum to %d" % (j.get("parameters"), n))
want(j["parameter_tensors"] == len(j["tensors"]), "parameter_tensors")
want(j["bytes"] > 4 * n, "file bytes %r" % j.get("bytes"))
for e in errs: print("  info:", e, file=sys.stderr)
sys.exit(1 if errs else 0)
EOF
MODEL_ID=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["model_id"])' "$T/info.json")

# ---- eval ------------------------------------------------------------------------------------------
"$NG" eval "$MODEL" --data "$DATA" --json --per-class --limit 2000 >"$T/eval.json" || die "eval --json failed"
"$PY" - "$T/eval.json" <<'EOF' && ok "eval --json: $(cat "$T/eval.json" | head -c 200)" || fail "eval --json (see above)"
import json, sys
j = json.load(open(sys.argv[1]))     # one JSON object, nothing else on stdout
errs = []
if j["n"] != 2000: errs.append("n %r" % j["n"])
# the fixture LeNet-5 gets 82.85% of the first 2000 right (checked exactly against PyTorch below)
if not (0.80 <= j["accuracy"] <= 0.86): errs.append("accuracy %r outside [0.80, 0.86]" % j["accuracy"])
if abs(j["correct"] - round(j["accuracy"] * j["n"])) > 0: errs.append("correct/accuracy disagree")
if not j["images_per_s"] > 0: errs.append("images_per_s %r" % j["images_per_s"])
pc = j["per_class"]
if len(pc) != 10 or not all(0 <= a <= 1 for a in pc): errs.append("per_class %r" % pc)
for e in errs: print("  eval:", e, file=sys.stderr)
sys.exit(1 if errs else 0)
EOF
EVAL_CORRECT=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["correct"])' "$T/eval.json")

# ---- predict ---------------------------------------------------------------------------------------
"$NG" predict "$MODEL" --images "$IMAGES" --limit 2000 --logits "$T/a.f32" --labels "$T/a.txt" 2>/dev/null ||
    die "predict failed"
"$PY" - "$T/a.f32" "$T/a.txt" "$DATA/t10k-labels-idx1-ubyte.gz" "$EVAL_CORRECT" "$REF_LOGITS" <<'EOF' \
    && ok "predict logits/labels" || fail "predict logits/labels (see above)"
import gzip, struct, sys
out, labels, ylab, correct, ref = sys.argv[1:6]
errs = []
raw = open(out, "rb").read()
if len(raw) != 2000 * 10 * 4:
    print("  predict: logits file has %d bytes, expected 2000 x 10 x 4" % len(raw), file=sys.stderr); sys.exit(1)
z = struct.unpack("<20000f", raw)
lines = open(labels).read().split("\n")
if lines[-1] != "" or len(lines) != 2001: errs.append("labels file has %d lines" % (len(lines) - 1))
pred = [int(s) for s in lines[:-1]]
argmax = [max(range(10), key=lambda j: (z[i * 10 + j], -j)) for i in range(2000)]
if pred != argmax: errs.append("labels differ from the argmax of the logits")
y = gzip.open(ylab).read()[8:8 + 2000]
hits = sum(1 for i in range(2000) if pred[i] == y[i])
if hits != int(correct): errs.append("predict gets %d right, eval said %s" % (hits, correct))
r = struct.unpack("<20000f", open(ref, "rb").read())
worst = max(abs(a - b) for a, b in zip(z, r))
print("  predict: max |logit - PyTorch| = %.3g" % worst)
if not worst <= 1e-4: errs.append("logits differ from %s by %.3g > 1e-4" % (ref, worst))
torch_hits = sum(1 for i in range(2000) if max(range(10), key=lambda j: (r[i * 10 + j], -j)) == y[i])
if torch_hits != int(correct): errs.append("PyTorch gets %d right, eval said %s" % (torch_hits, correct))
for e in errs: print("  predict:", e, file=sys.stderr)
sys.exit(1 if errs else 0)
EOF

# ---- convert round trip: ONNX -> safetensors -> ONNX ------------------------------------------------
"$NG" convert "$MODEL" -o "$T/m.safetensors" 2>/dev/null || die "convert ONNX -> safetensors failed"
"$NG" convert "$T/m.safetensors" -o "$T/m2.onnx" --arch lenet5 --input-shape 1,28,28 2>/dev/null ||
    die "convert safetensors -> ONNX failed"
"$NG" convert "$MODEL" -o "$T/m3.onnx" 2>/dev/null || die "convert ONNX -> ONNX failed"
for f in "$T/m.safetensors" "$T/m2.onnx" "$T/m3.onnx"; do
    id=$("$NG" info "$f" --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["model_id"])')
    [ "$id" = "$MODEL_ID" ] && ok "model id kept in $(basename "$f")" || fail "$(basename "$f"): model id $id != $MODEL_ID"
done
"$NG" predict "$T/m2.onnx" --images "$IMAGES" --limit 2000 --logits "$T/b.f32" 2>/dev/null || die "predict m2.onnx failed"
"$NG" predict "$T/m.safetensors" --arch lenet5 --images "$IMAGES" --limit 2000 --logits "$T/c.f32" 2>/dev/null ||
    die "predict m.safetensors --arch lenet5 failed"
cmp -s "$T/a.f32" "$T/b.f32" && ok "ONNX -> safetensors -> ONNX: identical logits" || fail "round-trip logits differ"
cmp -s "$T/a.f32" "$T/c.f32" && ok "safetensors + --arch: identical logits" || fail "safetensors --arch logits differ"

# ---- a file marked as locked runs as it is, with a note; metadata survives convert ---------------
"$PY" - "$T/m.safetensors" "$T/marked.safetensors" <<'EOF'
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
h = json.loads(raw[8:8 + n])
h.setdefault("__metadata__", {})["nnguard.scheme"] = "deeplock"
hb = json.dumps(h).encode()
hb += b" " * (-len(hb) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(hb)) + hb + raw[8 + n:])
EOF
"$NG" eval "$T/marked.safetensors" --arch lenet5 --data "$DATA" --limit 2000 --json >"$T/marked.json" 2>"$T/err" ||
    die "eval of a marked model failed: $(cat "$T/err")"
grep -qF "$T/marked.safetensors is locked (deeplock)" "$T/err" && ok "locked-model note on stderr" ||
    fail "no locked-model note: $(cat "$T/err")"
"$PY" -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["correct"] == int(sys.argv[2]) else 1)' \
    "$T/marked.json" "$EVAL_CORRECT" && ok "marked model evaluated as it is" || fail "marked model accuracy changed"
"$NG" convert "$T/marked.safetensors" -o "$T/marked.onnx" --arch lenet5 2>/dev/null || die "convert marked model failed"
for f in "$T/marked.safetensors" "$T/marked.onnx"; do
    p=$("$NG" info "$f" --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["protection"].get("nnguard.scheme"))')
    [ "$p" = deeplock ] && ok "info shows nnguard.scheme in $(basename "$f")" || fail "$(basename "$f"): protection $p"
done

# ---- bad inputs: non-zero exit, a message naming the file, nothing written --------------------------
expect nz "$T/nope.onnx" "info on a missing file" "$NG" info "$T/nope.onnx"
expect nz "$T/nope.onnx" "eval on a missing file" "$NG" eval "$T/nope.onnx" --data "$DATA" --limit 10
head -c $(( $(stat -c %s "$MODEL") / 2 )) "$MODEL" >"$T/trunc.onnx"
expect nz "$T/trunc.onnx" "info on a truncated model" "$NG" info "$T/trunc.onnx"
expect nz "$T/trunc.onnx" "predict with a truncated model" \
    "$NG" predict "$T/trunc.onnx" --images "$IMAGES" --limit 10 --labels "$T/never.txt"
[ ! -e "$T/never.txt" ] && ok "no labels written on failure" || fail "predict wrote $T/never.txt despite failing"
expect nz "--arch" "eval safetensors without --arch" "$NG" eval "$T/m.safetensors" --data "$DATA" --limit 10
# a 1x32x32 dataset: the model takes 1x28x28
mkdir -p "$T/d32"
"$PY" - "$T/d32" <<'EOF'
import gzip, struct, sys
d = sys.argv[1]
for split in ("t10k", "train"):
    with gzip.open("%s/%s-images-idx3-ubyte.gz" % (d, split), "wb") as f:
        f.write(struct.pack(">IIII", 0x803, 4, 32, 32) + bytes(range(256)) * 16)
    with gzip.open("%s/%s-labels-idx1-ubyte.gz" % (d, split), "wb") as f:
        f.write(struct.pack(">II", 0x801, 4) + bytes([0, 1, 2, 9]))
EOF
expect nz "32x32" "eval on 32x32 data" "$NG" eval "$MODEL" --data "$T/d32"
expect nz "$T/d32/t10k-images-idx3-ubyte.gz" "predict on 32x32 images" \
    "$NG" predict "$MODEL" --images "$T/d32/t10k-images-idx3-ubyte.gz" --logits "$T/never.f32"
[ ! -e "$T/never.f32" ] && ok "no logits written on failure" || fail "predict wrote $T/never.f32 despite failing"
expect nz "$DATA/t10k-labels-idx1-ubyte.gz" "predict on a labels file" \
    "$NG" predict "$MODEL" --images "$DATA/t10k-labels-idx1-ubyte.gz" --labels "$T/never.txt"
{ gzip -dc <"$IMAGES" 2>/dev/null || true; } | head -c 5000 >"$T/short-images"
expect nz "$T/short-images" "predict on truncated images" \
    "$NG" predict "$MODEL" --images "$T/short-images" --labels "$T/never.txt"
cp "$MODEL" "$T/same.onnx"
expect nz "$T/same.onnx" "convert over its input" "$NG" convert "$T/same.onnx" -o "$T/same.onnx"
cmp -s "$MODEL" "$T/same.onnx" && ok "convert left its input untouched" || fail "convert changed its input"
expect nz "$T/x.bin" "convert to an unknown extension" "$NG" convert "$MODEL" -o "$T/x.bin"

# a full disk (fault injection after 100 bytes) leaves an existing output as it was
echo "previous contents" >"$T/keep.f32"
cp "$T/keep.f32" "$T/keep.orig"
expect nz "$T/keep.f32" "predict on a full disk" env NG_FAULT_WRITE_AFTER=100 \
    "$NG" predict "$MODEL" --images "$IMAGES" --limit 100 --logits "$T/keep.f32"
cmp -s "$T/keep.f32" "$T/keep.orig" && ok "predict left the old output untouched" || fail "predict damaged $T/keep.f32"
cp "$T/keep.orig" "$T/keep.onnx"
expect nz "$T/keep.onnx" "convert on a full disk" env NG_FAULT_WRITE_AFTER=100 \
    "$NG" convert "$T/m.safetensors" --arch lenet5 -o "$T/keep.onnx"
cmp -s "$T/keep.onnx" "$T/keep.orig" && ok "convert left the old output untouched" || fail "convert damaged $T/keep.onnx"
[ -z "$(find "$T" -name '.*tmp*')" ] && ok "no temporary files left behind" || fail "temporary files left: $(find "$T" -name '.*tmp*')"

# OpenBLAS kernels: on a CPU with AVX2+FMA the CLI must end up on Haswell-or-newer kernels even
# where OpenBLAS's own CPU detection falls back to SSE3 ones (the CLI re-executes itself with
# OPENBLAS_CORETYPE); a user's OPENBLAS_CORETYPE is kept as given.
core=$(OPENBLAS_VERBOSE=2 "$NG" --version 2>&1 | sed -n 's/^Core: //p' | tail -1)
if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then
    case "$core" in
        Prescott|Core2|Penryn|Dunnington|Nehalem|Atom|Sandybridge|"") fail "OpenBLAS kernels '$core' on an AVX2 CPU" ;;
        *) ok "OpenBLAS kernels $core" ;;
    esac
fi
kept=$(OPENBLAS_CORETYPE=Nehalem OPENBLAS_VERBOSE=2 "$NG" --version 2>&1 | sed -n 's/^Core: //p' | tr '\n' ' ')
[ "$kept" = "Nehalem " ] && ok "OPENBLAS_CORETYPE set by the user is kept" || fail "user's OPENBLAS_CORETYPE: '$kept'"

finish
