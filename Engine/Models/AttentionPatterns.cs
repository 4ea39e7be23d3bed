using Verification.Engine.Tokenizers;
using Verification.Engine.Tensors;

namespace Verification.Engine.Models;

/// <summary>
/// The attention patterns of one prompt in every layer: Layers[l] holds [head, query, key] row-major, with the
/// prompt's token strings (and ids when known). Pattern-only analyses read nothing else, so they run on any
/// model's runs and on patterns saved elsewhere (pattern_lens).
/// </summary>
public sealed class AttentionPatterns
{
    public AttentionPatterns(string[] tokens, int[]? ids, float[][] layers, int heads)
    {
        Tokens = tokens;
        Ids = ids;
        Layers = layers;
        HeadCount = heads;
        Length = tokens.Length;
        foreach (var layer in layers)
            if (layer.Length != heads * Length * Length)
                throw new ArgumentException($"A layer holds {layer.Length} values; {heads} heads × {Length}² tokens need {heads * Length * Length}.");
    }

    public string[] Tokens { get; }
    public int[]? Ids { get; }
    public float[][] Layers { get; }
    public int LayerCount => Layers.Length;
    public int HeadCount { get; }
    public int Length { get; }

    /// <summary>A[layer, head][query, key].</summary>
    public float A(int layer, int head, int query, int key) => Layers[layer][(head * Length + query) * Length + key];

    /// <summary>Row <paramref name="query"/> of one head's pattern.</summary>
    public ReadOnlySpan<float> Row(int layer, int head, int query) => Layers[layer].AsSpan((head * Length + query) * Length, Length);

    /// <summary>One head's pattern as a [query, key] matrix.</summary>
    public double[,] Matrix(int layer, int head)
    {
        var m = new double[Length, Length];
        for (var q = 0; q < Length; q++)
            for (var k = 0; k < Length; k++) m[q, k] = A(layer, head, q, k);
        return m;
    }

    /// <summary>Token identities for matching (ids when known, else the strings).</summary>
    public bool SameToken(int i, int j) => Ids is not null ? Ids[i] == Ids[j] : Tokens[i] == Tokens[j];

    /// <summary>The patterns of one prompt.</summary>
    public static AttentionPatterns Of(Transformer model, Func<int, string> tokenText, int[] tokens) =>
        FromModel(model, [tokens], tokenText, batchSize: 1).Single();

    public static AttentionPatterns Of(Transformer model, ITokenizer tokenizer, int[] tokens) => Of(model, tokenizer.TokenText, tokens);

    /// <summary>
    /// Runs the model on batches of token ids and yields each sequence's patterns. Batches are formed lazily, so
    /// only one batch of patterns is held at a time.
    /// </summary>
    public static IEnumerable<AttentionPatterns> FromModel(Transformer model, IEnumerable<int[]> sequences, Func<int, string> tokenText,
        int batchSize = 32, IProgress<int>? progress = null, IReadOnlyList<Intervention>? interventions = null)
    {
        var layers = model.Config.LayerCount;
        var hooks = Enumerable.Range(0, layers).Select(Hooks.Pattern).ToArray();
        var done = 0;
        foreach (var batch in Batches(sequences, batchSize))
        {
            var cache = model.Run(batch, new RunOptions { Cache = hooks, Interventions = interventions, Logits = LogitsOutput.None }).Cache;
            for (var b = 0; b < batch.Length; b++)
            {
                var length = batch[b].Length;
                var size = model.Config.HeadCount * length * length;
                var perLayer = hooks.Select(h => cache[h].Data.AsSpan(b * size, size).ToArray()).ToArray();
                yield return new AttentionPatterns([.. batch[b].Select(tokenText)], batch[b], perLayer, model.Config.HeadCount);
            }
            done += batch.Length;
            progress?.Report(done);
        }
    }

    /// <summary>Groups sequences into batches of equal length (a new batch starts when the length changes).</summary>
    public static IEnumerable<int[][]> Batches(IEnumerable<int[]> sequences, int batchSize)
    {
        var batch = new List<int[]>();
        foreach (var s in sequences)
        {
            if (batch.Count > 0 && (batch.Count == batchSize || batch[0].Length != s.Length))
            {
                yield return [.. batch];
                batch.Clear();
            }
            batch.Add(s);
        }
        if (batch.Count > 0) yield return [.. batch];
    }

    /// <summary>Patterns from a cache of one run: tensors [batch, head, query, key] per layer.</summary>
    public static IEnumerable<AttentionPatterns> FromCache(ActivationCache cache, int layers, int[][] tokens, Func<int, string> tokenText)
    {
        for (var b = 0; b < tokens.Length; b++)
        {
            var pattern0 = cache[Hooks.Pattern(0)];
            var heads = pattern0.Shape[1];
            var length = pattern0.Shape[2];
            var size = heads * length * length;
            var perLayer = Enumerable.Range(0, layers).Select(l => cache[Hooks.Pattern(l)].Data.AsSpan(b * size, size).ToArray()).ToArray();
            yield return new AttentionPatterns([.. tokens[b].Select(tokenText)], tokens[b], perLayer, heads);
        }
    }

    /// <summary>The pattern of one layer as a tensor [head, query, key].</summary>
    public Tensor LayerTensor(int layer) => new(Layers[layer], HeadCount, Length, Length);
}
