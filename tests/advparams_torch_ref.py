#!/usr/bin/env python3
"""PyTorch reference for the AdvParams greedy rule (test_advparams checks its numbers).

Run test_advparams with NG_ADV_DUMP_SET=DIR: it writes the encryption set that
ng_dataset_subset(train, count 512, seed 0) draws (DIR/set_x.f32: 512x1x28x28 float32 LE,
DIR/set_y.i32: 512 int32 LE). Then

    /usr/bin/python3 tests/advparams_torch_ref.py DIR tests/fixtures/lenet5.onnx

prints, for the first 7 greedy steps, the loss and accuracy on the set before the step and the
parameter picked (largest |d mean cross-entropy / d w| over the *.weight tensors with 2+ dims,
not yet picked) with its gradient; the picked weight goes to its tensor's original max (grad > 0)
or min (grad < 0). Measured with torch 1.13 (the numbers in test_advparams.c):
  step 1: loss 0.4354 acc 0.8379 -> f3.weight[756] grad +0.1025
  step 2: loss 0.4412 acc 0.8359 -> c1.weight[47]  grad -0.1182
  step 3: loss 0.5084 acc 0.8223 -> c1.weight[21]  grad -0.2476
  step 4: loss 0.6661 acc 0.7656 -> c1.weight[91]  grad -0.4125
  step 5: loss 0.8803 acc 0.6992 -> f3.weight[792] grad +0.5454
  step 6: loss 0.9309 acc 0.6758 -> f3.weight[780] grad +0.6306
  step 7: loss 0.9808 acc 0.6602 -> f3.weight[779] grad +0.7001
"""
import sys
import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import numpy_helper


class LeNet5(nn.Module):   # as tests/gen_fixtures.py
    def __init__(s):
        super().__init__()
        s.c1 = nn.Conv2d(1, 6, 5, padding=2); s.c2 = nn.Conv2d(6, 16, 5)
        s.f1 = nn.Linear(16 * 5 * 5, 120); s.f2 = nn.Linear(120, 84); s.f3 = nn.Linear(84, 10)

    def forward(s, x):
        x = F.max_pool2d(F.relu(s.c1(x)), 2); x = F.max_pool2d(F.relu(s.c2(x)), 2)
        return s.f3(F.relu(s.f2(F.relu(s.f1(x.flatten(1))))))


def main(d, model):
    m = LeNet5()
    o = onnx.load(model)
    m.load_state_dict({t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in o.graph.initializer})
    x = torch.from_numpy(np.fromfile(d + "/set_x.f32", np.float32).reshape(-1, 1, 28, 28))
    y = torch.from_numpy(np.fromfile(d + "/set_y.i32", np.int32).astype(np.int64))
    params = [(n, p) for n, p in m.named_parameters() if n.endswith(".weight") and p.dim() >= 2]
    ranges = [(p.detach().min().item(), p.detach().max().item()) for _, p in params]
    chosen = set()
    for step in range(1, 8):
        m.zero_grad()
        loss = F.cross_entropy(m(x), y)
        loss.backward()
        with torch.no_grad():
            acc = (m(x).argmax(1) == y).float().mean().item()
        best = None
        for ti, (_, p) in enumerate(params):
            g = p.grad.flatten().abs().clone()
            for a, b in chosen:
                if a == ti:
                    g[b] = -1
            j = int(g.argmax())
            if best is None or g[j] > best[0]:
                best = (g[j].item(), ti, j, p.grad.flatten()[j].item())
        _, ti, j, gv = best
        chosen.add((ti, j))
        print("step %d: loss %.4f acc %.4f -> %s[%d] grad %+.4g" % (step, loss.item(), acc, params[ti][0], j, gv))
        with torch.no_grad():
            params[ti][1].view(-1)[j] = ranges[ti][1] if gv > 0 else ranges[ti][0]


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
