#!/usr/bin/env python3
"""tests/gen_input_fixtures.py - the small .npy / PNG / JPEG fixtures of tests/fixtures/inputs/
(committed; the tests need neither numpy nor torch). Run once with Debian's python3-numpy,
python3-torch and python3-torchvision (JPEG encoding, reference decode and resize):

    /usr/bin/python3 tests/gen_input_fixtures.py [FASHION_MNIST_DIR]

Files (all uint8 images are Fashion-MNIST test images 0..7 unless said otherwise):
  fm8_u8.npy             (8, 1, 28, 28) uint8           fm8_f32.npy  the same / 255 as float32 (v1.0)
  fm8_f32_v2.npy, fm8_f32_v3.npy   format versions 2.0 and 3.0
  bad_fortran.npy (Fortran order), bad_f64.npy (float64), bad_be.npy ('>f4'),
  bad_trunc.npy (data cut short), bad_nobatch.npy (1, 28, 28: no batch dim for LeNet's N x 1 x 28 x 28)
  fm8/img_0.png .. img_7.png   the 8 images as 8-bit gray PNG
  folder/c0..c9/<i>.png   ImageFolder: test images 0..199, the first 2 of each class (20 files);
  folder_x_u8.npy, folder_y.txt   the same 20 images in folder order (classes sorted, files by name) and labels
  rgb.png (10 x 12 RGB), rgb.jpg (the same, JPEG quality 95), rgba.png, pal.png (palette), g16.png (16-bit gray)
  rgb_px.npy   uint8 (10, 12, 3) pixels of rgb.png;  rgb_jpg_px.npy  torchvision's decode of rgb.jpg
  rgb_resized.npy   float32 (3, 7, 9): rgb.png / 255 -> bilinear (align_corners=False) to 7 x 9 ->
                    Normalize(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
  rgb_up.npy        float32 (3, 15, 17): rgb.png / 255 upsampled the same way, no normalisation
  rgb_gray.npy      float32 (1, 10, 12): Pillow's convert('L') luma ((19595 R + 38470 G + 7471 B + 32768) >> 16) / 255
"""
import gzip, os, struct, sys, zlib
import numpy as np

D = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "inputs")
os.makedirs(OUT, exist_ok=True)

def path(*p):
    f = os.path.join(OUT, *p)
    os.makedirs(os.path.dirname(f), exist_ok=True)
    return f

with gzip.open(os.path.join(D, "t10k-images-idx3-ubyte.gz")) as f:
    f.read(16); X = np.frombuffer(f.read(200 * 784), np.uint8).reshape(200, 1, 28, 28)
with gzip.open(os.path.join(D, "t10k-labels-idx1-ubyte.gz")) as f:
    f.read(8); Y = np.frombuffer(f.read(200), np.uint8)

def png(fname, px, color_type, depth=8, palette=None, trns=None):
    """A PNG writer (filter 0 rows), px: rows of bytes already packed for the colour type/depth."""
    h = len(px)
    w = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color_type]
    width = len(px[0]) // (w * depth // 8)
    def chunk(t, b): return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b) & 0xffffffff)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, h, depth, color_type, 0, 0, 0))
    if palette is not None: out += chunk(b"PLTE", bytes(palette))
    if trns is not None: out += chunk(b"tRNS", bytes(trns))
    out += chunk(b"IDAT", zlib.compress(b"".join(b"\x00" + bytes(r) for r in px))) + chunk(b"IEND", b"")
    open(path(fname), "wb").write(out)

fm8 = X[:8]
np.save(path("fm8_u8.npy"), fm8)
f32 = fm8.astype(np.float32) / np.float32(255)
np.save(path("fm8_f32.npy"), f32)
for v in (2, 3):
    with open(path("fm8_f32_v%d.npy" % v), "wb") as f:
        np.lib.format.write_array(f, f32, version=(v, 0))
np.save(path("bad_fortran.npy"), np.asfortranarray(f32[:2, 0]))
np.save(path("bad_f64.npy"), f32[:2].astype(np.float64))
np.save(path("bad_be.npy"), f32[:2].astype(">f4"))
raw = open(path("fm8_f32.npy"), "rb").read()
open(path("bad_trunc.npy"), "wb").write(raw[:-100])
np.save(path("bad_nobatch.npy"), f32[0])
for i in range(8):
    png("fm8/img_%d.png" % i, [fm8[i, 0, r].tobytes() for r in range(28)], 0)

order_x, order_y = [], []
for k in range(10):
    idx = [i for i in range(200) if Y[i] == k][:2]
    assert len(idx) == 2, "class %d has fewer than 2 images in the first 200" % k
    for i in idx:
        png("folder/c%d/%03d.png" % (k, i), [X[i, 0, r].tobytes() for r in range(28)], 0)
        order_x.append(X[i]); order_y.append(k)
np.save(path("folder_x_u8.npy"), np.stack(order_x))
open(path("folder_y.txt"), "w").write("".join("%d\n" % y for y in order_y))

rng = np.random.default_rng(13)
rgb = rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)
rgb[:5, :6] = (200, 30, 90)   # a flat block
png("rgb.png", [rgb[r].tobytes() for r in range(10)], 2)
np.save(path("rgb_px.npy"), rgb)
alpha = rng.integers(0, 256, (10, 12, 1), dtype=np.uint8)
png("rgba.png", [np.concatenate([rgb, alpha], 2)[r].tobytes() for r in range(10)], 6)
pal = rng.integers(0, 256, (16, 3), dtype=np.uint8)
pidx = rng.integers(0, 16, (10, 12), dtype=np.uint8)
png("pal.png", [pidx[r].tobytes() for r in range(10)], 3, palette=pal.tobytes(), trns=bytes([128] * 4))
np.save(path("pal_px.npy"), pal[pidx])
g16 = rng.integers(0, 65536, (10, 12), dtype=np.uint16)
png("g16.png", [g16[r].astype(">u2").tobytes() for r in range(10)], 0, depth=16)
np.save(path("g16_px.npy"), (g16 >> 8).astype(np.uint8))

import torch, torch.nn.functional as F, torchvision.io as tio
t = torch.from_numpy(rgb).permute(2, 0, 1).contiguous()
open(path("rgb.jpg"), "wb").write(bytes(tio.encode_jpeg(t, quality=95).numpy()))
jd = tio.decode_jpeg(torch.from_numpy(np.fromfile(path("rgb.jpg"), np.uint8)))
np.save(path("rgb_jpg_px.npy"), jd.permute(1, 2, 0).numpy())
x = t.float().unsqueeze(0) / 255
r = F.interpolate(x, size=(7, 9), mode="bilinear", align_corners=False)[0]
mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1); std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
np.save(path("rgb_resized.npy"), ((r - mean) / std).numpy().astype(np.float32))
np.save(path("rgb_up.npy"), F.interpolate(x, size=(15, 17), mode="bilinear", align_corners=False)[0].numpy())
c32 = rgb.astype(np.uint32)
luma = (c32[..., 0] * 19595 + c32[..., 1] * 38470 + c32[..., 2] * 7471 + 32768) >> 16
np.save(path("rgb_gray.npy"), (luma.astype(np.float32) / np.float32(255))[None])
print("fixtures in", OUT)
