using Verification.Engine.Torch;

namespace Verification.Engine.Models;

/// <summary>
/// How many sequences a batch may hold: the activations one sequence needs, from the config, its length and what the
/// run keeps, against a memory budget (<see cref="Settings.MemoryBudget"/>, else the device's default). The estimate
/// counts a block's live buffers at their peak (a block's intermediates are freed when it ends) plus what outlives
/// blocks (the residual, cached hooks, logits).
/// </summary>
public static class MemoryPlan
{
    /// <summary>1 GiB on the CPU (a 2-core, 24 GB machine runs GPT-2 small within 4 GB), 8 GiB on a GPU.</summary>
    public static long DefaultBudget(string device) => device.StartsWith("cuda", StringComparison.Ordinal) ? 8L << 30 : 1L << 30;

    /// <summary>A process-wide budget (the CLI's --memory), before VERIFICATION_MEMORY_BUDGET and the default.</summary>
    public static long? Override { get; set; }

    /// <summary>The budget of runs on <paramref name="device"/>.</summary>
    public static long Budget(string device) => Override ?? Settings.Current.MemoryBudget ?? DefaultBudget(device);

    /// <summary>
    /// Bytes of activations one sequence of <paramref name="length"/> tokens needs in one run (float32, or float64 for the
    /// slow reference): a block's peak (LayerNorm, q, k, v, z, MLP in and out, and three head × length² buffers: scores,
    /// pattern, a reader's product), the residual, <paramref name="cachedHookValues"/> cached values per token, and the
    /// logits asked for.
    /// </summary>
    public static long BytesPerSequence(ModelConfig config, int length, LogitsOutput logits, long cachedValuesPerToken = 0,
        Precision precision = Precision.Float32)
    {
        var mlp = config switch
        {
            Gpt2Config g => g.MlpWidth,
            BertConfig b => b.MlpWidth,
            LlamaConfig l => l.MlpWidth * (l.GatedMlp ? 2 : 1),
            _ => 0,
        };
        long width = config.ModelWidth, heads = config.HeadCount, t = length;
        var block = t * (10 * width + 3L * mlp) + 3 * heads * t * t;
        var logitValues = logits switch
        {
            LogitsOutput.All => t * config.VocabularySize,
            LogitsOutput.LastPosition => config.VocabularySize,
            _ => 0,
        };
        var values = block + 2 * t * width + cachedValuesPerToken * t + logitValues;
        return values * (precision == Precision.Float64 ? 8 : 4);
    }

    /// <summary>
    /// The largest batch of sequences of <paramref name="length"/> tokens that fits <paramref name="budget"/> bytes (at
    /// most <paramref name="most"/>); a single sequence that does not fit is an error naming the sizes.
    /// </summary>
    public static int BatchSize(ModelConfig config, int length, long budget, LogitsOutput logits, long cachedValuesPerToken = 0,
        Precision precision = Precision.Float32, int most = int.MaxValue)
    {
        var perSequence = BytesPerSequence(config, length, logits, cachedValuesPerToken, precision);
        if (perSequence > budget)
            throw new ArgumentException(
                $"One sequence of {length} tokens needs about {Mib(perSequence)} of activations in this model ({config.LayerCount} layers × " +
                $"{config.HeadCount} heads, width {config.ModelWidth}), more than the memory budget of {Mib(budget)}: raise " +
                "VERIFICATION_MEMORY_BUDGET (or --memory) or use shorter sequences.");
        return (int)Math.Clamp(budget / perSequence, 1, most);
    }

    /// <summary>
    /// Sequences grouped into batches for one kind of run: by length (longest first, so the first batch shows whether
    /// the budget holds), each batch as many as fit the budget at its longest member. Returns indices into
    /// <paramref name="lengths"/>, so results can be put back in input order.
    /// </summary>
    public static IReadOnlyList<int[]> Batches(ModelConfig config, IReadOnlyList<int> lengths, long budget, LogitsOutput logits,
        long cachedValuesPerToken = 0, Precision precision = Precision.Float32, int most = int.MaxValue)
    {
        var order = Enumerable.Range(0, lengths.Count).OrderByDescending(i => lengths[i]).ThenBy(i => i).ToArray();
        var batches = new List<int[]>();
        var start = 0;
        while (start < order.Length)
        {
            var size = BatchSize(config, lengths[order[start]], budget, logits, cachedValuesPerToken, precision, most);
            var count = Math.Min(size, order.Length - start);
            batches.Add(order[start..(start + count)]);
            start += count;
        }
        return batches;
    }

    public static string Mib(long bytes) => $"{bytes / (1024.0 * 1024.0):F0} MiB";
}
