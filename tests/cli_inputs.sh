#!/usr/bin/env bash
# tests/cli_inputs.sh - `nnguard predict --input X.npy / --images DIR` and `nnguard eval --image-folder`
# on the fixtures of tests/gen_input_fixtures.py (Fashion-MNIST test images 0..7 as uint8 and float32
# .npy, as gray PNGs, and an ImageFolder of 20 images): every route gives the IDX route's logits bit
# for bit, eval counts what predict labels, and bad inputs are refused with nothing written.
# usage: bash tests/cli_inputs.sh NNGUARD_BIN SOURCE_DIR FMNIST_DIR
. "$(dirname "$0")/lib.sh"

FIX=$SRC/tests/fixtures/inputs
MODEL=$SRC/tests/fixtures/lenet5.onnx

# ---- the same 8 images by four routes: identical logits -------------------------------------------
expect 0 "8 inputs x 10 classes" "predict --input uint8 .npy" \
    "$NG" predict "$MODEL" --input "$FIX/fm8_u8.npy" --output "$T/u8.npy"
expect 0 "" "predict --input float32 .npy" "$NG" predict "$MODEL" --input "$FIX/fm8_f32_v3.npy" --output "$T/f32.npy"
expect 0 "" "predict --images IDX" "$NG" predict "$MODEL" --images "$DATA/t10k-images-idx3-ubyte.gz" --limit 8 --logits "$T/idx.f32"
expect 0 "" "predict --images DIR of PNGs" "$NG" predict "$MODEL" --images "$FIX/fm8" --logits "$T/png.f32" --labels "$T/png.txt"
head -c 6 "$T/u8.npy" | grep -q NUMPY && head -c 128 "$T/u8.npy" | grep -qF "'shape': (8, 10)" \
    && ok "--output is a .npy of shape (8, 10)" || fail "--output header: $(head -c 128 "$T/u8.npy")"
[ "$(stat -c %s "$T/u8.npy")" -eq $((128 + 320)) ] && ok "--output holds 8 x 10 floats" || fail "--output size"
tail -c 320 "$T/u8.npy" >"$T/u8.f32"
tail -c 320 "$T/f32.npy" >"$T/f32.f32"
for f in u8 f32 png; do
    cmp -s "$T/$f.f32" "$T/idx.f32" && ok "$f logits == IDX logits (bit for bit)" || fail "$f logits differ from the IDX route"
done
[ "$(wc -l <"$T/png.txt")" -eq 8 ] && ok "8 labels" || fail "labels: $(cat "$T/png.txt")"
expect 0 "" "predict --input --limit 3" "$NG" predict "$MODEL" --input "$FIX/fm8_u8.npy" --limit 3 --output "$T/l3.npy"
head -c 128 "$T/l3.npy" | grep -qF "'shape': (3, 10)" && ok "--limit 3 -> (3, 10)" || fail "--limit 3 header"

# ---- RGB PNG and JPEG into a 1-channel model: gray conversion + resize -----------------------------
mkdir "$T/rgb" && cp "$FIX/rgb.png" "$FIX/rgb.jpg" "$FIX/rgba.png" "$T/rgb/" && echo x >"$T/rgb/notes.txt"
expect 0 "3 inputs" "predict --images RGB dir --resize 28x28 --mean/--std" \
    "$NG" predict "$MODEL" --images "$T/rgb" --resize 28x28 --mean 0.5 --std 0.25 --labels "$T/rgb.txt"
expect 1 "--resize 28x28" "an image of another size without --resize" "$NG" predict "$MODEL" --images "$T/rgb" --labels "$T/never.txt"
expect 1 "--resize 32x32 but the model takes 28x28" "--resize to another size than the model's" \
    "$NG" predict "$MODEL" --images "$T/rgb" --resize 32x32 --labels "$T/never.txt"
expect 2 "3 values" "--mean of 3 values for a 1-channel model" \
    "$NG" predict "$MODEL" --images "$T/rgb" --resize 28x28 --mean 0.1,0.2,0.3 --labels "$T/never.txt"
expect 2 "--std expects" "--std 0" "$NG" predict "$MODEL" --images "$T/rgb" --std 0 --labels "$T/never.txt"
expect 2 "--resize expects" "--resize 28" "$NG" predict "$MODEL" --images "$T/rgb" --resize 28 --labels "$T/never.txt"
expect 2 "apply to --images DIR only" "--resize with --input" \
    "$NG" predict "$MODEL" --input "$FIX/fm8_u8.npy" --resize 28x28 --labels "$T/never.txt"
expect 2 "one of them" "--input and --images together" \
    "$NG" predict "$MODEL" --input "$FIX/fm8_u8.npy" --images "$FIX/fm8" --labels "$T/never.txt"
cp "$FIX/rgb.png" "$T/rgb/broken.png" && printf 'garbage' | dd of="$T/rgb/broken.png" bs=1 seek=40 conv=notrunc 2>/dev/null
expect 1 "broken.png" "a corrupt PNG" "$NG" predict "$MODEL" --images "$T/rgb" --resize 28x28 --labels "$T/never.txt"

# ---- bad .npy inputs: refused, naming the file and the fix; nothing written --------------------------
expect 1 "ascontiguousarray" "Fortran order" "$NG" predict "$MODEL" --input "$FIX/bad_fortran.npy" --output "$T/never.npy"
expect 1 "'<f8'" "float64" "$NG" predict "$MODEL" --input "$FIX/bad_f64.npy" --output "$T/never.npy"
expect 1 "big-endian" "big-endian float32" "$NG" predict "$MODEL" --input "$FIX/bad_be.npy" --output "$T/never.npy"
expect 1 "truncated" "truncated .npy" "$NG" predict "$MODEL" --input "$FIX/bad_trunc.npy" --output "$T/never.npy"
expect 1 "x[None]" "no batch dimension" "$NG" predict "$MODEL" --input "$FIX/bad_nobatch.npy" --output "$T/never.npy"
expect 1 "(10, 12, 3)" "an array of another shape" "$NG" predict "$MODEL" --input "$FIX/rgb_px.npy" --output "$T/never.npy"
ls "$T"/never.* >/dev/null 2>&1 && fail "an output was written by a failed predict" || ok "no output written on failure"
expect 3 "" "existing --output without --force" "$NG" predict "$MODEL" --input "$FIX/fm8_u8.npy" --output "$T/u8.npy"

# ---- eval on an ImageFolder: counts what predict labels ------------------------------------------------
expect 0 "" "predict the folder's images from .npy" \
    "$NG" predict "$MODEL" --input "$FIX/folder_x_u8.npy" --labels "$T/fold.txt"
want=$(paste -d' ' "$T/fold.txt" "$FIX/folder_y.txt" | awk '$1 == $2' | wc -l)
"$NG" eval "$MODEL" --image-folder "$FIX/folder" --json >"$T/eval.json" 2>"$T/err" || fail "eval --image-folder: $(cat "$T/err")"
grep -q "\"n\": 20" "$T/eval.json" && grep -q "\"correct\": $want," "$T/eval.json" \
    && ok "eval --image-folder: $want/20 correct, as predict says" || fail "eval --image-folder: $(cat "$T/eval.json"), predict says $want"
[ "$want" -ge 14 ] && ok "LeNet-5 gets $want/20 of the folder right" || fail "only $want/20 right"
expect 2 "not both" "--image-folder with --data" "$NG" eval "$MODEL" --image-folder "$FIX/folder" --data "$DATA"
expect 2 "no class folders" "--image-folder without classes" "$NG" eval "$MODEL" --image-folder "$FIX/fm8"

finish
