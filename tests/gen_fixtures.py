#!/usr/bin/python3
"""Generate the ONNX fixtures of nnguard's tests from PyTorch (test-time only).

Run with Debian's python (torch 1.13, onnx 1.12, numpy):  /usr/bin/python3 tests/gen_fixtures.py
Deterministic: every model and input comes from fixed seeds. Output (all under tests/fixtures/,
together well under 3 MB, committed so the normal test run needs no PyTorch):

  lenet5.onnx          LeNet-5 of shared/peers/torch_lenet_fmnist.py, 1 epoch of Fashion-MNIST
                       (Adam 1e-3, batch 64, seed 0), torch.onnx.export opset 13, batch dim "N".
  lenet5_logits.f32    PyTorch's logits for the first 2000 Fashion-MNIST test images
                       (2000 x 10 float32, little-endian, row-major).
  <name>.onnx          every other model: resbn (Conv+BN+residual Add+GAP+Gemm, eval mode with
                       non-trivial running stats) and one tiny model per engine op (op_*).
  <name>_in.f32        its input (float32 LE, row-major NCHW, shape in manifest.txt)
  <name>_out.f32       PyTorch's output for that input (float32 LE, shape in manifest.txt)
  manifest.txt         one line per <name>:  <name> <opset> <in dims, 'x'-joined> <out dims>
                       e.g. "op_conv_groups 13 2x4x9x9 2x6x4x4". Lines starting with # are comments.

Models built by torch.onnx.export where PyTorch emits the op; the rest (asymmetric pads, auto_pad,
Identity, Dropout, Constant nodes, default attributes, opset < 13 forms of Softmax, Pad, Slice,
Unsqueeze, negative Slice steps, ConstantOfShape, ReduceMean's axes input of opset 18, Gelu of
opset 20) are built with onnx.helper and
their outputs computed with torch.nn.functional or numpy. op_float_data has its initializers stored as float_data
instead of raw_data; op_constants holds Constant nodes (float scale and int64 Reshape shape).
"""
import gzip, io, os, struct, sys, warnings
import numpy as np
import torch, torch.nn as nn, torch.nn.functional as F
import onnx
from onnx import helper, numpy_helper, TensorProto

warnings.filterwarnings("ignore", message="It is recommended that constant folding")  # models are in eval mode
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures")
DATA = "/usr/share/datasets/fashion-mnist/"
manifest = []


def idx(path):
    with gzip.open(DATA + path) as f:
        data = f.read()
    magic, n = struct.unpack(">II", data[:8])
    if magic == 2051:
        r, c = struct.unpack(">II", data[8:16])
        return np.frombuffer(data, np.uint8, offset=16).reshape(n, 1, r, c).astype(np.float32) / 255.0
    return np.frombuffer(data, np.uint8, offset=8).astype(np.int64)


def f32(path, a):
    np.ascontiguousarray(a, dtype="<f4").tofile(os.path.join(OUT, path))


def dims(a):
    return "x".join(str(d) for d in a.shape)


def record(name, opset, x, y):
    f32(name + "_in.f32", x)
    f32(name + "_out.f32", y)
    manifest.append(f"{name} {opset} {dims(x)} {dims(y)}")


def export(name, model, x, opset=13):
    """torch.onnx.export with a dynamic batch dim; records input/output."""
    model.eval()
    xt = torch.from_numpy(x)
    with torch.no_grad():
        y = model(xt).numpy()
    buf = io.BytesIO()
    torch.onnx.export(model, xt, buf, opset_version=opset, input_names=["input"],
                      output_names=["output"], dynamic_axes={"input": {0: "N"}, "output": {0: "N"}},
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=True)
    m = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(OUT, name + ".onnx"))
    record(name, opset, x, y)
    return m


def save_helper(name, nodes, inits, x, y, opset=13, out_rank=None, check=True):
    """Build a model with onnx.helper around nodes reading "input" and writing "output"
    (check=False: an op newer than onnx 1.12 knows, e.g. Gelu of opset 20, declared at opset 18)."""
    in_shape = ["N"] + list(x.shape[1:])
    out_shape = ["N"] + list(y.shape[1:])
    g = helper.make_graph(nodes, name, [helper.make_tensor_value_info("input", TensorProto.FLOAT, in_shape)],
                          [helper.make_tensor_value_info("output", TensorProto.FLOAT, out_shape)],
                          initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="gen_fixtures")
    m.ir_version = 8 if opset >= 15 else 7
    if check:
        onnx.checker.check_model(m)
    onnx.save(m, os.path.join(OUT, name + ".onnx"))
    record(name, opset, x, y)


def rnd(*shape):
    return np.random.standard_normal(shape).astype(np.float32)


def init(name, a):
    return numpy_helper.from_array(np.asarray(a), name)


class LeNet5(nn.Module):
    def __init__(s):
        super().__init__()
        s.c1 = nn.Conv2d(1, 6, 5, padding=2); s.c2 = nn.Conv2d(6, 16, 5)
        s.f1 = nn.Linear(16 * 5 * 5, 120); s.f2 = nn.Linear(120, 84); s.f3 = nn.Linear(84, 10)

    def forward(s, x):
        x = F.max_pool2d(F.relu(s.c1(x)), 2); x = F.max_pool2d(F.relu(s.c2(x)), 2)
        x = x.flatten(1); return s.f3(F.relu(s.f2(F.relu(s.f1(x)))))


def lenet():
    torch.manual_seed(0)
    xtr, ytr = torch.from_numpy(idx("train-images-idx3-ubyte.gz")), torch.from_numpy(idx("train-labels-idx1-ubyte.gz"))
    xte = idx("t10k-images-idx3-ubyte.gz")[:2000]
    m = LeNet5(); opt = torch.optim.Adam(m.parameters(), 1e-3); B = 64
    perm = torch.randperm(len(xtr)); m.train()
    for i in range(0, len(xtr), B):
        j = perm[i:i + B]; opt.zero_grad(); F.cross_entropy(m(xtr[j]), ytr[j]).backward(); opt.step()
    m.eval()
    with torch.no_grad():
        logits = m(torch.from_numpy(xte)).numpy()
    buf = io.BytesIO()
    torch.onnx.export(m, torch.from_numpy(xte[:1]), buf, opset_version=13, input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    mo = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(mo)
    onnx.save(mo, os.path.join(OUT, "lenet5.onnx"))
    f32("lenet5_logits.f32", logits)
    print("lenet5: accuracy on the first 2000 test images %.2f%%" %
          (100.0 * (logits.argmax(1) == idx("t10k-labels-idx1-ubyte.gz")[:2000]).mean()))


class ResBN(nn.Module):
    def __init__(s):
        super().__init__()
        s.c1 = nn.Conv2d(3, 8, 3, padding=1, bias=False); s.b1 = nn.BatchNorm2d(8)
        s.c2 = nn.Conv2d(8, 8, 3, padding=1, bias=False); s.b2 = nn.BatchNorm2d(8)
        s.fc = nn.Linear(8, 10)

    def forward(s, x):
        h = F.relu(s.b1(s.c1(x)))
        h = F.relu(s.b2(s.c2(h)) + h)
        return s.fc(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))


def nontrivial_bn(model):
    for mod in model.modules():
        if isinstance(mod, nn.BatchNorm2d):
            c = mod.num_features
            mod.running_mean.copy_(torch.randn(c) * 0.5)
            mod.running_var.copy_(torch.rand(c) * 2 + 0.3)
            mod.weight.data.copy_(torch.rand(c) + 0.5)
            mod.bias.data.copy_(torch.randn(c) * 0.3)
    return model


class Lambda(nn.Module):
    def __init__(s, f, *mods):
        super().__init__(); s.f = f; s.mods = nn.ModuleList(mods)

    def forward(s, x):
        return s.f(x, *s.mods)


def torch_ops():
    L = Lambda
    export("resbn", nontrivial_bn(ResBN()), rnd(3, 3, 8, 8))
    export("op_conv_groups", nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2), rnd(2, 4, 9, 9))
    export("op_conv_depthwise", nn.Conv2d(4, 4, 3, padding=1, groups=4, bias=False), rnd(2, 4, 7, 7))
    export("op_conv_stride_dil", nn.Conv2d(3, 5, 3, stride=2, dilation=2, padding=2), rnd(2, 3, 11, 10), opset=11)
    export("op_conv_rect", nn.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=(1, 0)), rnd(2, 2, 8, 7), opset=17)
    export("op_maxpool_ceil", nn.MaxPool2d(3, stride=2, ceil_mode=True), rnd(2, 3, 10, 10))
    export("op_maxpool_ceil11", nn.MaxPool2d(3, stride=2, ceil_mode=True), rnd(2, 3, 8, 11), opset=11)
    export("op_maxpool_pad", nn.MaxPool2d(3, stride=2, padding=1), rnd(2, 3, 9, 9), opset=17)
    export("op_avgpool_excl", nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), rnd(2, 3, 9, 9))
    export("op_gap", L(lambda x, c: F.adaptive_avg_pool2d(c(x), 1), nn.Conv2d(3, 4, 1)), rnd(2, 3, 5, 6))
    export("op_gemm", L(lambda x, f: f(x.flatten(1)), nn.Linear(48, 7)), rnd(3, 3, 4, 4))
    p = nn.ParameterDict({"w": nn.Parameter(torch.randn(48, 5)), "cb": nn.Parameter(torch.randn(3, 1, 1)),
                          "rw": nn.Parameter(torch.randn(1, 1, 1, 4))})
    export("op_matmul", L(lambda x, p: torch.matmul(x.flatten(1), p["w"]), p), rnd(3, 3, 4, 4))
    export("op_add_bcast", L(lambda x, p: x + p["cb"] + p["rw"], p), rnd(2, 3, 5, 4))
    export("op_mul_bcast", L(lambda x, p: x * p["cb"] * p["rw"], p), rnd(2, 3, 5, 4))
    export("op_add_act", L(lambda x, a, b: a(x) + b(x) * a(x), nn.Conv2d(3, 4, 1), nn.Conv2d(3, 4, 3, padding=1)),
           rnd(2, 3, 5, 5))
    export("op_relu", nn.ReLU(), rnd(2, 3, 4, 4))
    export("op_leakyrelu", nn.LeakyReLU(0.1), rnd(2, 3, 4, 4))
    export("op_sigmoid", nn.Sigmoid(), rnd(2, 3, 4, 4) * 4)
    export("op_tanh", nn.Tanh(), rnd(2, 3, 4, 4) * 2)
    export("op_hardsigmoid", nn.Hardsigmoid(), rnd(2, 3, 4, 4) * 4)
    export("op_hardswish", nn.Hardswish(), rnd(2, 3, 4, 4) * 4, opset=17)
    export("op_batchnorm", nontrivial_bn(L(lambda x, c, b: b(c(x)), nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))),
           rnd(2, 3, 6, 6))
    export("op_batchnorm17", nontrivial_bn(L(lambda x, b: b(x), nn.BatchNorm2d(3))), rnd(2, 3, 4, 5), opset=17)
    export("op_flatten", L(lambda x: torch.flatten(x, 1)), rnd(2, 3, 4, 4))
    export("op_reshape", L(lambda x: x.reshape(-1, 6, 8)), rnd(2, 3, 4, 4))
    export("op_view_chain", L(lambda x, f: f(x.view(x.size(0), -1)), nn.Linear(48, 6)), rnd(2, 3, 4, 4))
    export("op_view_chain11", L(lambda x, f: f(x.view(x.size(0), -1)), nn.Linear(48, 6)), rnd(2, 3, 4, 4), opset=11)
    export("op_softmax", L(lambda x: F.softmax(x.flatten(1), dim=1)), rnd(2, 3, 4, 4))
    export("op_softmax11", L(lambda x: F.softmax(x.flatten(1), dim=1)), rnd(2, 3, 4, 4), opset=11)
    export("op_concat", L(lambda x, a, b: torch.cat([a(x), b(x)], 1), nn.Conv2d(3, 2, 1), nn.Conv2d(3, 5, 3, padding=1)),
           rnd(2, 3, 5, 5))
    export("op_mixed17", L(lambda x, c, b: F.softmax(F.leaky_relu(b(c(x)), 0.2).flatten(1), dim=1),
                           nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3)), rnd(2, 2, 4, 4), opset=17)


def helper_ops():
    t = torch.from_numpy
    # Conv with asymmetric pads (top, left, bottom, right) = (0, 1, 2, 1), no bias.
    x, w = rnd(2, 3, 6, 7), rnd(4, 3, 3, 3)
    y = F.conv2d(F.pad(t(x), (1, 1, 0, 2)), t(w)).numpy()
    save_helper("op_conv_asym", [helper.make_node("Conv", ["input", "W"], ["output"], name="conv", pads=[0, 1, 2, 1])],
                [init("W", w)], x, y)
    # Conv auto_pad SAME_UPPER stride 2 (extra pad at the end) and SAME_LOWER (extra at the start).
    b = rnd(3)
    x, w = rnd(2, 2, 7, 7), rnd(3, 2, 4, 4)
    # out = ceil(7/2) = 4, total pad = (4-1)*2 + 4 - 7 = 3: SAME_UPPER pads 1 before, 2 after.
    y = F.conv2d(F.pad(t(x), (1, 2, 1, 2)), t(w), t(b), stride=2).numpy()
    save_helper("op_conv_same_upper", [helper.make_node("Conv", ["input", "W", "B"], ["output"], name="conv",
                                                        auto_pad="SAME_UPPER", strides=[2, 2])],
                [init("W", w), init("B", b)], x, y)
    y = F.conv2d(F.pad(t(x), (2, 1, 2, 1)), t(w), t(b), stride=2).numpy()
    save_helper("op_conv_same_lower", [helper.make_node("Conv", ["input", "W", "B"], ["output"], name="conv",
                                                        auto_pad="SAME_LOWER", strides=[2, 2])],
                [init("W", w), init("B", b)], x, y, opset=11)
    # MaxPool auto_pad SAME_UPPER k3 s2 on 8x8: out 4, total pad 1 -> 0 before, 1 after (pads with -inf).
    x = rnd(2, 3, 8, 8)
    y = F.max_pool2d(F.pad(t(x), (0, 1, 0, 1), value=-np.inf), 3, 2).numpy()
    save_helper("op_maxpool_same", [helper.make_node("MaxPool", ["input"], ["output"], name="pool", kernel_shape=[3, 3],
                                                     strides=[2, 2], auto_pad="SAME_UPPER")], [], x, y)
    # AveragePool VALID (auto_pad) with a rectangular kernel.
    x = rnd(2, 3, 7, 8)
    y = F.avg_pool2d(t(x), (2, 3), (2, 3)).numpy()
    save_helper("op_avgpool_valid", [helper.make_node("AveragePool", ["input"], ["output"], name="pool",
                                                      kernel_shape=[2, 3], strides=[2, 3], auto_pad="VALID")], [], x, y)
    # AveragePool with pads counting the padding, and ceil_mode (PyTorch exports these with a Pad op).
    x = rnd(2, 3, 9, 9)
    y = F.avg_pool2d(t(x), 3, 2, padding=1, count_include_pad=True).numpy()
    save_helper("op_avgpool_incl", [helper.make_node("AveragePool", ["input"], ["output"], name="pool", kernel_shape=[3, 3],
                                                     strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1)], [], x, y)
    x = rnd(2, 2, 7, 7)
    y = F.avg_pool2d(t(x), 2, 2, ceil_mode=True).numpy()
    save_helper("op_avgpool_ceil", [helper.make_node("AveragePool", ["input"], ["output"], name="pool", kernel_shape=[2, 2],
                                                     strides=[2, 2], ceil_mode=1)], [], x, y)
    # Gemm with alpha/beta and transposes; default-attribute HardSigmoid and LeakyRelu.
    x, a, c = rnd(3, 2, 2, 3), rnd(5, 12), rnd(1, 5)
    y = (0.5 * (t(x).flatten(1) @ t(a).T) + 2.0 * t(c)).numpy()
    save_helper("op_gemm_attrs", [helper.make_node("Flatten", ["input"], ["f"], name="flat"),
                                  helper.make_node("Gemm", ["f", "A", "C"], ["output"], name="gemm", alpha=0.5, beta=2.0,
                                                   transB=1)], [init("A", a), init("C", c)], x, y)
    x = rnd(2, 3, 4, 4) * 4
    y = F.leaky_relu(torch.clamp(t(x) * 0.2 + 0.5, 0, 1), 0.01).numpy()
    save_helper("op_defaults", [helper.make_node("HardSigmoid", ["input"], ["h"], name="hs"),
                                helper.make_node("LeakyRelu", ["h"], ["output"], name="lr")], [], x, y)
    x = rnd(2, 3, 4, 4) * 4
    y = F.leaky_relu(t(x) - 1.0, 0.01).numpy()
    save_helper("op_leaky_default", [helper.make_node("Add", ["input", "mone"], ["s"], name="add"),
                 helper.make_node("LeakyRelu", ["s"], ["output"], name="lr")], [init("mone", np.float32([-1.0]))], x, y)
    # Identity and Dropout (inference: both pass through), opset 13 (ratio input) and 11 (ratio attribute).
    x, w = rnd(2, 3, 4, 4), rnd(2, 3, 1, 1)
    y = F.conv2d(t(x), t(w)).numpy()
    save_helper("op_identity_dropout", [
        helper.make_node("Identity", ["input"], ["i"], name="id"),
        helper.make_node("Dropout", ["i", "ratio", "train"], ["d", "mask"], name="drop"),
        helper.make_node("Conv", ["d", "W"], ["output"], name="conv")],
        [init("ratio", np.float32(0.3)), init("train", np.array(False)), init("W", w)], x, y)
    save_helper("op_dropout11", [
        helper.make_node("Dropout", ["input"], ["d"], name="drop", ratio=0.25),
        helper.make_node("Conv", ["d", "W"], ["output"], name="conv")], [init("W", w)], x, y, opset=11)
    # Constant nodes: a float scale and an int64 Reshape shape.
    x = rnd(2, 3, 4, 4)
    y = (t(x) * 1.5).reshape(-1, 12, 4).numpy()
    save_helper("op_constants", [
        helper.make_node("Constant", [], ["scale"], name="c_scale", value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.5])),
        helper.make_node("Constant", [], ["shape"], name="c_shape", value=helper.make_tensor("s", TensorProto.INT64, [3], [0, 12, -1])),
        helper.make_node("Mul", ["input", "scale"], ["m"], name="mul"),
        helper.make_node("Reshape", ["m", "shape"], ["output"], name="reshape")], [], x, y)


def new_ops():
    """The ops added for torchvision / transformer / RNN exports (issue 13)."""
    L, t = Lambda, torch.from_numpy
    p = nn.ParameterDict({"a": nn.Parameter(torch.randn(3, 1, 1)), "b": nn.Parameter(torch.rand(5) + 0.5),
                          "w": nn.Parameter(torch.randn(2, 5, 3))})
    export("op_clip_relu6", nn.ReLU6(), rnd(2, 3, 4, 4) * 5, opset=11)
    export("op_clip9", nn.Hardtanh(-0.5, 2.0), rnd(2, 3, 4, 4) * 2, opset=9)
    export("op_pad_avgpool", L(lambda x: F.avg_pool2d(F.pad(x, (1, 2, 0, 1)), 2)), rnd(2, 3, 5, 6))
    export("op_pad_zero", L(lambda x: F.avg_pool2d(F.pad(x, (0, 0, 0, 0)), 2, ceil_mode=True)), rnd(2, 3, 5, 5))
    export("op_transpose", L(lambda x: x.permute(0, 2, 3, 1) * 2), rnd(2, 3, 4, 5))
    export("op_slice", L(lambda x: x[:, 1:, ::2, -3:]), rnd(2, 3, 5, 6))
    export("op_reducemean", L(lambda x: x.mean((1, 3))), rnd(2, 3, 4, 5))
    export("op_reducemean_keep", L(lambda x: x.mean(-1, keepdim=True)), rnd(2, 3, 4, 5), opset=11)
    export("op_arith", L(lambda x, p: torch.sqrt(((x - p["a"]) / p["b"]) ** 2 + 1.0), p), rnd(2, 3, 4, 5))
    export("op_matmul_batched", L(lambda x, p: torch.matmul(x, p["w"]), p), rnd(3, 2, 4, 5))
    export("op_matmul_act", L(lambda x: torch.matmul(x, x.transpose(-1, -2)).softmax(-1)), rnd(2, 3, 4, 5))
    export("op_gather", L(lambda x: x[:, 1] + x[:, -1]), rnd(2, 3, 4))
    export("op_index_select", L(lambda x: torch.index_select(x, 2, torch.tensor([0, 2, 2, 1]))), rnd(2, 3, 4))
    export("op_split", L(lambda x: torch.cat(list(reversed(x.chunk(3, 1))), 3)), rnd(2, 6, 2, 2))
    export("op_split11", L(lambda x: torch.cat(list(reversed(torch.split(x, [1, 3], 1))), 1)), rnd(2, 4, 3, 2), opset=11)
    export("op_shuffle", L(lambda x: x.view(x.size(0), 2, x.size(1) // 2, x.size(2), x.size(3)).transpose(1, 2)
                           .reshape(x.size(0), -1, x.size(2), x.size(3))), rnd(2, 6, 3, 3))
    export("op_layernorm17", nn.LayerNorm(5), rnd(2, 3, 5), opset=17)
    export("op_layernorm13", nn.LayerNorm([3, 5]), rnd(2, 3, 5))
    export("op_gelu_erf", nn.GELU(), rnd(2, 3, 5) * 2)
    export("op_lstm_bidir", L(lambda x, r: r(x)[0], nn.LSTM(4, 3, bidirectional=True, batch_first=True)), rnd(2, 5, 4))
    export("op_gru", L(lambda x, r: r(x)[1].transpose(0, 1).flatten(1), nn.GRU(4, 3, num_layers=2, batch_first=True)), rnd(2, 5, 4))
    x = rnd(2, 3, 4)
    y = torch.softmax(t(x).flatten(1), 1).reshape(2, 3, 4).numpy()
    save_helper("op_softmax_2d", [helper.make_node("Softmax", ["input"], ["output"], name="sm", axis=1)], [], x, y, opset=11)
    x = rnd(2, 3, 6)
    y = np.pad(x[:, :, 1:], ((0, 0), (1, 2), (0, 1)), constant_values=0.5)
    save_helper("op_pad9", [helper.make_node("Pad", ["input"], ["output"], name="pad", pads=[0, 1, -1, 0, 2, 1],
                                             value=0.5)], [], x, y, opset=9)
    y = x[:, ::-1, -2::-2]
    save_helper("op_slice_neg", [helper.make_node("Slice", ["input", "s", "e", "a", "st"], ["output"], name="slice")],
                [init("s", np.int64([-1, -2])), init("e", np.int64([-2**63, -100])), init("a", np.int64([1, 2])),
                 init("st", np.int64([-1, -2]))], x, y)
    y = x[:, 1:3, :4]
    save_helper("op_slice9", [helper.make_node("Slice", ["input"], ["output"], name="slice", starts=[1, 0], ends=[3, 4],
                                               axes=[1, 2])], [], x, y, opset=9)
    y = x.reshape(2, 1, 3, 6, 1)
    save_helper("op_unsqueeze11", [helper.make_node("Unsqueeze", ["input"], ["u"], name="u", axes=[1, -1]),
                                   helper.make_node("Squeeze", ["u"], ["q"], name="q", axes=[4]),
                                   helper.make_node("Unsqueeze", ["q"], ["output"], name="u2", axes=[4])], [], x, y, opset=11)
    save_helper("op_unsqueeze13", [helper.make_node("Unsqueeze", ["input", "ax"], ["u"], name="u"),
                                   helper.make_node("Squeeze", ["u", "ax4"], ["q"], name="q"),
                                   helper.make_node("Unsqueeze", ["q", "ax4"], ["output"], name="u2")],
                [init("ax", np.int64([1, -1])), init("ax4", np.int64([4]))], x, y)
    y = x + 0.25
    save_helper("op_constantofshape", [
        helper.make_node("ConstantOfShape", ["shape"], ["c"], name="cos",
                         value=helper.make_tensor("v", TensorProto.FLOAT, [1], [0.25])),
        helper.make_node("Add", ["input", "c"], ["output"], name="add")], [init("shape", np.int64([3, 6]))], x, y)
    y = x.mean(axis=2)
    save_helper("op_reducemean18", [helper.make_node("ReduceMean", ["input", "ax"], ["output"], name="rm", keepdims=0)],
                [init("ax", np.int64([-1]))], x, y, opset=18, check=False)
    y = F.gelu(t(x), approximate="tanh").numpy()
    save_helper("op_gelu20", [helper.make_node("Gelu", ["input"], ["output"], name="gelu", approximate="tanh")], [], x, y,
                opset=18, check=False)


def float_data_model():
    """op_float_data: the op_batchnorm model with every initializer moved from raw_data to float_data."""
    m = onnx.load(os.path.join(OUT, "op_batchnorm.onnx"))
    for ti in m.graph.initializer:
        if ti.data_type == TensorProto.FLOAT:
            a = numpy_helper.to_array(ti)
            ti.ClearField("raw_data")
            ti.float_data.extend(a.flatten().tolist())
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(OUT, "op_float_data.onnx"))
    for sfx in ("_in.f32", "_out.f32"):
        with open(os.path.join(OUT, "op_batchnorm" + sfx), "rb") as f, open(os.path.join(OUT, "op_float_data" + sfx), "wb") as g:
            g.write(f.read())
    line = [l for l in manifest if l.startswith("op_batchnorm ")][0]
    manifest.append(line.replace("op_batchnorm", "op_float_data", 1))


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(2)
    np.random.seed(1234); torch.manual_seed(1234)
    torch_ops()
    np.random.seed(4321); torch.manual_seed(4321)
    helper_ops()
    np.random.seed(1313); torch.manual_seed(1313)
    new_ops()
    float_data_model()
    with open(os.path.join(OUT, "manifest.txt"), "w") as f:
        f.write("# name opset input-dims output-dims (see tests/gen_fixtures.py)\n")
        f.write("\n".join(manifest) + "\n")
    if "--no-lenet" not in sys.argv:
        lenet()
    total = sum(os.path.getsize(os.path.join(OUT, p)) for p in os.listdir(OUT))
    print(f"{len(manifest)} fixtures + lenet5, {total} bytes in {OUT}")


if __name__ == "__main__":
    main()
