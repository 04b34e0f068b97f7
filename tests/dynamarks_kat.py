# tests/dynamarks_kat.py - the DynaMarks known answers of test_dynamarks.c, computed independently
# of nnguard (hashlib's BLAKE2b, the cryptography package's ChaCha20, NH in Python integers) from
# the derivations in include/nnguard/dynamarks.h and src/protect/dynamarks/nh.h.
# Run: python3 tests/dynamarks_kat.py
import hashlib, struct
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

K = bytes(range(32))
def kdf(i): return hashlib.blake2b(b"", digest_size=32, key=K, salt=struct.pack("<Q", i) + bytes(8), person=b"ngdynmk1" + bytes(8)).digest()
M32, M64 = 2**32 - 1, 2**64 - 1
CHUNK, PAD, ITER = 1024, 8, 4
# the NH key: ChaCha20 (IETF) keystream under K_nh, nonce "ngdynmk-nh01", counter 0 (OpenSSL's
# 16-byte ChaCha20 IV is LE32(counter) | 12-byte nonce)
ks = Cipher(algorithms.ChaCha20(kdf(7), struct.pack("<I", 0) + b"ngdynmk-nh01"), mode=None).encryptor().update(bytes(4 * (CHUNK + 4 * (ITER - 1))))
knh = struct.unpack("<%dI" % (len(ks) // 4), ks)

def nh(m):
    m = list(m) + [0] * (-len(m) % PAD)
    out = []
    for j in range(ITER):
        s = 0
        for i in range(0, len(m), 2):
            s += ((m[i] + knh[i + 4 * j]) & M32) * ((m[i + 1] + knh[i + 1 + 4 * j]) & M32)
        out.append(s & M64)
    return b"".join(struct.pack("<Q", v) for v in out)

def h(xs):   # xs: float32 values; the words are their bit patterns
    w = struct.unpack("<%dI" % len(xs), struct.pack("<%df" % len(xs), *xs))
    msg = b"".join(nh(w[o:o + CHUNK]) for o in range(0, len(w), CHUNK)) + struct.pack("<Q", len(w))
    return hashlib.blake2b(msg, digest_size=64, key=kdf(8)).digest()

def carr(b): return ",".join("0x%02x" % v for v in b)
unit = lambda u: (u >> 11) * 2.0**-53
le64 = lambda b: struct.unpack("<Q", b)[0]
# float32 of (double)i/784.0: struct.pack('<f') rounds the double to float correctly
x = [i / 784.0 for i in range(784)]
hx = h(x)
print("h(x) 784  ", carr(hx))
print("strength %.15f" % (0.3 + 0.3 * unit(le64(hx[32:40]))))
print("sel %.6f lab %d" % (unit(le64(hx[40:48])), le64(hx[48:56]) % 9))
# three chunks, the last one 13 words (zero-padded to 16), and an odd length inside one chunk
print("h(x) 2061 ", carr(h([i / 784.0 for i in range(2061)])[:32]))
print("h(x) 783  ", carr(h(x[:783])[:32]))
