"""Detector scores on the real pattern_lens patterns (../shared/patterns/pattern-lens-demo), computed with NumPy straight
from the definitions in CLAIMS.md §1, as an independent check of the engine's Detectors/DetectionMatrices.

Run:  /usr/bin/python3 Fixtures/Golden/make_pattern_lens.py ../shared/patterns/pattern-lens-demo
Writes Fixtures/Golden/pattern_lens.json: per model, [layer][head] matrices of each score, and for each flagging
detector a 95 % percentile bootstrap interval over prompts with each head's call against the threshold (flagged,
borderline, not flagged). Numbers derived from the shared data; none of the data itself is copied.
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


# Flag thresholds of CLAIMS.md §1 (score > threshold flags a head).
THRESHOLDS = {"previous-token": 0.3, "BOS": 0.1, "positional": 0.3, "duplicate-token": 0.3, "delimiter": 2.0}


def per_prompt(prompts, max_offset):
    """Each flagging detector as a ratio of sums over prompts: per prompt, its numerator [L, H] and denominator."""
    stats = []
    for tokens, a in prompts:
        T = a.shape[-1]
        s = {}
        s["previous-token"] = (np.diagonal(a, offset=-1, axis1=2, axis2=3).sum(-1), T - 1)
        s["BOS"] = (a[:, :, :, 0].sum(-1), T)
        s["positional"] = (np.stack([np.diagonal(a, offset=-d, axis1=2, axis2=3).sum(-1) if d < T else np.zeros(a.shape[:2])
                                     for d in range(max_offset)], -1),
                           np.array([max(T - d, 0) for d in range(max_offset)], dtype=float))
        dup = np.zeros(a.shape[:2]); count = 0
        for q in range(len(tokens)):
            earlier = [k for k in range(q) if tokens[k] == tokens[q]]
            if earlier:
                dup += a[:, :, q, earlier].sum(-1); count += 1
        s["duplicate-token"] = (dup, count)
        d = np.array([is_delimiter(t) for t in tokens], dtype=float)
        s["delimiter"] = ((a * d[None, None, None, :]).sum(-1).sum(-1), (len(tokens), d.sum(), len(tokens)))
        stats.append(s)
    return stats


def pooled(stats, index):
    """The five scores over the prompts in `index` (with repeats), pooled exactly as scores() pools them."""
    out = {}
    for name in ["previous-token", "BOS", "duplicate-token"]:
        out[name] = sum(stats[i][name][0] for i in index) / sum(stats[i][name][1] for i in index)
    profile = sum(stats[i]["positional"][0] for i in index) / sum(stats[i]["positional"][1] for i in index)
    out["positional"] = profile[:, :, 1:].max(-1)
    mass = sum(stats[i]["delimiter"][0] for i in index)
    queries = sum(stats[i]["delimiter"][1][0] for i in index)
    delimiters = sum(stats[i]["delimiter"][1][1] for i in index)
    total = sum(stats[i]["delimiter"][1][2] for i in index)
    out["delimiter"] = (mass / queries) / (delimiters / total)
    return out


def intervals(prompts, max_offset, resamples=1000, seed=20261201):
    """Percentile 95 % bootstrap intervals over prompts of each flagging score, and each head's call against its
    threshold: "flagged" (interval above), "borderline" (straddles), or "not flagged"."""
    stats = per_prompt(prompts, max_offset)
    rng = np.random.default_rng(seed)
    draws = {name: [] for name in THRESHOLDS}
    for _ in range(resamples):
        index = rng.integers(0, len(prompts), len(prompts))
        for name, value in pooled(stats, index).items():
            draws[name].append(value)
    point = pooled(stats, range(len(prompts)))
    result = {}
    for name, threshold in THRESHOLDS.items():
        d = np.stack(draws[name])
        low, high = np.percentile(d, 2.5, axis=0), np.percentile(d, 97.5, axis=0)
        call = np.where(low > threshold, "flagged", np.where(high < threshold, "not flagged", "borderline"))
        result[name] = {"threshold": threshold, "score": point[name].tolist(), "low": low.tolist(), "high": high.tolist(), "call": call.tolist()}
    return {"resamples": resamples, "seed": seed, "level": 0.95, "detectors": result}


root = sys.argv[1] if len(sys.argv) > 1 else "../shared/patterns/pattern-lens-demo"
result = {"generator": "Fixtures/Golden/make_pattern_lens.py", "numpy": np.__version__, "models": {}}
for folder in sorted(glob.glob(os.path.join(root, "*", "model_cfg.json"))):
    model_folder = os.path.dirname(folder)
    cfg, prompts = load(model_folder)
    result["models"][cfg["model_name"]] = scores(prompts)
    result["models"][cfg["model_name"]]["bootstrap"] = intervals(prompts, result["models"][cfg["model_name"]]["positional max offset"])
    print(cfg["model_name"], len(prompts), "prompts")
path = os.path.join(os.path.dirname(__file__), "pattern_lens.json")
json.dump(result, open(path, "w"), separators=(",", ":"))
print("wrote", path)
