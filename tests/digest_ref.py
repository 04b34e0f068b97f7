#!/usr/bin/python3
"""Independent reference for the parameter and graph digests of nnguard/weights.h on ONNX files,
written from the header's text with Python's protobuf (SerializeToString) and hashlib, not from
nnguard's code. Prints "<file> params <hex> graph <hex>"; tests/test_digest.c holds the values it
printed for the committed fixtures. Run with Debian's python3 (python3-onnx):
    /usr/bin/python3 tests/digest_ref.py tests/fixtures/lenet5.onnx tests/fixtures/deeplock_dtypes.onnx"""
import hashlib
import struct
import sys

import onnx
from onnx import TensorProto

LEAF = 1 << 20
FLOATS = {TensorProto.FLOAT: ("F32", 4), TensorProto.FLOAT16: ("F16", 2),
          TensorProto.BFLOAT16: ("BF16", 2), TensorProto.DOUBLE: ("F64", 8)}


def raw_bytes(t):
    """A float initializer's little-endian element bytes (raw_data, or the typed field)."""
    if t.raw_data:
        return bytes(t.raw_data)
    if t.data_type == TensorProto.FLOAT:
        return struct.pack("<%df" % len(t.float_data), *t.float_data)
    if t.data_type == TensorProto.DOUBLE:
        return struct.pack("<%dd" % len(t.double_data), *t.double_data)
    return struct.pack("<%dH" % len(t.int32_data), *[v & 0xffff for v in t.int32_data])   # F16/BF16 bits


def s32(s):
    b = s.encode()
    return struct.pack("<I", len(b)) + b


def frame(t, nbytes):
    return (s32(t.name) + s32(FLOATS[t.data_type][0]) + struct.pack("<I", len(t.dims)) +
            b"".join(struct.pack("<Q", d) for d in t.dims) + struct.pack("<Q", nbytes))


def params_digest(g):
    tensors = []
    for t in g.initializer:
        if t.data_type not in FLOATS:
            continue
        b = raw_bytes(t)
        leaves = [hashlib.sha256(b[i:i + LEAF]).digest() for i in range(0, len(b), LEAF)]
        tensors.append(hashlib.sha256(b"nnguard.digest.tensor.v1\0" + frame(t, len(b)) +
                                      struct.pack("<Q", len(leaves)) + b"".join(leaves)).digest())
    return hashlib.sha256(b"nnguard.digest.params.v1\0" + struct.pack("<Q", len(tensors)) +
                          b"".join(tensors)).hexdigest()


def graph_digest(m):
    g = m.graph
    out = bytearray(b"nnguard.digest.graph.v1\0\x01")

    def rec(tag, b):
        out.extend(tag.encode() + struct.pack("<Q", len(b)) + b)
    rec("V", struct.pack("<Q", m.ir_version))
    for x in m.opset_import:
        rec("S", x.SerializeToString())
    for x in m.functions:
        rec("F", x.SerializeToString())
    for x in g.node:
        rec("N", x.SerializeToString())
    for x in g.input:
        rec("I", x.SerializeToString())
    for x in g.output:
        rec("O", x.SerializeToString())
    for t in g.initializer:
        if t.data_type in FLOATS:
            rec("P", hashlib.sha256(frame(t, len(raw_bytes(t)))).digest())
        else:
            rec("T", t.SerializeToString())
    for x in g.sparse_initializer:
        rec("Z", x.SerializeToString())
    return hashlib.sha256(bytes(out)).hexdigest()


for path in sys.argv[1:]:
    m = onnx.load(path)
    print(path, "params", params_digest(m.graph), "graph", graph_digest(m))
