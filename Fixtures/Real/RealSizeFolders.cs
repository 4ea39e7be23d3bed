using System.Text.Json.Nodes;
using Verification.Engine.IO;
using Verification.Engine.Loading;

namespace Verification.Fixtures.Real;

/// <summary>
/// Folders laid out as openai-community's GPT-2 downloads (config.json with its keys, model.safetensors under its tensor
/// names, the real vocab.json and merges.txt) at the real sizes, with random weights made as they are written (the
/// folder is never held in memory): what the real-size specs scan and cache, to check time and peak memory at scale.
/// </summary>
public static class RealSizeFolders
{
    /// <summary>A GPT-2 size: layers, width, heads (the MLP is 4 × width; vocabulary 50,257 and context 1,024).</summary>
    public sealed record Gpt2Size(string Name, int Layers, int Width, int Heads)
    {
        public long ParameterCount =>
            50257L * Width + 1024L * Width + Layers * (12L * Width * Width + 13L * Width) + 2L * Width;
    }

    public static readonly Gpt2Size Small = new("gpt2-small-shaped", 12, 768, 12);
    public static readonly Gpt2Size Medium = new("gpt2-medium-shaped", 24, 1024, 16);
    public static readonly Gpt2Size Large = new("gpt2-large-shaped", 36, 1280, 20);

    /// <summary>
    /// Writes <paramref name="size"/>'s folder into <paramref name="folder"/>: matrices uniform with GPT-2's initial standard
    /// deviation (0.02; the output projections 0.02/√(2·layers)), LayerNorm weights 1, biases 0. The same seed gives the
    /// same file.
    /// </summary>
    public static string WriteGpt2(Gpt2Size size, string folder, int seed = 0)
    {
        Directory.CreateDirectory(folder);
        int d = size.Width, layers = size.Layers;
        var random = new FastUniform(seed);
        var tensors = new List<StreamedTensor>();
        void Random(string name, float std, params int[] shape) =>
            tensors.Add(new StreamedTensor(name, "F32", shape, stream => random.Write(stream, shape.Aggregate(1L, (a, n) => a * n), std)));
        void Constant(string name, float value, params int[] shape) =>
            tensors.Add(new StreamedTensor(name, "F32", shape, stream => FastUniform.WriteConstant(stream, shape.Aggregate(1L, (a, n) => a * n), value)));
        var projection = 0.02f / MathF.Sqrt(2 * layers);
        Random("wte.weight", 0.02f, 50257, d);
        Random("wpe.weight", 0.01f, 1024, d);
        for (var l = 0; l < layers; l++)
        {
            var h = $"h.{l}.";
            Constant(h + "ln_1.weight", 1, d);
            Constant(h + "ln_1.bias", 0, d);
            Random(h + "attn.c_attn.weight", 0.02f, d, 3 * d);
            Constant(h + "attn.c_attn.bias", 0, 3 * d);
            Random(h + "attn.c_proj.weight", projection, d, d);
            Constant(h + "attn.c_proj.bias", 0, d);
            Constant(h + "ln_2.weight", 1, d);
            Constant(h + "ln_2.bias", 0, d);
            Random(h + "mlp.c_fc.weight", 0.02f, d, 4 * d);
            Constant(h + "mlp.c_fc.bias", 0, 4 * d);
            Random(h + "mlp.c_proj.weight", projection, 4 * d, d);
            Constant(h + "mlp.c_proj.bias", 0, d);
        }
        Constant("ln_f.weight", 1, d);
        Constant("ln_f.bias", 0, d);
        SafeTensors.WriteStreamed(Path.Combine(folder, "model.safetensors"), tensors);

        var config = new JsonObject
        {
            ["activation_function"] = "gelu_new",
            ["architectures"] = new JsonArray("GPT2LMHeadModel"),
            ["bos_token_id"] = 50256, ["eos_token_id"] = 50256,
            ["n_ctx"] = 1024, ["n_positions"] = 1024, ["n_embd"] = d, ["n_head"] = size.Heads, ["n_layer"] = layers, ["vocab_size"] = 50257,
            ["attn_pdrop"] = 0.1, ["embd_pdrop"] = 0.1, ["resid_pdrop"] = 0.1, ["initializer_range"] = 0.02, ["layer_norm_epsilon"] = 1e-5,
            ["model_type"] = "gpt2",
        };
        AtomicFile.WriteAllText(Path.Combine(folder, "config.json"), config.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n");
        foreach (var file in new[] { "vocab.json", "merges.txt" })
            File.Copy(Path.Combine(SharedData.Gpt2TokenizerFolder, file), Path.Combine(folder, file), overwrite: true);
        return folder;
    }

    /// <summary>
    /// Uniform values of a given standard deviation from xorshift64*, written in chunks: a GPT-2-large file's 774 million
    /// values in seconds, where Box–Muller normals take minutes. The distribution only has to make patterns that are not
    /// uniform; the real-size specs measure time and memory, and compare two paths on the same weights.
    /// </summary>
    sealed class FastUniform(int seed)
    {
        ulong state = 0x9E3779B97F4A7C15UL ^ (ulong)(seed + 1) * 0xBF58476D1CE4E5B9UL;
        readonly float[] chunk = new float[1 << 16];

        public void Write(Stream stream, long count, float std)
        {
            var half = std * MathF.Sqrt(3);                               // uniform on [−a, a] has std a/√3
            for (long done = 0; done < count; done += chunk.Length)
            {
                var n = (int)Math.Min(chunk.Length, count - done);
                for (var i = 0; i < n; i++)
                {
                    state ^= state >> 12;
                    state ^= state << 25;
                    state ^= state >> 27;
                    var bits = (state * 0x2545F4914F6CDD1DUL) >> 40;       // 24 random bits
                    chunk[i] = (bits * (1f / (1 << 24)) * 2 - 1) * half;
                }
                SafeTensors.WriteLittleEndian<float>(stream, chunk.AsSpan(0, n));
            }
        }

        public static void WriteConstant(Stream stream, long count, float value)
        {
            var values = new float[count];
            Array.Fill(values, value);
            SafeTensors.WriteLittleEndian<float>(stream, values);
        }
    }
}
