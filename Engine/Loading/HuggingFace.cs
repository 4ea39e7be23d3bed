using System.Text.Json;
using System.Text.Json.Nodes;
using Verification.Engine.Models;
using Verification.Engine.Tensors;
using Verification.Engine.IO;

namespace Verification.Engine.Loading;

/// <summary>
/// Hugging Face checkpoints: config.json + model.safetensors for GPT-2, BERT and Llama, with HF's tensor names
/// mapped to TransformerLens's and every matrix laid out for x·W (HF's nn.Linear stores [out, in]; GPT-2's
/// Conv1D already stores [in, out]). Llama weights use the half-split rotary layout, matching HF's converter.
/// </summary>
public static class HuggingFace
{
    public static Transformer Load(string directory)
    {
        var configPath = Path.Combine(directory, "config.json");
        var weightsPath = Path.Combine(directory, "model.safetensors");
        var picklePath = Path.Combine(directory, "pytorch_model.bin");
        if (!File.Exists(configPath)) throw new ModelFileException(configPath, "file not found (a Hugging Face model folder needs config.json)");
        if (!File.Exists(weightsPath) && !File.Exists(picklePath))
            throw new ModelFileException(weightsPath, "file not found (nor pytorch_model.bin)");
        var c = new ConfigReader(configPath);
        // safetensors when both are there (the same weights, read without unpickling); else the PyTorch pickle.
        ITensorFile file = File.Exists(weightsPath) ? SafeTensors.Open(weightsPath) : PyTorchPickle.Open(picklePath);
        weightsPath = file.Path;
        // Some repositories' config.json has no model_type (prajjwal1/bert-tiny): infer the family from architectures
        // or, failing that, from the tensor names.
        var type = (c.String("model_type") ?? InferFamily(c, file) ?? "").ToLowerInvariant();
        // Anything still wrong below (a tensor whose shape does not fit the config) names the weights file.
        return ModelFileException.Guard(weightsPath, () => type switch
        {
            "gpt2" => (Transformer)Gpt2(c, file),
            "bert" => Bert(c, file),
            "llama" => Llama(c, file),
            _ => throw new ModelFileException(configPath, $"model_type '{type}' is not supported (gpt2, bert, llama)", field: "model_type"),
        });
    }

    /// <summary>gpt2, bert or llama from config.json's "architectures" (GPT2LMHeadModel, BertForMaskedLM, …) or the tensor names.</summary>
    static string? InferFamily(ConfigReader c, ITensorFile file)
    {
        foreach (var architecture in c.Strings("architectures"))
        {
            if (architecture.StartsWith("GPT2", StringComparison.Ordinal)) return "gpt2";
            if (architecture.StartsWith("Bert", StringComparison.Ordinal)) return "bert";
            if (architecture.StartsWith("Llama", StringComparison.Ordinal)) return "llama";
        }
        bool Has(string name) => file.Contains(name);
        if (Has("wte.weight") || Has("transformer.wte.weight")) return "gpt2";
        if (Has("embeddings.word_embeddings.weight") || Has("bert.embeddings.word_embeddings.weight")) return "bert";
        if (Has("model.embed_tokens.weight")) return "llama";
        return null;
    }

    /// <summary>
    /// A config.json read with its types checked: every size a positive integer, every epsilon a positive number, every
    /// name a string; a wrong value is a <see cref="ModelFileException"/> naming the file and the key.
    /// </summary>
    sealed class ConfigReader
    {
        readonly JsonObject json;

        public ConfigReader(string path)
        {
            Path = path;
            json = JsonFile.ParseObject(path);
        }

        public string Path { get; }

        /// <summary>The first of <paramref name="keys"/> present, as a positive integer; an error when none is.</summary>
        public int Size(params string[] keys) => OptionalSize(keys) ?? throw new ModelFileException(Path, $"config needs '{keys[0]}'", field: keys[0]);

        public int? OptionalSize(params string[] keys)
        {
            foreach (var key in keys)
            {
                if (!json.TryGetPropertyValue(key, out var node) || node is null) continue;
                if (node is not JsonValue v || v.GetValueKind() != JsonValueKind.Number)
                    throw new ModelFileException(Path, $"must be an integer, not {Kind(node)}", field: key);
                if (!v.TryGetValue<long>(out var n)) throw new ModelFileException(Path, $"must be an integer, not {v.ToJsonString()}", field: key);
                if (n <= 0 || n > int.MaxValue) throw new ModelFileException(Path, $"must be a positive size, not {n}", field: key);
                return (int)n;
            }
            return null;
        }

        public float Epsilon(string key, float fallback)
        {
            var value = Number(key, fallback);
            if (!(value > 0) || !float.IsFinite(value)) throw new ModelFileException(Path, $"must be a positive number, not {value}", field: key);
            return value;
        }

        public float Number(string key, float fallback)
        {
            if (!json.TryGetPropertyValue(key, out var node) || node is null) return fallback;
            if (node is not JsonValue v || !v.TryGetValue<double>(out var d)) throw new ModelFileException(Path, $"must be a number, not {Kind(node)}", field: key);
            return (float)d;
        }

        /// <summary>A list of strings (an absent key is an empty list).</summary>
        public IReadOnlyList<string> Strings(string key)
        {
            if (!json.TryGetPropertyValue(key, out var node) || node is null) return [];
            if (node is not JsonArray array || array.Any(n => n is not JsonValue v || v.GetValueKind() != JsonValueKind.String))
                throw new ModelFileException(Path, $"must be a list of strings, not {Kind(node)}", field: key);
            return [.. array.Select(n => n!.GetValue<string>())];
        }

        public bool Bool(string key, bool fallback)
        {
            if (!json.TryGetPropertyValue(key, out var node) || node is null) return fallback;
            if (node is not JsonValue v || !v.TryGetValue<bool>(out var b)) throw new ModelFileException(Path, $"must be true or false, not {Kind(node)}", field: key);
            return b;
        }

        public string? String(string key)
        {
            if (!json.TryGetPropertyValue(key, out var node) || node is null) return null;
            if (node is not JsonValue v || !v.TryGetValue<string>(out var text)) throw new ModelFileException(Path, $"must be a string, not {Kind(node)}", field: key);
            return text;
        }

        /// <summary>Heads must split the width evenly (head width = width / heads).</summary>
        public void CheckDivides(int width, string widthKey, int heads, string headsKey)
        {
            if (width % heads != 0)
                throw new ModelFileException(Path, $"{widthKey} = {width} is not a multiple of {headsKey} = {heads}: heads must split the width evenly", field: headsKey);
        }

        static string Kind(JsonNode node) => node.GetValueKind() switch
        {
            JsonValueKind.String => $"the string {node.ToJsonString()}",
            JsonValueKind.Array => "an array",
            JsonValueKind.Object => "an object",
            JsonValueKind.True or JsonValueKind.False => node.ToJsonString(),
            _ => node.ToJsonString(),
        };
    }

    /// <summary>Reads tensors by HF name, with an optional prefix some checkpoints add ("transformer.", "bert.").</summary>
    sealed class Reader(ITensorFile file, params string[] prefixes)
    {
        public readonly HashSet<string> Used = [];

        public string? Resolve(string name)
        {
            foreach (var prefix in prefixes.Append(""))
                if (file.Contains(prefix + name)) return prefix + name;
            return null;
        }

        public bool Has(string name) => Resolve(name) is not null;

        public Tensor Get(string name)
        {
            var full = Resolve(name) ?? throw new ModelFileException(file.Path, "missing from the checkpoint", name);
            Used.Add(full);
            return ModelFileException.RequireFinite(file.Path, full, file.Read(full));
        }

        /// <summary>nn.Linear weight [out, in] → [in, out].</summary>
        public Tensor Linear(string name)
        {
            var w = Get(name);
            if (w.Rank != 2) throw new ModelFileException(file.Path, $"expected a matrix, got {w.ShapeString}", name);
            return Tensor.Transposed(w.Data, w.Shape[0], w.Shape[1]);
        }
    }

    static Gpt2Model Gpt2(ConfigReader c, ITensorFile file)
    {
        var config = new Gpt2Config
        {
            VocabularySize = c.Size("vocab_size"), ContextLength = c.Size("n_positions", "n_ctx"),
            ModelWidth = c.Size("n_embd"), LayerCount = c.Size("n_layer"), HeadCount = c.Size("n_head"),
            MlpWidth = c.OptionalSize("n_inner") ?? checked(4 * c.Size("n_embd")),
            LayerNormEpsilon = c.Epsilon("layer_norm_epsilon", 1e-5f),
            TiedEmbeddings = c.Bool("tie_word_embeddings", true),
        };
        c.CheckDivides(config.ModelWidth, "n_embd", config.HeadCount, "n_head");
        var r = new Reader(file, "transformer.");
        var d = config.ModelWidth;
        var p = new Dictionary<string, Tensor>
        {
            ["embed.W_E"] = r.Get("wte.weight"),
            ["pos_embed.W_pos"] = r.Get("wpe.weight"),
            ["ln_final.w"] = r.Get("ln_f.weight"),
            ["ln_final.b"] = r.Get("ln_f.bias"),
        };
        if (!config.TiedEmbeddings) p["unembed.W_U"] = r.Linear("lm_head.weight");
        for (var l = 0; l < config.LayerCount; l++)
        {
            var h = $"h.{l}.";
            p[$"blocks.{l}.ln1.w"] = r.Get(h + "ln_1.weight");
            p[$"blocks.{l}.ln1.b"] = r.Get(h + "ln_1.bias");
            var qkv = r.Get(h + "attn.c_attn.weight");      // Conv1D [dModel, 3·dModel]
            var qkvBias = r.Get(h + "attn.c_attn.bias");   // [3·dModel]
            if (qkv.Rank != 2 || qkv.Shape[0] != d || qkv.Shape[1] != 3 * d)
                throw new ModelFileException(file.Path, $"has shape {qkv.ShapeString}, expected [{d}, {3 * d}] from n_embd", h + "attn.c_attn.weight");
            for (var part = 0; part < 3; part++)
            {
                var name = "QKV"[part];
                p[$"blocks.{l}.attn.W_{name}"] = Columns(qkv, part * d, d);
                p[$"blocks.{l}.attn.b_{name}"] = new Tensor(qkvBias.Data.AsSpan(part * d, d).ToArray(), d);
            }
            p[$"blocks.{l}.attn.W_O"] = r.Get(h + "attn.c_proj.weight");
            p[$"blocks.{l}.attn.b_O"] = r.Get(h + "attn.c_proj.bias");
            p[$"blocks.{l}.ln2.w"] = r.Get(h + "ln_2.weight");
            p[$"blocks.{l}.ln2.b"] = r.Get(h + "ln_2.bias");
            p[$"blocks.{l}.mlp.W_in"] = r.Get(h + "mlp.c_fc.weight");
            p[$"blocks.{l}.mlp.b_in"] = r.Get(h + "mlp.c_fc.bias");
            p[$"blocks.{l}.mlp.W_out"] = r.Get(h + "mlp.c_proj.weight");
            p[$"blocks.{l}.mlp.b_out"] = r.Get(h + "mlp.c_proj.bias");
        }
        if (r.Has("lm_head.weight")) r.Used.Add(r.Resolve("lm_head.weight")!);
        Unused(file, r.Used, name => name.EndsWith(".attn.bias", StringComparison.Ordinal) || name.EndsWith(".attn.masked_bias", StringComparison.Ordinal));
        return new Gpt2Model(config, p, file.Path);
    }

    static BertModel Bert(ConfigReader c, ITensorFile file)
    {
        var act = c.String("hidden_act") ?? "gelu";
        var config = new BertConfig
        {
            VocabularySize = c.Size("vocab_size"), ContextLength = c.Size("max_position_embeddings"),
            ModelWidth = c.Size("hidden_size"), LayerCount = c.Size("num_hidden_layers"),
            HeadCount = c.Size("num_attention_heads"), MlpWidth = c.Size("intermediate_size"),
            TypeVocabularySize = c.OptionalSize("type_vocab_size") ?? 2,
            LayerNormEpsilon = c.Epsilon("layer_norm_eps", 1e-12f),
            Activation = act is "gelu_new" or "gelu_pytorch_tanh" ? GeluForm.Tanh : GeluForm.Erf,
        };
        c.CheckDivides(config.ModelWidth, "hidden_size", config.HeadCount, "num_attention_heads");
        var r = new Reader(file, "bert.");
        // Old checkpoints name LayerNorm parameters gamma/beta.
        Tensor Ln(string prefix, string part) => r.Has($"{prefix}.{part}") ? r.Get($"{prefix}.{part}") : r.Get($"{prefix}.{(part == "weight" ? "gamma" : "beta")}");
        var p = new Dictionary<string, Tensor>
        {
            ["embed.W_E"] = r.Get("embeddings.word_embeddings.weight"),
            ["pos_embed.W_pos"] = r.Get("embeddings.position_embeddings.weight"),
            ["token_type_embed.W_token_type"] = r.Get("embeddings.token_type_embeddings.weight"),
            ["embed_ln.w"] = Ln("embeddings.LayerNorm", "weight"),
            ["embed_ln.b"] = Ln("embeddings.LayerNorm", "bias"),
        };
        for (var l = 0; l < config.LayerCount; l++)
        {
            var e = $"encoder.layer.{l}.";
            foreach (var (hf, ours) in new[] { ("query", "Q"), ("key", "K"), ("value", "V") })
            {
                p[$"blocks.{l}.attn.W_{ours}"] = r.Linear(e + $"attention.self.{hf}.weight");
                p[$"blocks.{l}.attn.b_{ours}"] = r.Get(e + $"attention.self.{hf}.bias");
            }
            p[$"blocks.{l}.attn.W_O"] = r.Linear(e + "attention.output.dense.weight");
            p[$"blocks.{l}.attn.b_O"] = r.Get(e + "attention.output.dense.bias");
            p[$"blocks.{l}.ln1.w"] = Ln(e + "attention.output.LayerNorm", "weight");
            p[$"blocks.{l}.ln1.b"] = Ln(e + "attention.output.LayerNorm", "bias");
            p[$"blocks.{l}.mlp.W_in"] = r.Linear(e + "intermediate.dense.weight");
            p[$"blocks.{l}.mlp.b_in"] = r.Get(e + "intermediate.dense.bias");
            p[$"blocks.{l}.mlp.W_out"] = r.Linear(e + "output.dense.weight");
            p[$"blocks.{l}.mlp.b_out"] = r.Get(e + "output.dense.bias");
            p[$"blocks.{l}.ln2.w"] = Ln(e + "output.LayerNorm", "weight");
            p[$"blocks.{l}.ln2.b"] = Ln(e + "output.LayerNorm", "bias");
        }
        if (!r.Has("cls.predictions.transform.dense.weight"))
        {
            // A BertModel checkpoint: the encoder alone (attention patterns and hidden states, no word predictions).
            Unused(file, r.Used, name => name.Contains("pooler", StringComparison.Ordinal) || name.EndsWith("position_ids", StringComparison.Ordinal));
            return new BertModel(config with { LanguageModelHead = false }, p, file.Path);
        }
        p["mlm_head.W"] = r.Linear("cls.predictions.transform.dense.weight");
        p["mlm_head.b"] = r.Get("cls.predictions.transform.dense.bias");
        p["mlm_head.ln.w"] = Ln("cls.predictions.transform.LayerNorm", "weight");
        p["mlm_head.ln.b"] = Ln("cls.predictions.transform.LayerNorm", "bias");
        p["unembed.b_U"] = r.Has("cls.predictions.bias") ? r.Get("cls.predictions.bias") : r.Get("cls.predictions.decoder.bias");
        Unused(file, r.Used, name => name.Contains("pooler", StringComparison.Ordinal) || name.Contains("seq_relationship", StringComparison.Ordinal)
                                     || name.EndsWith("decoder.weight", StringComparison.Ordinal) || name.EndsWith("decoder.bias", StringComparison.Ordinal)
                                     || name.EndsWith("position_ids", StringComparison.Ordinal));
        return new BertModel(config, p, file.Path);
    }

    static LlamaModel Llama(ConfigReader c, ITensorFile file)
    {
        var heads = c.Size("num_attention_heads");
        var width = c.Size("hidden_size");
        var headWidth = c.OptionalSize("head_dim");
        if (headWidth is null) c.CheckDivides(width, "hidden_size", heads, "num_attention_heads");
        var kvHeads = c.OptionalSize("num_key_value_heads") ?? heads;
        if (heads % kvHeads != 0)
            throw new ModelFileException(c.Path, $"num_attention_heads = {heads} is not a multiple of num_key_value_heads = {kvHeads}", field: "num_key_value_heads");
        var config = new LlamaConfig
        {
            VocabularySize = c.Size("vocab_size"), ContextLength = c.Size("max_position_embeddings"),
            ModelWidth = width, LayerCount = c.Size("num_hidden_layers"), HeadCount = heads,
            KeyValueHeads = kvHeads,
            HeadWidthOverride = headWidth ?? 0,
            MlpWidth = c.Size("intermediate_size"), RmsNormEpsilon = c.Epsilon("rms_norm_eps", 1e-6f),
            RopeTheta = c.Epsilon("rope_theta", 10000f), TiedEmbeddings = c.Bool("tie_word_embeddings", false),
            RotaryLayout = RotaryLayout.HalfSplit,
            // Without gate_proj the MLP is plain (SPD's LlamaSimpleMLP): activation(up_proj(x)) then down_proj.
            GatedMlp = file.Contains("model.layers.0.mlp.gate_proj.weight"),
            PlainActivation = (c.String("hidden_act") ?? "gelu") is "gelu_new" or "gelu_pytorch_tanh" ? GeluForm.Tanh : GeluForm.Erf,
        };
        var r = new Reader(file);
        var p = new Dictionary<string, Tensor>
        {
            ["embed.W_E"] = r.Get("model.embed_tokens.weight"),
            ["ln_final.w"] = r.Get("model.norm.weight"),
        };
        if (!config.TiedEmbeddings) p["unembed.W_U"] = r.Linear("lm_head.weight");
        for (var l = 0; l < config.LayerCount; l++)
        {
            var m = $"model.layers.{l}.";
            p[$"blocks.{l}.ln1.w"] = r.Get(m + "input_layernorm.weight");
            p[$"blocks.{l}.attn.W_Q"] = r.Linear(m + "self_attn.q_proj.weight");
            p[$"blocks.{l}.attn.W_K"] = r.Linear(m + "self_attn.k_proj.weight");
            p[$"blocks.{l}.attn.W_V"] = r.Linear(m + "self_attn.v_proj.weight");
            p[$"blocks.{l}.attn.W_O"] = r.Linear(m + "self_attn.o_proj.weight");
            p[$"blocks.{l}.ln2.w"] = r.Get(m + "post_attention_layernorm.weight");
            if (config.GatedMlp) p[$"blocks.{l}.mlp.W_gate"] = r.Linear(m + "mlp.gate_proj.weight");
            p[$"blocks.{l}.mlp.W_in"] = r.Linear(m + "mlp.up_proj.weight");
            p[$"blocks.{l}.mlp.W_out"] = r.Linear(m + "mlp.down_proj.weight");
        }
        if (config.TiedEmbeddings && r.Has("lm_head.weight")) r.Used.Add("lm_head.weight");
        Unused(file, r.Used, name => name.EndsWith("rotary_emb.inv_freq", StringComparison.Ordinal));
        return new LlamaModel(config, p, file.Path);
    }

    /// <summary>Columns [start, start+count) of a matrix.</summary>
    static Tensor Columns(Tensor w, int start, int count)
    {
        int rows = w.Shape[0], columns = w.Shape[1];
        var t = new Tensor(rows, count);
        for (var r = 0; r < rows; r++) Array.Copy(w.Data, r * columns + start, t.Data, r * count, count);
        return t;
    }

    /// <summary>A checkpoint tensor nobody read means the mapping is wrong for this file: say which.</summary>
    static void Unused(ITensorFile file, HashSet<string> used, Func<string, bool> ignorable)
    {
        var unused = file.Names.Where(k => !used.Contains(k) && !ignorable(k)).ToList();
        if (unused.Count > 0)
            throw new ModelFileException(file.Path, $"tensors this loader does not know: {string.Join(", ", unused.Take(6))}{(unused.Count > 6 ? ", …" : "")}");
    }

    /// <summary>One of our [in, out] matrices as nn.Linear stores it, [out, in].</summary>
    static Tensor OutIn(Transformer model, string ours)
    {
        var w = model.Parameter(ours);
        return Tensor.Transposed(w.Data, w.Shape[0], w.Shape[1]);
    }

    /// <summary>
    /// Writes a GPT-2 model as openai-community/gpt2's model.safetensors names it (wte, wpe, h.{l}.*, ln_f; Conv1D
    /// matrices [in, out], q, k and v side by side in c_attn) with the given config.json.
    /// </summary>
    public static void SaveGpt2(Gpt2Model model, string directory, JsonObject config)
    {
        var c = model.Config;
        Directory.CreateDirectory(directory);
        var t = new List<KeyValuePair<string, Tensor>>();
        void Add(string name, Tensor tensor) => t.Add(new(name, tensor));
        var d = c.ModelWidth;
        Add("wte.weight", model.Parameter("embed.W_E"));
        Add("wpe.weight", model.Parameter("pos_embed.W_pos"));
        for (var l = 0; l < c.LayerCount; l++)
        {
            var h = $"h.{l}.";
            Add(h + "ln_1.weight", model.Parameter($"blocks.{l}.ln1.w"));
            Add(h + "ln_1.bias", model.Parameter($"blocks.{l}.ln1.b"));
            var qkv = new Tensor(d, 3 * d);          // [dModel, 3·dModel]: columns q | k | v
            var qkvBias = new Tensor(3 * d);
            for (var part = 0; part < 3; part++)
            {
                var w = model.Parameter($"blocks.{l}.attn.W_{"QKV"[part]}"); // [dModel, dModel]
                for (var r = 0; r < d; r++) Array.Copy(w.Data, r * d, qkv.Data, r * 3 * d + part * d, d);
                Array.Copy(model.Parameter($"blocks.{l}.attn.b_{"QKV"[part]}").Data, 0, qkvBias.Data, part * d, d);
            }
            Add(h + "attn.c_attn.weight", qkv);
            Add(h + "attn.c_attn.bias", qkvBias);
            Add(h + "attn.c_proj.weight", model.Parameter($"blocks.{l}.attn.W_O"));
            Add(h + "attn.c_proj.bias", model.Parameter($"blocks.{l}.attn.b_O"));
            Add(h + "ln_2.weight", model.Parameter($"blocks.{l}.ln2.w"));
            Add(h + "ln_2.bias", model.Parameter($"blocks.{l}.ln2.b"));
            Add(h + "mlp.c_fc.weight", model.Parameter($"blocks.{l}.mlp.W_in"));
            Add(h + "mlp.c_fc.bias", model.Parameter($"blocks.{l}.mlp.b_in"));
            Add(h + "mlp.c_proj.weight", model.Parameter($"blocks.{l}.mlp.W_out"));
            Add(h + "mlp.c_proj.bias", model.Parameter($"blocks.{l}.mlp.b_out"));
        }
        Add("ln_f.weight", model.Parameter("ln_final.w"));
        Add("ln_f.bias", model.Parameter("ln_final.b"));
        if (!c.TiedEmbeddings)
        {
            var u = model.Parameter("unembed.W_U"); // [dModel, vocab] → lm_head [vocab, dModel]
            Add("lm_head.weight", Tensor.Transposed(u.Data, u.Shape[0], u.Shape[1]));
        }
        SafeTensors.Write(Path.Combine(directory, "model.safetensors"), t);
        AtomicFile.WriteAllText(Path.Combine(directory, "config.json"), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    /// <summary>
    /// Writes a BERT model as Hugging Face's BertForMaskedLM saves it (bert.* and cls.predictions.*, matrices [out, in])
    /// with the given config.json, so a folder laid out like a real download can be made from a zoo model.
    /// </summary>
    public static void SaveBert(BertModel model, string directory, JsonObject config)
    {
        var c = model.Config;
        Directory.CreateDirectory(directory);
        var t = new List<KeyValuePair<string, Tensor>>();
        Tensor Linear(string ours) => OutIn(model, ours);
        void Add(string name, Tensor tensor) => t.Add(new(name, tensor));
        Add("bert.embeddings.word_embeddings.weight", model.Parameter("embed.W_E"));
        Add("bert.embeddings.position_embeddings.weight", model.Parameter("pos_embed.W_pos"));
        Add("bert.embeddings.token_type_embeddings.weight", model.Parameter("token_type_embed.W_token_type"));
        Add("bert.embeddings.LayerNorm.weight", model.Parameter("embed_ln.w"));
        Add("bert.embeddings.LayerNorm.bias", model.Parameter("embed_ln.b"));
        for (var l = 0; l < c.LayerCount; l++)
        {
            var e = $"bert.encoder.layer.{l}.";
            foreach (var (hf, ours) in new[] { ("query", "Q"), ("key", "K"), ("value", "V") })
            {
                Add(e + $"attention.self.{hf}.weight", Linear($"blocks.{l}.attn.W_{ours}"));
                Add(e + $"attention.self.{hf}.bias", model.Parameter($"blocks.{l}.attn.b_{ours}"));
            }
            Add(e + "attention.output.dense.weight", Linear($"blocks.{l}.attn.W_O"));
            Add(e + "attention.output.dense.bias", model.Parameter($"blocks.{l}.attn.b_O"));
            Add(e + "attention.output.LayerNorm.weight", model.Parameter($"blocks.{l}.ln1.w"));
            Add(e + "attention.output.LayerNorm.bias", model.Parameter($"blocks.{l}.ln1.b"));
            Add(e + "intermediate.dense.weight", Linear($"blocks.{l}.mlp.W_in"));
            Add(e + "intermediate.dense.bias", model.Parameter($"blocks.{l}.mlp.b_in"));
            Add(e + "output.dense.weight", Linear($"blocks.{l}.mlp.W_out"));
            Add(e + "output.dense.bias", model.Parameter($"blocks.{l}.mlp.b_out"));
            Add(e + "output.LayerNorm.weight", model.Parameter($"blocks.{l}.ln2.w"));
            Add(e + "output.LayerNorm.bias", model.Parameter($"blocks.{l}.ln2.b"));
        }
        if (c.LanguageModelHead)
        {
            Add("cls.predictions.transform.dense.weight", Linear("mlm_head.W"));
            Add("cls.predictions.transform.dense.bias", model.Parameter("mlm_head.b"));
            Add("cls.predictions.transform.LayerNorm.weight", model.Parameter("mlm_head.ln.w"));
            Add("cls.predictions.transform.LayerNorm.bias", model.Parameter("mlm_head.ln.b"));
            Add("cls.predictions.bias", model.Parameter("unembed.b_U"));
        }
        SafeTensors.Write(Path.Combine(directory, "model.safetensors"), t);
        AtomicFile.WriteAllText(Path.Combine(directory, "config.json"), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    /// <summary>Writes a Llama model's tensors under HF's names (q/k rows permuted as HF's converter does).</summary>
    public static void SaveLlama(LlamaModel model, string directory)
    {
        var c = model.Config;
        Directory.CreateDirectory(directory);
        var t = new List<KeyValuePair<string, Tensor>>();
        Tensor Linear(string ours) => OutIn(model, ours);
        Tensor Permuted(string ours, int heads)
        {
            var w = Linear(ours);
            var interleaved = c.RotaryLayout == RotaryLayout.Interleaved;
            return interleaved ? new Tensor(Llama2c.PermuteForHuggingFace(w.Data, heads, w.Shape[0], w.Shape[1]), w.Shape) : w;
        }
        t.Add(new("model.embed_tokens.weight", model.Parameter("embed.W_E")));
        for (var l = 0; l < c.LayerCount; l++)
        {
            var m = $"model.layers.{l}.";
            t.Add(new(m + "input_layernorm.weight", model.Parameter($"blocks.{l}.ln1.w")));
            t.Add(new(m + "self_attn.q_proj.weight", Permuted($"blocks.{l}.attn.W_Q", c.HeadCount)));
            t.Add(new(m + "self_attn.k_proj.weight", Permuted($"blocks.{l}.attn.W_K", c.KeyValueHeadCount)));
            t.Add(new(m + "self_attn.v_proj.weight", Linear($"blocks.{l}.attn.W_V")));
            t.Add(new(m + "self_attn.o_proj.weight", Linear($"blocks.{l}.attn.W_O")));
            t.Add(new(m + "post_attention_layernorm.weight", model.Parameter($"blocks.{l}.ln2.w")));
            t.Add(new(m + "mlp.gate_proj.weight", Linear($"blocks.{l}.mlp.W_gate")));
            t.Add(new(m + "mlp.up_proj.weight", Linear($"blocks.{l}.mlp.W_in")));
            t.Add(new(m + "mlp.down_proj.weight", Linear($"blocks.{l}.mlp.W_out")));
        }
        t.Add(new("model.norm.weight", model.Parameter("ln_final.w")));
        if (!c.TiedEmbeddings) t.Add(new("lm_head.weight", Linear("unembed.W_U")));
        SafeTensors.Write(Path.Combine(directory, "model.safetensors"), t);
        var config = new JsonObject
        {
            ["model_type"] = "llama", ["architectures"] = new JsonArray("LlamaForCausalLM"), ["hidden_size"] = c.ModelWidth,
            ["intermediate_size"] = c.MlpWidth, ["num_hidden_layers"] = c.LayerCount, ["num_attention_heads"] = c.HeadCount,
            ["num_key_value_heads"] = c.KeyValueHeadCount, ["vocab_size"] = c.VocabularySize, ["max_position_embeddings"] = c.ContextLength,
            ["rms_norm_eps"] = c.RmsNormEpsilon, ["rope_theta"] = c.RopeTheta, ["tie_word_embeddings"] = c.TiedEmbeddings,
        };
        AtomicFile.WriteAllText(Path.Combine(directory, "config.json"), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }
}
