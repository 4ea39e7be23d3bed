using System.Buffers.Binary;
using Verification.Engine.Models;
using Verification.Engine.Tensors;

namespace Verification.Engine.Loading;

/// <summary>
/// llama2.c's legacy checkpoint: seven little-endian int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads,
/// vocab_size, seq_len; a negative vocab_size means a separate classifier), then float32 weights in run.c's order,
/// matrices stored [out, in]. The rotary layout is Meta's (interleaved pairs).
/// </summary>
public static class Llama2c
{
    public static LlamaModel Load(string path) => ModelFileException.Guard(path, () => LoadChecked(path));

    static LlamaModel LoadChecked(string path)
    {
        ModelFileException.NeedFile(path);
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 28) throw new ModelFileException(path, $"only {bytes.Length} bytes: too short for the 28-byte llama2.c header");
        int Header(int i) => BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(4 * i));
        int dim = Header(0), hidden = Header(1), layers = Header(2), heads = Header(3), kvHeads = Header(4), vocabRaw = Header(5), seqLen = Header(6);
        var shared = vocabRaw > 0;
        var vocab = vocabRaw == int.MinValue ? 0 : Math.Abs(vocabRaw);
        if (dim <= 0 || hidden <= 0 || layers <= 0 || heads <= 0 || kvHeads <= 0 || vocab == 0 || seqLen <= 0 || dim % heads != 0 || heads % kvHeads != 0)
            throw new ModelFileException(path, $"header is not a llama2.c config (dim {dim}, hidden {hidden}, layers {layers}, heads {heads}, " +
                                               $"kv heads {kvHeads}, vocab {vocabRaw}, seq_len {seqLen})");
        var headSize = dim / heads;
        var kvDim = kvHeads * headSize;
        long expected;
        try
        {
            expected = checked((long)vocab * dim + layers * (2L * dim + (long)dim * dim * 2 + (long)dim * kvDim * 2 + 3L * dim * hidden) + dim
                               + (long)seqLen * headSize + (shared ? 0 : (long)vocab * dim));
        }
        catch (OverflowException)
        {
            throw new ModelFileException(path, $"header sizes (dim {dim}, hidden {hidden}, layers {layers}, vocab {vocabRaw}, seq_len {seqLen}) describe more weights than any file holds");
        }
        var available = (bytes.Length - 28) / 4;
        if (available != expected)
            throw new ModelFileException(path, $"the header describes {expected} floats of weights but the file holds {available}" +
                                               (available < expected ? " (truncated?)" : " (wrong header?)"));

        var offset = 28;
        float[] Next(long count)
        {
            var values = new float[count];
            Buffer.BlockCopy(bytes, offset, values, 0, (int)(count * 4));
            if (!BitConverter.IsLittleEndian)
                for (var i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(offset + 4 * i));
            offset += (int)(count * 4);
            return values;
        }
        // [layers, out, in] stacked → per layer [in, out] for x·W.
        Tensor[] Stacked(int rows, int columns) => [.. Enumerable.Range(0, layers).Select(_ => Tensor.Transposed(Next((long)rows * columns), rows, columns))];
        Tensor[] Vectors(int n) => [.. Enumerable.Range(0, layers).Select(_ => new Tensor(Next(n), n))];

        var p = new Dictionary<string, Tensor>();
        var embed = new Tensor(Next((long)vocab * dim), vocab, dim);
        var rmsAttention = Vectors(dim);
        var wq = Stacked(dim, dim);
        var wk = Stacked(kvDim, dim);
        var wv = Stacked(kvDim, dim);
        var wo = Stacked(dim, dim);
        var rmsFfn = Vectors(dim);
        var w1 = Stacked(hidden, dim);
        var w2 = Stacked(dim, hidden);
        var w3 = Stacked(hidden, dim);
        var rmsFinal = new Tensor(Next(dim), dim);
        Next((long)seqLen * headSize); // freq_cis_real and freq_cis_imag of old exports: recomputed, not read
        p["embed.W_E"] = embed;
        p["ln_final.w"] = rmsFinal;
        if (!shared) p["unembed.W_U"] = Tensor.Transposed(Next((long)vocab * dim), vocab, dim);
        for (var l = 0; l < layers; l++)
        {
            p[$"blocks.{l}.ln1.w"] = rmsAttention[l];
            p[$"blocks.{l}.attn.W_Q"] = wq[l];
            p[$"blocks.{l}.attn.W_K"] = wk[l];
            p[$"blocks.{l}.attn.W_V"] = wv[l];
            p[$"blocks.{l}.attn.W_O"] = wo[l];
            p[$"blocks.{l}.ln2.w"] = rmsFfn[l];
            p[$"blocks.{l}.mlp.W_gate"] = w1[l];
            p[$"blocks.{l}.mlp.W_out"] = w2[l];
            p[$"blocks.{l}.mlp.W_in"] = w3[l];
        }
        // llama2.c's own names for the tensors, as its export writes them.
        foreach (var (name, t) in p) ModelFileException.RequireFinite(path, $"{name} (ours; llama2.c's {Llama2cName(name)})", t);
        var config = new LlamaConfig
        {
            VocabularySize = vocab, ContextLength = seqLen, ModelWidth = dim, LayerCount = layers, HeadCount = heads, KeyValueHeads = kvHeads,
            MlpWidth = hidden, RmsNormEpsilon = 1e-5f, TiedEmbeddings = shared, RotaryLayout = RotaryLayout.Interleaved,
        };
        return new LlamaModel(config, p, path);
    }

    static string Llama2cName(string ours)
    {
        var parts = ours.Split('.');
        var leaf = parts.Length >= 3 ? parts[^2] + "." + parts[^1] : ours;
        var layer = parts.Length >= 3 && parts[0] == "blocks" ? $"[{parts[1]}]" : "";
        return leaf switch
        {
            "embed.W_E" => "token_embedding_table",
            "ln_final.w" => "rms_final_weight",
            "unembed.W_U" => "wcls",
            "ln1.w" => "rms_att_weight" + layer,
            "attn.W_Q" => "wq" + layer,
            "attn.W_K" => "wk" + layer,
            "attn.W_V" => "wv" + layer,
            "attn.W_O" => "wo" + layer,
            "ln2.w" => "rms_ffn_weight" + layer,
            "mlp.W_gate" => "w1" + layer,
            "mlp.W_out" => "w2" + layer,
            "mlp.W_in" => "w3" + layer,
            _ => ours,
        };
    }

    /// <summary>
    /// Hugging Face's q/k row permutation (convert_llama_weights_to_hf.py): w [heads·dHead, in] viewed as
    /// [heads, dHead/2, 2, in], axes 1 and 2 swapped. After it, rotate_half on the HF weights equals Meta's
    /// interleaved rotation on the original ones.
    /// </summary>
    public static float[] PermuteForHuggingFace(float[] w, int heads, int rows, int columns)
    {
        var dHead = rows / heads;
        var result = new float[w.Length];
        for (var h = 0; h < heads; h++)
            for (var i = 0; i < dHead / 2; i++)
                for (var j = 0; j < 2; j++)
                {
                    var from = h * dHead + i * 2 + j;
                    var to = h * dHead + j * (dHead / 2) + i;
                    Array.Copy(w, from * columns, result, to * columns, columns);
                }
        return result;
    }
}
