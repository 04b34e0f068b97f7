#!/usr/bin/python3
"""Make tests/fixtures/deeplock_dtypes.onnx: a small valid ONNX model whose initializers cover every
float dtype Deep-Lock locks (FLOAT as raw_data and as float_data, FLOAT16, BFLOAT16, DOUBLE) with
NaN/Inf/denormal/-0 values, plus an INT64 initializer that is not a parameter. The graph is one
Identity node (Deep-Lock works on the initializers, not the graph).
Run with Debian's python3 (onnx, numpy): /usr/bin/python3 tests/gen_deeplock_fixtures.py"""
import os
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(5)
special = np.array([np.nan, np.inf, -np.inf, -0.0, 1e-40, 1e-45], dtype=np.float32)   # 1e-40, 1e-45: denormals

w32 = rng.standard_normal((6, 7)).astype(np.float32)
w32.flat[:len(special)] = special
inits = [numpy_helper.from_array(w32, "w32.raw")]
fd = rng.standard_normal(9).astype(np.float32)
inits.append(helper.make_tensor("w32.float_data", TensorProto.FLOAT, [9], fd.tolist()))   # float_data, not raw
h = rng.standard_normal(11).astype(np.float16)
h[:3] = [np.nan, np.inf, np.float16(6e-8)]   # a float16 denormal
inits.append(numpy_helper.from_array(h, "w16"))
bf = (rng.standard_normal(10).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
bf[0] = 0x7fc1   # bfloat16 NaN with payload
bft = helper.make_tensor("wbf16", TensorProto.BFLOAT16, [10], bf.tobytes(), raw=True)
inits.append(bft)
d = rng.standard_normal((2, 3)).astype(np.float64)
d.flat[0] = 5e-324   # float64 denormal
inits.append(numpy_helper.from_array(d, "w64"))
inits.append(numpy_helper.from_array(np.array([3, 1, 4], dtype=np.int64), "steps"))

node = helper.make_node("Identity", ["x"], ["y"])
graph = helper.make_graph([node], "deeplock_dtypes",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], initializer=inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="nnguard-tests")
onnx.checker.check_model(model)
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "deeplock_dtypes.onnx")
onnx.save(model, out)
print("wrote", out, os.path.getsize(out), "bytes")
