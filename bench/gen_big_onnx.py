#!/usr/bin/env python3
"""bench/gen_big_onnx.py OUT.onnx [LAYERS] - a large ONNX model for bench_load (not committed):
input 1x64x64 -> Flatten -> LAYERS x (Gemm 4096x4096 + Relu) -> Gemm 4096x10, random float32
weights in raw_data (64 MiB each: 8 layers = 512 MiB, like a big torchvision export).
Needs Debian's python3-onnx and python3-numpy."""
import sys
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1]
layers = int(sys.argv[2]) if len(sys.argv) > 2 else 8
rng = np.random.default_rng(13)
W = 4096
nodes = [helper.make_node("Flatten", ["x"], ["h0"], axis=1)]
inits = []
for i in range(layers + 1):
    n_out = W if i < layers else 10
    w = rng.standard_normal((n_out, W), dtype=np.float32) * np.float32(1.0 / 64)
    b = np.zeros(n_out, np.float32)
    inits += [numpy_helper.from_array(w, "w%d" % i), numpy_helper.from_array(b, "b%d" % i)]
    y = "g%d" % i if i < layers else "y"
    nodes.append(helper.make_node("Gemm", ["h%d" % i, "w%d" % i, "b%d" % i], [y], transB=1))
    if i < layers:
        nodes.append(helper.make_node("Relu", [y], ["h%d" % (i + 1)]))
g = helper.make_graph(nodes, "big", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 64, 64])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])], inits)
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="nnguard-bench")
onnx.save(m, out)
print(out)
