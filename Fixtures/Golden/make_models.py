"""Small random GPT-2, BERT and Llama models in PyTorch, written the way Hugging Face's modeling code computes them
(Conv1D for GPT-2, post-LN BERT with its MLM head, Llama with rotate_half, repeat_kv and RMSNorm in float32), saved
in Hugging Face's layout (config.json + model.safetensors with HF tensor names), with PyTorch's logits and
attention patterns for fixed inputs in expected.safetensors.

Run with Debian's PyTorch:  /usr/bin/python3 Fixtures/Golden/make_models.py
Writes Fixtures/Golden/models/<name>/. The specs load these folders through the engine's Hugging Face loader and
compare; the test run itself never needs Python.
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from safetensors_io import save  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "models")
torch.set_grad_enabled(False)


def rand(*shape, std=0.3):
    return torch.randn(*shape) * std


def write(name, config, weights, expected):
    folder = os.path.join(ROOT, name)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")
    save(os.path.join(folder, "model.safetensors"), weights)
    save(os.path.join(folder, "expected.safetensors"), expected, {"generator": "Fixtures/Golden/make_models.py", "torch": torch.__version__})
    print(f"{name}: {sum(v.numel() for v in weights.values())} parameters")


# ---- GPT-2 (modeling_gpt2.py) ------------------------------------------------------------------------------------
def gpt2(name, d=45, layers=2, heads=5, ctx=32, vocab=101, seed=1):
    torch.manual_seed(seed)
    w = {"transformer.wte.weight": rand(vocab, d), "transformer.wpe.weight": rand(ctx, d)}
    for l in range(layers):
        p = f"transformer.h.{l}."
        w[p + "ln_1.weight"] = 1 + rand(d, std=0.1)
        w[p + "ln_1.bias"] = rand(d, std=0.1)
        w[p + "attn.c_attn.weight"] = rand(d, 3 * d)  # Conv1D: [in, out]
        w[p + "attn.c_attn.bias"] = rand(3 * d, std=0.1)
        w[p + "attn.c_proj.weight"] = rand(d, d)
        w[p + "attn.c_proj.bias"] = rand(d, std=0.1)
        w[p + "ln_2.weight"] = 1 + rand(d, std=0.1)
        w[p + "ln_2.bias"] = rand(d, std=0.1)
        w[p + "mlp.c_fc.weight"] = rand(d, 4 * d)
        w[p + "mlp.c_fc.bias"] = rand(4 * d, std=0.1)
        w[p + "mlp.c_proj.weight"] = rand(4 * d, d, std=0.15)
        w[p + "mlp.c_proj.bias"] = rand(d, std=0.1)
    w["transformer.ln_f.weight"] = 1 + rand(d, std=0.1)
    w["transformer.ln_f.bias"] = rand(d, std=0.1)

    ids = torch.randint(0, vocab, (2, 12))
    T, hd = ids.shape[1], d // heads
    h = w["transformer.wte.weight"][ids] + w["transformer.wpe.weight"][torch.arange(T)]
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    patterns = {}
    for l in range(layers):
        p = f"transformer.h.{l}."
        x = F.layer_norm(h, (d,), w[p + "ln_1.weight"], w[p + "ln_1.bias"], 1e-5)
        qkv = x @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
        q, k, v = (t.view(2, T, heads, hd).transpose(1, 2) for t in qkv.split(d, dim=2))
        scores = q @ k.transpose(-1, -2) / math.sqrt(hd)
        scores = torch.where(causal, scores, torch.tensor(torch.finfo(scores.dtype).min))
        pattern = torch.softmax(scores, -1)
        patterns[f"pattern.{l}"] = pattern
        z = (pattern @ v).transpose(1, 2).reshape(2, T, d)
        h = h + z @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
        x = F.layer_norm(h, (d,), w[p + "ln_2.weight"], w[p + "ln_2.bias"], 1e-5)
        m = F.gelu(x @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"], approximate="tanh")
        h = h + m @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
    h = F.layer_norm(h, (d,), w["transformer.ln_f.weight"], w["transformer.ln_f.bias"], 1e-5)
    logits = h @ w["transformer.wte.weight"].T
    config = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_embd": d, "n_layer": layers, "n_head": heads,
              "n_positions": ctx, "n_ctx": ctx, "vocab_size": vocab, "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new"}
    write(name, config, w, {"input_ids": ids, "logits": logits, **patterns})


# ---- BERT (modeling_bert.py, BertForMaskedLM) --------------------------------------------------------------------
def bert(name, d=36, layers=2, heads=4, inner=64, ctx=32, vocab=103, seed=2):
    torch.manual_seed(seed)
    b = "bert."
    w = {b + "embeddings.word_embeddings.weight": rand(vocab, d), b + "embeddings.position_embeddings.weight": rand(ctx, d),
         b + "embeddings.token_type_embeddings.weight": rand(2, d), b + "embeddings.LayerNorm.weight": 1 + rand(d, std=0.1),
         b + "embeddings.LayerNorm.bias": rand(d, std=0.1)}
    for l in range(layers):
        p = f"{b}encoder.layer.{l}."
        for part in ["query", "key", "value"]:
            w[p + f"attention.self.{part}.weight"] = rand(d, d)  # nn.Linear: [out, in]
            w[p + f"attention.self.{part}.bias"] = rand(d, std=0.1)
        w[p + "attention.output.dense.weight"] = rand(d, d)
        w[p + "attention.output.dense.bias"] = rand(d, std=0.1)
        w[p + "attention.output.LayerNorm.weight"] = 1 + rand(d, std=0.1)
        w[p + "attention.output.LayerNorm.bias"] = rand(d, std=0.1)
        w[p + "intermediate.dense.weight"] = rand(inner, d)
        w[p + "intermediate.dense.bias"] = rand(inner, std=0.1)
        w[p + "output.dense.weight"] = rand(d, inner, std=0.2)
        w[p + "output.dense.bias"] = rand(d, std=0.1)
        w[p + "output.LayerNorm.weight"] = 1 + rand(d, std=0.1)
        w[p + "output.LayerNorm.bias"] = rand(d, std=0.1)
    w["cls.predictions.transform.dense.weight"] = rand(d, d)
    w["cls.predictions.transform.dense.bias"] = rand(d, std=0.1)
    w["cls.predictions.transform.LayerNorm.weight"] = 1 + rand(d, std=0.1)
    w["cls.predictions.transform.LayerNorm.bias"] = rand(d, std=0.1)
    w["cls.predictions.bias"] = rand(vocab, std=0.1)

    T, hd, eps = 10, d // heads, 1e-12
    ids = torch.randint(0, vocab, (2, T))
    mask = torch.ones(2, T, dtype=torch.long)
    mask[1, 7:] = 0  # the second sequence is padded
    types = torch.zeros(2, T, dtype=torch.long)
    types[:, 5:] = 1
    emb = w[b + "embeddings.word_embeddings.weight"][ids] + w[b + "embeddings.position_embeddings.weight"][torch.arange(T)] \
        + w[b + "embeddings.token_type_embeddings.weight"][types]
    h = F.layer_norm(emb, (d,), w[b + "embeddings.LayerNorm.weight"], w[b + "embeddings.LayerNorm.bias"], eps)
    extended = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
    patterns = {}
    for l in range(layers):
        p = f"{b}encoder.layer.{l}."
        lin = lambda x, n: F.linear(x, w[p + n + ".weight"], w[p + n + ".bias"])  # noqa: E731
        q, k, v = (lin(h, f"attention.self.{n}").view(2, T, heads, hd).transpose(1, 2) for n in ["query", "key", "value"])
        scores = q @ k.transpose(-1, -2) / math.sqrt(hd) + extended
        pattern = torch.softmax(scores, -1)
        patterns[f"pattern.{l}"] = pattern
        context = (pattern @ v).transpose(1, 2).reshape(2, T, d)
        h = F.layer_norm(lin(context, "attention.output.dense") + h, (d,), w[p + "attention.output.LayerNorm.weight"],
                         w[p + "attention.output.LayerNorm.bias"], eps)
        inter = F.gelu(lin(h, "intermediate.dense"))
        h = F.layer_norm(lin(inter, "output.dense") + h, (d,), w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)
    t = F.gelu(F.linear(h, w["cls.predictions.transform.dense.weight"], w["cls.predictions.transform.dense.bias"]))
    t = F.layer_norm(t, (d,), w["cls.predictions.transform.LayerNorm.weight"], w["cls.predictions.transform.LayerNorm.bias"], eps)
    logits = t @ w[b + "embeddings.word_embeddings.weight"].T + w["cls.predictions.bias"]
    config = {"model_type": "bert", "architectures": ["BertForMaskedLM"], "hidden_size": d, "num_hidden_layers": layers,
              "num_attention_heads": heads, "intermediate_size": inner, "max_position_embeddings": ctx, "type_vocab_size": 2,
              "vocab_size": vocab, "layer_norm_eps": eps, "hidden_act": "gelu"}
    write(name, config, w, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types, "logits": logits, **patterns})


# ---- Llama (modeling_llama.py) -------------------------------------------------------------------------------------
def llama(name, d, heads, kv_heads, tied, layers=2, inner=72, ctx=32, vocab=97, theta=10000.0, seed=3, gated=True):
    torch.manual_seed(seed)
    hd = d // heads
    w = {"model.embed_tokens.weight": rand(vocab, d, std=0.5)}
    for l in range(layers):
        p = f"model.layers.{l}."
        w[p + "input_layernorm.weight"] = 1 + rand(d, std=0.1)
        w[p + "self_attn.q_proj.weight"] = rand(heads * hd, d)
        w[p + "self_attn.k_proj.weight"] = rand(kv_heads * hd, d)
        w[p + "self_attn.v_proj.weight"] = rand(kv_heads * hd, d)
        w[p + "self_attn.o_proj.weight"] = rand(d, heads * hd)
        w[p + "post_attention_layernorm.weight"] = 1 + rand(d, std=0.1)
        if gated:
            w[p + "mlp.gate_proj.weight"] = rand(inner, d)
        w[p + "mlp.up_proj.weight"] = rand(inner, d)
        w[p + "mlp.down_proj.weight"] = rand(d, inner, std=0.2)
    w["model.norm.weight"] = 1 + rand(d, std=0.1)
    if not tied:
        w["lm_head.weight"] = rand(vocab, d)

    eps = 1e-6
    ids = torch.randint(0, vocab, (2, 12))
    T = ids.shape[1]

    def rms(x, weight):
        x32 = x.to(torch.float32)
        return weight * (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps))

    def rotate_half(x):
        return torch.cat((-x[..., hd // 2:], x[..., : hd // 2]), dim=-1)

    inv_freq = 1.0 / (theta ** (torch.arange(0, hd, 2).float() / hd))
    freqs = torch.outer(torch.arange(T).float(), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[None, None], emb.sin()[None, None]
    causal = torch.full((T, T), torch.finfo(torch.float32).min).triu(1)
    h = w["model.embed_tokens.weight"][ids]
    patterns = {}
    for l in range(layers):
        p = f"model.layers.{l}."
        x = rms(h, w[p + "input_layernorm.weight"])
        q = F.linear(x, w[p + "self_attn.q_proj.weight"]).view(2, T, heads, hd).transpose(1, 2)
        k = F.linear(x, w[p + "self_attn.k_proj.weight"]).view(2, T, kv_heads, hd).transpose(1, 2)
        v = F.linear(x, w[p + "self_attn.v_proj.weight"]).view(2, T, kv_heads, hd).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k = k[:, :, None].expand(2, kv_heads, heads // kv_heads, T, hd).reshape(2, heads, T, hd)  # repeat_kv
        v = v[:, :, None].expand(2, kv_heads, heads // kv_heads, T, hd).reshape(2, heads, T, hd)
        scores = q @ k.transpose(2, 3) / math.sqrt(hd) + causal
        pattern = torch.softmax(scores.float(), dim=-1)
        patterns[f"pattern.{l}"] = pattern
        z = (pattern @ v).transpose(1, 2).reshape(2, T, heads * hd)
        h = h + F.linear(z, w[p + "self_attn.o_proj.weight"])
        x = rms(h, w[p + "post_attention_layernorm.weight"])
        if gated:
            hidden = F.silu(F.linear(x, w[p + "mlp.gate_proj.weight"])) * F.linear(x, w[p + "mlp.up_proj.weight"])
        else:  # SPD's LlamaSimpleMLP: a plain MLP with gelu
            hidden = F.gelu(F.linear(x, w[p + "mlp.up_proj.weight"]))
        h = h + F.linear(hidden, w[p + "mlp.down_proj.weight"])
    h = rms(h, w["model.norm.weight"])
    logits = F.linear(h, w["model.embed_tokens.weight"] if tied else w["lm_head.weight"])
    config = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": d, "intermediate_size": inner,
              "num_hidden_layers": layers, "num_attention_heads": heads, "num_key_value_heads": kv_heads, "vocab_size": vocab,
              "max_position_embeddings": ctx, "rms_norm_eps": eps, "rope_theta": theta, "tie_word_embeddings": tied, "hidden_act": "silu" if gated else "gelu"}
    write(name, config, w, {"input_ids": ids, "logits": logits, **patterns})


gpt2("gpt2-tiny")
bert("bert-tiny-random")
llama("llama-mha-tied", d=40, heads=4, kv_heads=4, tied=True)
llama("llama-gqa2-untied", d=40, heads=4, kv_heads=2, tied=False, seed=4)
llama("llama-gqa4-untied", d=48, heads=8, kv_heads=2, tied=False, theta=500000.0, seed=5)
llama("llama-plain-mlp", d=40, heads=4, kv_heads=2, tied=True, seed=6, gated=False)
