"""Skip-gram rules of the zoo's rules model, computed with PyTorch (float64) from the formulas of
princeton-nlp/AttentionRules (src/utils/rule_utils.py: get_skipgrams_by_magnitude, get_distractor_key_for_feature),
as an independent check of Analysis/SkipGramRules.cs. Input features are token identities (rows of W_E); the
output SAE reads the head's hook_z, as the source's per-head SAEs do.

Also the model's forward pass written out by hand (1 layer, 1 head, attention only, no LayerNorm, no biases) on fixed
sequences: hook_z, the SAE's latents there, and the logits.

Run:  /usr/bin/python3 Fixtures/Golden/make_rules.py
Reads Fixtures/Zoo/Checkpoints/rules/{final,sae-L0H0}.safetensors; writes Fixtures/Golden/rules.json.
"""
import json
import math
import os
import struct

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ZOO = os.path.join(HERE, "..", "Zoo", "Checkpoints", "rules")
TOP_RULES = 12

NOISE = [f"n{i}" for i in range(40)]
WORDS = NOISE + ["a1", "b1", "c1", "a2", "b2", "c2", "a3", "b3", "c3", "a4", "b4", "c4", "d5", "a5", "b5", "c5"]
SEQUENCES = [
    "n3 a1 n7 n8 b1 c1 n2 n2 a3 n9 b3 c3 n0 b2 n4 n5".split(),
    "d5 n1 n2 b5 c5 n6 a5 n7 b5 n8 n9 n10 a4 b4 c4 n11".split(),
    "n12 n13 b1 n14 a2 n15 n16 n17 n18 b2 c2 n19 d5 a5 b5 n20".split(),
]


def read(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + n])
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", name
        start, end = info["data_offsets"]
        array = np.frombuffer(raw[8 + n + start : 8 + n + end], dtype="<f4").reshape(info["shape"])
        tensors[name] = torch.tensor(array.astype(np.float64))
    return tensors


def main():
    model = read(os.path.join(ZOO, "final.safetensors"))
    sae = read(os.path.join(ZOO, "sae-L0H0.safetensors"))
    W_E, W_pos, W_U = model["embed.W_E"], model["pos_embed.W_pos"], model["unembed.W_U"]
    W_Q, W_K, W_V, W_O = (model[f"blocks.0.attn.{w}"] for w in ("W_Q", "W_K", "W_V", "W_O"))
    W_enc, b_enc, W_dec, b_dec = sae["W_enc"], sae["b_enc"], sae["W_dec"], sae["b_dec"]
    d_head = W_Q.shape[1]  # one head: all columns

    # Rules: input features are tokens, so the "input SAE decoder" is W_E.
    D_Q, D_K, D_V = W_E @ W_Q, W_E @ W_K, W_E @ W_V
    n_inputs = W_E.shape[0]
    features = []
    for feat in range(W_enc.shape[1]):
        scores = D_V @ W_enc[:, feat]
        num_values = num_queries = min(100, n_inputs)
        _, top_values = torch.topk(scores, k=num_values)
        attn_scores, top_queries = torch.topk(D_K[top_values] @ D_Q.T, k=num_queries, dim=-1)
        rules = []
        for i, k_idx in enumerate(top_values.tolist()):
            for j, q_idx in enumerate(top_queries[i].tolist()):
                a, v = attn_scores[i, j].item(), scores[k_idx].item()
                rules.append({"key": k_idx, "query": q_idx, "attn_score": a, "value_score": v, "score": math.exp(a + 1e-10) * v})
        rules.sort(key=lambda r: -r["score"])

        # The distractor, as get_distractor_key_for_feature finds it.
        k = scores.argmax().item()
        q = (D_Q @ D_K[k]).argmax().item()
        kq_scores = D_Q[q] @ D_K.T
        top_keys_for_query = torch.argsort(-kq_scores)
        k_rank = torch.where(top_keys_for_query == k)[0][0].item()
        negatives = torch.where(scores[top_keys_for_query] < 0)[0]
        distractor = None
        if len(negatives):
            k_ = top_keys_for_query[negatives[0]].item()
            distractor = {"key": k_, "rank": negatives[0].item(), "attn_score": kq_scores[k_].item(), "value_score": scores[k_].item()}
        features.append({
            "feature": feat,
            "rules": rules[:TOP_RULES],
            "rule_count": len(rules),
            "distractor_search": {"key": k, "query": q, "key_rank": k_rank, "distractor": distractor},
        })

    # The forward pass, by hand.
    runs = []
    for words in SEQUENCES:
        tokens = torch.tensor([WORDS.index(w) for w in words])
        T = len(tokens)
        x = W_E[tokens] + W_pos[:T]
        q, k, v = x @ W_Q, x @ W_K, x @ W_V
        scores = (q @ k.T) / math.sqrt(d_head)
        scores = scores.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf"))
        z = torch.softmax(scores, -1) @ v  # hook_z [T, dHead]
        logits = (x + z @ W_O) @ W_U
        latents = torch.relu((z - b_dec) @ W_enc + b_enc)
        runs.append({"words": words, "tokens": tokens.tolist(), "hook_z": z.tolist(), "latents": latents.tolist(), "logits": logits.tolist()})

    out = {"source": "Fixtures/Golden/make_rules.py (PyTorch %s, float64)" % torch.__version__, "words": WORDS, "features": features, "runs": runs}
    with open(os.path.join(HERE, "rules.json"), "w") as f:
        json.dump(out, f, indent=None, separators=(",", ":"))
        f.write("\n")
    print("wrote rules.json:", len(features), "features,", len(runs), "runs")


if __name__ == "__main__":
    main()
