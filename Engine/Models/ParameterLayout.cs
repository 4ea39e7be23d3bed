using Verification.Engine.Tensors;

namespace Verification.Engine.Models;

/// <summary>Every tensor a config's model needs, by name and shape, and a seeded random initialisation.</summary>
public static class ParameterLayout
{
    public static IEnumerable<(string Name, int[] Shape)> For(ModelConfig config)
    {
        int d = config.ModelWidth, v = config.VocabularySize, heads = config.HeadCount, kv = config.KeyValueHeadCount, dh = config.HeadWidth;
        IEnumerable<(string, int[])> Attention(int l, bool biases)
        {
            yield return ($"blocks.{l}.attn.W_Q", [d, heads * dh]);
            if (biases) yield return ($"blocks.{l}.attn.b_Q", [heads * dh]);
            yield return ($"blocks.{l}.attn.W_K", [d, kv * dh]);
            if (biases) yield return ($"blocks.{l}.attn.b_K", [kv * dh]);
            yield return ($"blocks.{l}.attn.W_V", [d, kv * dh]);
            if (biases) yield return ($"blocks.{l}.attn.b_V", [kv * dh]);
            yield return ($"blocks.{l}.attn.W_O", [heads * dh, d]);
            if (biases) yield return ($"blocks.{l}.attn.b_O", [d]);
        }
        IEnumerable<(string, int[])> LayerNorm(string prefix, bool bias = true)
        {
            yield return ($"{prefix}.w", [d]);
            if (bias) yield return ($"{prefix}.b", [d]);
        }
        var list = new List<(string, int[])> { ("embed.W_E", [v, d]) };
        switch (config)
        {
            case Gpt2Config c:
                list.Add(("pos_embed.W_pos", [c.ContextLength, d]));
                for (var l = 0; l < c.LayerCount; l++)
                {
                    if (c.UseLayerNorm) list.AddRange(LayerNorm($"blocks.{l}.ln1"));
                    list.AddRange(Attention(l, true));
                    if (c.UseLayerNorm) list.AddRange(LayerNorm($"blocks.{l}.ln2"));
                    list.Add(($"blocks.{l}.mlp.W_in", [d, c.MlpWidth]));
                    list.Add(($"blocks.{l}.mlp.b_in", [c.MlpWidth]));
                    list.Add(($"blocks.{l}.mlp.W_out", [c.MlpWidth, d]));
                    list.Add(($"blocks.{l}.mlp.b_out", [d]));
                }
                if (c.UseLayerNorm) list.AddRange(LayerNorm("ln_final"));
                if (!c.TiedEmbeddings) list.Add(("unembed.W_U", [d, v]));
                break;
            case AttentionOnlyConfig c:
                list.Add(("pos_embed.W_pos", [c.ContextLength, d]));
                for (var l = 0; l < c.LayerCount; l++)
                {
                    if (c.UseLayerNorm) list.AddRange(LayerNorm($"blocks.{l}.ln1"));
                    list.AddRange(Attention(l, c.AttentionBiases));
                }
                if (c.UseLayerNorm) list.AddRange(LayerNorm("ln_final"));
                list.Add(("unembed.W_U", [d, v]));
                if (c.UnembedBias) list.Add(("unembed.b_U", [v]));
                break;
            case LlamaConfig c:
                for (var l = 0; l < c.LayerCount; l++)
                {
                    list.AddRange(LayerNorm($"blocks.{l}.ln1", bias: false));
                    list.AddRange(Attention(l, false));
                    list.AddRange(LayerNorm($"blocks.{l}.ln2", bias: false));
                    if (c.GatedMlp) list.Add(($"blocks.{l}.mlp.W_gate", [d, c.MlpWidth]));
                    list.Add(($"blocks.{l}.mlp.W_in", [d, c.MlpWidth]));
                    list.Add(($"blocks.{l}.mlp.W_out", [c.MlpWidth, d]));
                }
                list.AddRange(LayerNorm("ln_final", bias: false));
                if (!c.TiedEmbeddings) list.Add(("unembed.W_U", [d, v]));
                break;
            case BertConfig c:
                list.Add(("pos_embed.W_pos", [c.ContextLength, d]));
                list.Add(("token_type_embed.W_token_type", [c.TypeVocabularySize, d]));
                list.AddRange(LayerNorm("embed_ln"));
                for (var l = 0; l < c.LayerCount; l++)
                {
                    list.AddRange(Attention(l, true));
                    list.AddRange(LayerNorm($"blocks.{l}.ln1"));
                    list.Add(($"blocks.{l}.mlp.W_in", [d, c.MlpWidth]));
                    list.Add(($"blocks.{l}.mlp.b_in", [c.MlpWidth]));
                    list.Add(($"blocks.{l}.mlp.W_out", [c.MlpWidth, d]));
                    list.Add(($"blocks.{l}.mlp.b_out", [d]));
                    list.AddRange(LayerNorm($"blocks.{l}.ln2"));
                }
                if (c.LanguageModelHead)
                {
                    list.Add(("mlm_head.W", [d, d]));
                    list.Add(("mlm_head.b", [d]));
                    list.AddRange(LayerNorm("mlm_head.ln"));
                    list.Add(("unembed.b_U", [v]));
                }
                break;
            default:
                throw new ArgumentException($"No parameter layout for {config.GetType().Name}.");
        }
        return list;
    }

    /// <summary>
    /// GPT-2's initialisation from a seed: matrices N(0, std), output projections (W_O, W_out) N(0, std/√(2·layers)),
    /// LayerNorm weights 1, biases 0. The same seed gives the same weights on every machine.
    /// </summary>
    public static Dictionary<string, Tensor> Initialise(ModelConfig config, int seed, float std = 0.02f)
    {
        var random = new Random(seed);
        var parameters = new Dictionary<string, Tensor>();
        foreach (var (name, shape) in For(config))
        {
            Tensor t;
            var leaf = name[(name.LastIndexOf('.') + 1)..];
            if (leaf == "w" && shape.Length == 1) t = Tensor.Full(1f, shape);
            else if (shape.Length == 1) t = new Tensor(shape);
            else if (leaf is "W_O" or "W_out") t = Tensor.RandomNormal(random, std / MathF.Sqrt(2 * config.LayerCount), shape);
            else t = Tensor.RandomNormal(random, std, shape);
            t.Name = name;
            parameters[name] = t;
        }
        return parameters;
    }

    /// <summary>
    /// PyTorch's defaults for a model built from nn.Embedding and nn.Linear: embeddings N(0, 1), matrices
    /// U(−1/√fan_in, 1/√fan_in), LayerNorm weights 1, biases 0.
    /// </summary>
    public static Dictionary<string, Tensor> InitialiseLikePyTorch(ModelConfig config, int seed)
    {
        var random = new Random(seed);
        var parameters = new Dictionary<string, Tensor>();
        foreach (var (name, shape) in For(config))
        {
            var leaf = name[(name.LastIndexOf('.') + 1)..];
            Tensor t;
            if (leaf == "w" && shape.Length == 1) t = Tensor.Full(1f, shape);
            else if (shape.Length == 1) t = new Tensor(shape);
            else if (leaf is "W_E" or "W_pos" or "W_token_type") t = Tensor.RandomNormal(random, 1f, shape);
            else
            {
                var bound = 1f / MathF.Sqrt(shape[0]);
                t = Tensor.RandomUniform(random, -bound, bound, shape);
            }
            t.Name = name;
            parameters[name] = t;
        }
        return parameters;
    }

    public static Transformer Create(ModelConfig config, int seed, float std = 0.02f, string? source = null) =>
        Loading.Checkpoint.Create(config, Initialise(config, seed, std), source ?? $"random {config.Family} (seed {seed})");
}
