#!/usr/bin/env python3
"""bench/peers/torch_peer.py MODEL.pt C H W BATCH ITERS - PyTorch (Debian python3-torch, 2 threads,
eval, no_grad) running the TorchScript module of bench/peers/gen_models.py on random input: prints the
median seconds per batch of ITERS runs after 2 warm-up runs."""
import sys, time
import torch

torch.set_num_threads(2)
path, c, h, w, batch, iters = sys.argv[1], *map(int, sys.argv[2:7])
m = torch.jit.load(path).eval()
x = torch.rand(batch, c, h, w)
t = []
with torch.no_grad():
    for _ in range(2):
        m(x)
    for _ in range(iters):
        t0 = time.perf_counter(); m(x); t.append(time.perf_counter() - t0)
t.sort()
print("%.6f" % t[len(t) // 2])
