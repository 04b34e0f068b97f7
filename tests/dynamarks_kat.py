# tests/dynamarks_kat.py - the DynaMarks known answers of test_dynamarks.c, computed independently
# of nnguard (hashlib BLAKE2b + the cryptography package's AES-GCM) from the derivations in
# include/nnguard/dynamarks.h. Run: python3 tests/dynamarks_kat.py
import hashlib, struct
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
K = bytes(range(32))
def kdf(i): return hashlib.blake2b(b"", digest_size=32, key=K, salt=struct.pack("<Q", i) + bytes(8), person=b"ngdynmk1" + bytes(8)).digest()
x = b"".join(struct.pack("<f", i / 784.0) for i in range(784))
# float32 of (double)i/784.0 rounded: struct.pack('<f') rounds double to float correctly
G = AESGCM(kdf(5)).encrypt(b"ngdynmk-dig1", b"", x)
d = hashlib.blake2b(G + struct.pack("<Q", 784), digest_size=32, key=kdf(6)).digest()
print("digest", ",".join("0x%02x" % b for b in d))
prf = lambda k, m: struct.unpack("<Q", hashlib.blake2b(m, digest_size=8, key=k).digest())[0]
unit = lambda u: (u >> 11) * 2.0**-53
print("strength %.15f" % (0.3 + 0.3 * unit(prf(kdf(2), d))))
print("sel %.6f lab %d" % (unit(prf(kdf(3), d)), prf(kdf(4), d) % 9))
