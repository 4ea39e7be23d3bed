"""Attention-motif features computed with NumPy/SciPy, the way mivanit/attention-motifs computes them (its
vec_features: numpy and scipy.stats/scipy.signal calls), as an independent check of the engine's Motifs.cs.

Run with Debian's Python:  apt-get install python3-scipy && /usr/bin/python3 Fixtures/Golden/make_motifs.py
Writes Fixtures/Golden/motifs.json: inputs and their features.
"""
import json
import os

import numpy as np
import scipy.signal as signal
import scipy.stats as stats


def vec_features(arr):
    n = arr.size
    bins = 10 if n >= 10 else n
    hist, _ = np.histogram(arr, bins=bins)
    probs = hist.astype(float) / hist.sum() if hist.sum() > 0 else hist.astype(float)
    out = dict(
        mean=np.mean(arr), median=np.median(arr), variance=np.var(arr, ddof=1), std=np.std(arr, ddof=1),
        skewness=stats.skew(arr), kurtosis=stats.kurtosis(arr), entropy=stats.entropy(probs, base=2),
        L1_norm=np.sum(np.abs(arr)) / n, L2_norm=np.linalg.norm(arr, ord=2) / n, rms=np.sqrt(np.mean(arr ** 2)),
        energy=np.sum(arr ** 2),
    )
    autocorr = np.corrcoef(arr[:-1], arr[1:])[0, 1] if np.std(arr[:-1]) > 0 and np.std(arr[1:]) > 0 else 0.0
    _, psd = signal.welch(arr, nperseg=n)
    fit = stats.linregress(np.arange(n), arr)
    out.update({
        "zero_crossing_rate": np.sum(np.diff(np.signbit(arr))) / (n - 1), "autocorr_lag1": autocorr,
        "psd_total_power": np.sum(psd), "linreg.slope": fit.slope, "linreg.intercept": fit.intercept, "linreg.r2": fit.rvalue ** 2,
    })
    # NaN (e.g. the skewness of a constant vector) is written as the string "NaN": JSON has no NaN.
    return {k: (float(v) if np.isfinite(v) else str(float(v))) for k, v in out.items()}


def hist_features(matrix):
    hist, _ = np.histogram(matrix.flatten(), np.linspace(0.0, 1.0, 33), density=True)
    return vec_features(np.nan_to_num(hist, nan=0.0))


def cosine_rows(m):
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    unit = np.divide(m, norms, out=np.zeros_like(m), where=norms > 0)
    return np.clip(unit @ unit.T, -1.0, 1.0)  # rounding can leave a cosine a hair above 1


def pattern_features(a):
    out = {}
    for prefix, feats in [("diag", vec_features(np.diagonal(a).copy())), ("first_tok", vec_features(a[:, 0].copy())),
                          ("gram.row", hist_features(a @ a.T)), ("gram.col", hist_features(a.T @ a)),
                          ("cos.row", hist_features(cosine_rows(a))), ("cos.col", hist_features(cosine_rows(a.T)))]:
        for k, v in feats.items():
            out[f"{prefix}.{k}"] = v
    return out


def figure1_patterns():
    """The source's Figure 1: 25 tokens, countries at 2 and 16, years at 4 and 19, capitals at 10 and 24."""
    n, countries, years, capitals = 25, [2, 16], [4, 19], [10, 24]

    def pattern(targets_for):
        a = np.zeros((n, n))
        for q in range(n):
            keys = targets_for(q)
            if keys:
                a[q, keys] = 1.0 / len(keys)
            else:
                a[q, q] = 1.0
        return a

    own_country = pattern(lambda q: [countries[capitals.index(q)]] if q in capitals else [])
    countries_before = pattern(lambda q: [c for c in countries if c <= q])
    years_before = pattern(lambda q: [y for y in years if y <= q])
    return {"capital attends to its country": own_country, "attends to countries before": countries_before,
            "attends to years before": years_before}


rng = np.random.default_rng(20261122)
cases = {"vectors": {}, "patterns": {}}
for name, v in {"one to four": np.array([1.0, 2.0, 3.0, 4.0]), "random 37": rng.normal(size=37),
                "constant": np.full(12, 0.25), "signed": np.array([0.5, -1.0, 2.0, -0.5, 0.0, 1.5, -2.0, 0.25, 3.0, -1.0, 0.75])}.items():
    cases["vectors"][name] = {"input": v.tolist(), "features": vec_features(v)}


def causal_random(n, sharp):
    logits = rng.normal(size=(n, n)) * sharp
    logits[np.triu_indices(n, 1)] = -np.inf
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


patterns = dict(figure1_patterns())
patterns["random causal soft"] = causal_random(17, 0.5)
patterns["random causal sharp"] = causal_random(23, 4.0)
for name, a in patterns.items():
    cases["patterns"][name] = {"input": a.tolist(), "features": pattern_features(a)}

path = os.path.join(os.path.dirname(__file__), "motifs.json")
with open(path, "w") as f:
    json.dump({"generator": "Fixtures/Golden/make_motifs.py", "numpy": np.__version__, "scipy": __import__("scipy").__version__, **cases},
              f, indent=None, separators=(",", ":"))
    f.write("\n")
print(f"wrote {path}: {len(cases['vectors'])} vectors, {len(cases['patterns'])} patterns")
