#!/usr/bin/env python3
"""bench/peers/gen_models.py OUT_DIR - the models of scripts/bench_ort.sh, random weights (seed 0), no
downloads: LeNet-5 (the architecture of tests/fixtures/lenet5.onnx, 1x28x28), torchvision resnet18 and
mobilenet_v2 (3x224x224, eval mode). Each as OUT_DIR/NAME.onnx (opset 13, dynamic batch) for nnguard and
ONNX Runtime, and OUT_DIR/NAME.pt (TorchScript trace of the same module) for the PyTorch peer.
Needs Debian's python3-torch, python3-torchvision and python3-onnx."""
import os, sys
import torch, torch.nn as nn, torch.nn.functional as F
import torchvision


class LeNet5(nn.Module):
    def __init__(s):
        super().__init__()
        s.c1 = nn.Conv2d(1, 6, 5, padding=2); s.c2 = nn.Conv2d(6, 16, 5)
        s.f1 = nn.Linear(16 * 5 * 5, 120); s.f2 = nn.Linear(120, 84); s.f3 = nn.Linear(84, 10)

    def forward(s, x):
        x = F.max_pool2d(F.relu(s.c1(x)), 2); x = F.max_pool2d(F.relu(s.c2(x)), 2)
        x = x.flatten(1); return s.f3(F.relu(s.f2(F.relu(s.f1(x)))))


out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, make, shape in (("lenet5", LeNet5, (1, 28, 28)),
                          ("resnet18", lambda: torchvision.models.resnet18(weights=None), (3, 224, 224)),
                          ("mobilenet_v2", lambda: torchvision.models.mobilenet_v2(weights=None), (3, 224, 224))):
    torch.manual_seed(0)
    m = make().eval()
    x = torch.rand(2, *shape)
    torch.onnx.export(m, x, os.path.join(out, name + ".onnx"), opset_version=13, input_names=["x"],
                      output_names=["y"], dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
    with torch.no_grad():
        torch.jit.save(torch.jit.trace(m, x), os.path.join(out, name + ".pt"))
    print(name, shape)
