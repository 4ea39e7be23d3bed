"""Golden AdamW steps with gradient clipping, computed by PyTorch, for the training loop's spec (Specs/Training.fs).

Run with Debian's PyTorch:  /usr/bin/python3 Fixtures/Golden/make_adamw.py
Writes Fixtures/Golden/adamw.safetensors: a parameter `adamw.p0` [5, 3], five gradients `adamw.grads` [5, 5, 3], the
norms clip_grad_norm_ returned before clipping each (`adamw.norms`) and the parameter after five steps (`adamw.p5`).
The specs read this file; the test run itself never needs Python.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from safetensors_io import save  # noqa: E402

torch.manual_seed(20261201)

# Five steps on one parameter with given gradients, decoupled weight decay, and gradient clipping at 1.0.
p0 = torch.randn(5, 3)
grads = torch.randn(5, 5, 3) * 2
p = p0.clone().requires_grad_(True)
opt = torch.optim.AdamW([p], lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)
norms = []
for g in grads:
    opt.zero_grad()
    p.grad = g.clone()
    norms.append(torch.nn.utils.clip_grad_norm_([p], 1.0))
    opt.step()
out = {"adamw.p0": p0, "adamw.grads": grads, "adamw.p5": p.detach(), "adamw.norms": torch.stack(norms)}

path = os.path.join(os.path.dirname(__file__), "adamw.safetensors")
save(path, out, {"generator": "Fixtures/Golden/make_adamw.py", "torch": torch.__version__})
print(f"wrote {path}: {len(out)} tensors, {os.path.getsize(path)} bytes")
