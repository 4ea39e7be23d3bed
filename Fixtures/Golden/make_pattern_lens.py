"""Detector scores on the real pattern_lens patterns (../shared/patterns/pattern-lens-demo), computed with NumPy straight
from the definitions in CLAIMS.md §1, as an independent check of the engine's Detectors/DetectionMatrices.

Run:  /usr/bin/python3 Fixtures/Golden/make_pattern_lens.py ../shared/patterns/pattern-lens-demo
Writes Fixtures/Golden/pattern_lens.json: per model, [layer][head] matrices of each score (numbers derived from the
shared data; none of the data itself is copied).
"""
import glob
import io
import json
import os
import sys
import zipfile

import numpy as np

BOS = "<|endoftext|>"


def load(model_folder):
    cfg = json.load(open(os.path.join(model_folder, "model_cfg.json")))
    order = [json.loads(l)["hash"] for l in open(os.path.join(model_folder, "prompts.jsonl")) if l.strip()]
    prompts = []
    for h in order:
        folder = os.path.join(model_folder, "prompts", h)
        tokens = [BOS] + json.load(open(os.path.join(folder, "prompt.json")))["tokens"]
        z = zipfile.ZipFile(os.path.join(folder, "activations.npz"))
        layers = [np.load(io.BytesIO(z.read(f"blocks.{l}.attn.hook_pattern.npy")))[0].astype(np.float64) for l in range(cfg["n_layers"])]
        prompts.append((tokens, np.stack(layers)))  # [layer, head, T, T]
    return cfg, prompts


def is_delimiter(token):
    text = token.replace("Ġ", " ").replace("Ċ", "\n").replace(" ", "")
    return len(text) > 0 and all(c in ".,;:!?\n\r" for c in text)


def scores(prompts):
    L, H = prompts[0][1].shape[:2]
    out = {}
    # previous-token and BOS: pooled means
    out["previous-token"] = sum(np.diagonal(a, offset=-1, axis1=2, axis2=3).sum(-1) for _, a in prompts) / sum(a.shape[-1] - 1 for _, a in prompts)
    out["BOS"] = sum(a[:, :, :, 0].sum(-1) for _, a in prompts) / sum(a.shape[-1] for _, a in prompts)
    # positional profile, d < min(128, median length / 2)
    lengths = sorted(a.shape[-1] for _, a in prompts)
    max_offset = max(2, min(128, lengths[len(lengths) // 2] // 2))
    sums = np.zeros((L, H, max_offset)); counts = np.zeros(max_offset)
    for _, a in prompts:
        T = a.shape[-1]
        for d in range(min(max_offset, T)):
            sums[:, :, d] += np.diagonal(a, offset=-d, axis1=2, axis2=3).sum(-1)
            counts[d] += T - d
    profile = sums / counts
    peak = 1 + np.argmax(profile[:, :, 1:], axis=-1)
    out["positional"] = np.take_along_axis(profile, peak[:, :, None], -1)[:, :, 0]
    out["positional peak"] = peak.astype(float)
    out["positional max offset"] = max_offset
    # duplicate-token: queries with an earlier identical token string
    dup_sum = np.zeros((L, H)); dup_count = 0
    for tokens, a in prompts:
        for q in range(len(tokens)):
            earlier = [k for k in range(q) if tokens[k] == tokens[q]]
            if earlier:
                dup_sum += a[:, :, q, earlier].sum(-1)
                dup_count += 1
    out["duplicate-token"] = dup_sum / dup_count
    # delimiter: mass on delimiters per query, over the delimiters' share of tokens
    mass = np.zeros((L, H)); queries = 0; delimiters = 0; total = 0
    for tokens, a in prompts:
        d = np.array([is_delimiter(t) for t in tokens], dtype=float)
        delimiters += d.sum(); total += len(tokens)
        mass += (a * d[None, None, None, :]).sum(-1).sum(-1)
        queries += len(tokens)
    out["delimiter"] = (mass / queries) / (delimiters / total)
    # TransformerLens detection matrices, mul, averaged over prompts
    for name in ["previous_token", "duplicate_token", "induction"]:
        acc = np.zeros((L, H))
        for tokens, a in prompts:
            T = len(tokens)
            if name == "previous_token":
                D = np.zeros((T, T)); D[1:, :-1] = np.eye(T - 1); D = np.tril(D)
            else:
                eq = np.array([[tokens[i] == tokens[j] for j in range(T)] for i in range(T)], dtype=float)
                np.fill_diagonal(eq, 0)
                dup = np.tril(eq)
                if name == "duplicate_token":
                    D = dup
                else:
                    shifted = np.roll(dup, 1, axis=1)
                    D = np.tril(np.concatenate([np.zeros((T, 1)), shifted[:, 1:]], axis=1))
            acc += (a * D).sum((-1, -2)) / a.sum((-1, -2))
        out[f"TL {name} (mul)"] = acc / len(prompts)
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in out.items()}


root = sys.argv[1] if len(sys.argv) > 1 else "../shared/patterns/pattern-lens-demo"
result = {"generator": "Fixtures/Golden/make_pattern_lens.py", "numpy": np.__version__, "models": {}}
for folder in sorted(glob.glob(os.path.join(root, "*", "model_cfg.json"))):
    model_folder = os.path.dirname(folder)
    cfg, prompts = load(model_folder)
    result["models"][cfg["model_name"]] = scores(prompts)
    print(cfg["model_name"], len(prompts), "prompts")
path = os.path.join(os.path.dirname(__file__), "pattern_lens.json")
json.dump(result, open(path, "w"), separators=(",", ":"))
print("wrote", path)
