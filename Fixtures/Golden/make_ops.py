"""Golden outputs and gradients of every engine operation, computed by PyTorch (an independent implementation).

Run with Debian's PyTorch:  /usr/bin/python3 Fixtures/Golden/make_ops.py
Writes Fixtures/Golden/ops.safetensors. For each case `name`: inputs `name.in.*`, output `name.out`, the upstream
gradient `name.up` (a random tensor r; the backward pass computes d(sum(out * r))/d(input)) and `name.grad.*`.
The specs read this file; the test run itself never needs Python.
"""
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from safetensors_io import save  # noqa: E402

torch.manual_seed(20261122)
out = {}


def case(name, fn, inputs, ints=None):
    """inputs: dict of float tensors (gradients wanted); ints: dict of integer inputs (no gradient)."""
    leaves = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
    result = fn(**leaves, **(ints or {}))
    up = torch.randn_like(result)
    (result * up).sum().backward()
    for k, v in inputs.items():
        out[f"{name}.in.{k}"] = v
    for k, v in (ints or {}).items():
        out[f"{name}.int.{k}"] = torch.as_tensor(v, dtype=torch.int64)
    out[f"{name}.out"] = result.detach()
    out[f"{name}.up"] = up
    for k, v in leaves.items():
        out[f"{name}.grad.{k}"] = v.grad


r = torch.randn
case("linear", lambda x, w, b: x @ w + b, {"x": r(3, 5, 7), "w": r(7, 4), "b": r(4)})
case("linear_t", lambda x, w, b: F.linear(x, w, b), {"x": r(6, 7), "w": r(4, 7), "b": r(4)})
case("bmm", lambda a, b: a @ b, {"a": r(2, 3, 5, 4), "b": r(2, 3, 4, 6)})
case("bmm_tt", lambda a, b: a.transpose(-1, -2) @ b.transpose(-1, -2), {"a": r(2, 3, 4, 5), "b": r(2, 3, 6, 4)})
wide = torch.cat([torch.linspace(-6, 6, 49), r(31) * 3])
case("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), {"x": wide})
case("gelu_erf", lambda x: F.gelu(x), {"x": wide})
case("silu", lambda x: F.silu(x), {"x": wide})
case("relu", lambda x: F.relu(x), {"x": wide + 0.01})
case("layer_norm", lambda x, g, b: F.layer_norm(x, (16,), g, b, 1e-5), {"x": r(4, 16) * 3 + 1, "g": r(16), "b": r(16)})
case("rms_norm", lambda x, g: x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * g, {"x": r(4, 16) * 2, "g": r(16)})
case("softmax_large", lambda x: torch.softmax(x, -1), {"x": r(5, 9) * 4 + 100})


def causal(s):
    t = s.shape[-1]
    mask = torch.ones(t, t, dtype=torch.bool).triu(1)
    return torch.softmax(s.masked_fill(mask, float("-inf")), -1)


case("causal_softmax", causal, {"s": r(2, 3, 5, 5) * 2})
case("embedding", lambda table, ids: F.embedding(ids, table), {"table": r(11, 6)}, {"ids": torch.tensor([3, 0, 10, 3, 7, 1, 3])})


def rope_half(x, rotary_dim=8, theta=10000.0):
    # Hugging Face Llama / GPT-NeoX: rotate_half on the first rotary_dim dims, positions 0..T-1.
    t = x.shape[1]
    inv = 1.0 / (theta ** (torch.arange(0, rotary_dim, 2).float() / rotary_dim))
    ang = torch.outer(torch.arange(t).float(), inv)  # [T, rotary_dim/2]
    emb = torch.cat([ang, ang], -1)
    cos, sin = emb.cos()[None, :, None, :], emb.sin()[None, :, None, :]
    xr, xp = x[..., :rotary_dim], x[..., rotary_dim:]
    half = rotary_dim // 2
    rotated = torch.cat([-xr[..., half:], xr[..., :half]], -1)
    return torch.cat([xr * cos + rotated * sin, xp], -1)


def rope_interleaved(x, theta=10000.0):
    # Meta Llama / llama2.c: complex multiplication of pairs (0,1), (2,3), ...
    b, t, h, d = x.shape
    inv = 1.0 / (theta ** (torch.arange(0, d, 2).float() / d))
    ang = torch.outer(torch.arange(t).float(), inv)
    rot = torch.polar(torch.ones_like(ang), ang)[None, :, None, :]
    xc = torch.view_as_complex(x.float().reshape(b, t, h, d // 2, 2))
    return torch.view_as_real(xc * rot).reshape(b, t, h, d)


case("rope_half", lambda x: rope_half(x), {"x": r(2, 5, 3, 8)})
case("rope_half_partial", lambda x: rope_half(x, rotary_dim=4), {"x": r(2, 5, 3, 8)})
case("rope_interleaved", lambda x: rope_interleaved(x), {"x": r(2, 5, 3, 8)})
case("cross_entropy", lambda logits, targets: F.cross_entropy(logits, targets, ignore_index=-100),
     {"logits": r(6, 10) * 3}, {"targets": torch.tensor([1, 9, -100, 0, 4, 4])})
case("permute", lambda x: x.permute(0, 2, 1, 3), {"x": r(2, 3, 4, 5)})
case("repeat_kv", lambda x: x[:, :, :, None, :].expand(2, 3, 2, 3, 4).reshape(2, 3, 6, 4), {"x": r(2, 3, 2, 4)})
case("mse", lambda a, b: F.mse_loss(a, b), {"a": r(4, 5), "b": r(4, 5)})
case("topk", lambda x: torch.zeros_like(x).scatter(-1, x.topk(3, -1).indices, x.topk(3, -1).values), {"x": r(4, 8)})
case("per_head_output", lambda z, w: torch.einsum("bphd,hdm->bphm", z, w.reshape(3, 4, 5)), {"z": r(2, 6, 3, 4), "w": r(12, 5)})

# AdamW: five steps on one parameter with given gradients, decoupled weight decay, and gradient clipping at 1.0.
p0 = r(5, 3)
grads = r(5, 5, 3) * 2
p = p0.clone().requires_grad_(True)
opt = torch.optim.AdamW([p], lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)
norms = []
for g in grads:
    opt.zero_grad()
    p.grad = g.clone()
    norms.append(torch.nn.utils.clip_grad_norm_([p], 1.0))
    opt.step()
out["adamw.p0"] = p0
out["adamw.grads"] = grads
out["adamw.p5"] = p.detach()
out["adamw.norms"] = torch.stack(norms)

path = os.path.join(os.path.dirname(__file__), "ops.safetensors")
save(path, out, {"generator": "Fixtures/Golden/make_ops.py", "torch": torch.__version__})
print(f"wrote {path}: {len(out)} tensors, {os.path.getsize(path)} bytes")
