using TorchSharp;
using Verification.Engine.Models;
using Verification.Engine.Torch;
using static TorchSharp.torch;

namespace Verification.Analysis;

/// <summary>
/// One batch of sequences as the device detectors see it: right-padded to one length, with which positions are real.
/// Its tensors live on the run's device for the batch's whole run (the detectors read them inside every block).
/// </summary>
public sealed class PatternBatch : IDisposable
{
    readonly List<Tensor> owned = [];
    readonly Lazy<string[][]> texts;
    Tensor? sameEarlier;
    Tensor? delimiterKeys;
    Tensor? atOrBefore;

    internal PatternBatch(int[][] tokens, Func<int, string> tokenText, string device)
    {
        Tokens = tokens;
        Lengths = [.. tokens.Select(t => t.Length)];
        Length = Lengths.Max();
        texts = new Lazy<string[][]>(() => [.. tokens.Select(t => t.Select(tokenText).ToArray())]);
        Device = device;
        Padded = [.. tokens.Select(t => t.Length == Length ? t : [.. t, .. new int[Length - t.Length]])];
        var real = new bool[tokens.Length * Length];
        for (var b = 0; b < tokens.Length; b++)
            for (var p = 0; p < Lengths[b]; p++) real[b * Length + p] = true;
        Ids = Own(TorchRuntime.Ids(Padded, device));
        Real = Own(torch.tensor(real, [tokens.Length, Length], device: torch.device(device)));
    }

    public int[][] Tokens { get; }
    public int[][] Padded { get; }
    /// <summary>The tokens as text (made when a detector asks: the delimiter detector).</summary>
    public string[][] Texts => texts.Value;
    public int[] Lengths { get; }

    /// <summary>The padded length.</summary>
    public int Length { get; }

    public string Device { get; }

    /// <summary>[batch, pos] int64 token ids, padding 0.</summary>
    public Tensor Ids { get; }

    /// <summary>[batch, pos] bool: a real token (not padding).</summary>
    public Tensor Real { get; }

    /// <summary>Whether any item is shorter than the batch (padding present).</summary>
    public bool HasPadding => Lengths.Any(l => l < Length);

    /// <summary>[batch, query, key] bool: the key is an earlier (k &lt; q) identical token; both real.</summary>
    public Tensor SameEarlier => sameEarlier ??= Own(Build(() =>
    {
        var same = Ids.unsqueeze(2).eq(Ids.unsqueeze(1));                                          // [batch, q, k]
        var earlier = torch.ones(Length, Length, ScalarType.Bool, Ids.device).tril(-1);           // k < q
        return same.logical_and(earlier).logical_and(RealPairs());
    }));

    /// <summary>[batch, query, key] bool: k ≤ q, both real.</summary>
    public Tensor AtOrBefore => atOrBefore ??= Own(Build(() =>
        torch.ones(Length, Length, ScalarType.Bool, Ids.device).tril().logical_and(RealPairs())));

    /// <summary>[batch, key] bool: the token is a delimiter (<see cref="Detectors.IsDelimiter"/>) and real.</summary>
    public Tensor DelimiterKeys => delimiterKeys ??= Own(Build(() =>
    {
        var flags = new bool[Tokens.Length * Length];
        for (var b = 0; b < Tokens.Length; b++)
            for (var p = 0; p < Lengths[b]; p++) flags[b * Length + p] = Detectors.IsDelimiter(Texts[b][p]);
        return torch.tensor(flags, [Tokens.Length, Length], device: Ids.device);
    }));

    Tensor RealPairs() => Real.unsqueeze(2).logical_and(Real.unsqueeze(1));                       // [batch, q, k]

    // Made inside a block's dispose scope (a detector asks while reading), kept for the whole batch.
    static Tensor Build(Func<Tensor> make)
    {
        using var scope = torch.NewDisposeScope();
        return make().MoveToOuterDisposeScope();
    }

    Tensor Own(Tensor t)
    {
        t.DetachFromDisposeScope();
        owned.Add(t);
        return t;
    }

    public void Dispose()
    {
        foreach (var t in owned) t.Dispose();
        owned.Clear();
    }
}

/// <summary>
/// A detector that reduces each block's attention pattern on the device while the run is in it: per batch only its
/// per-head sums (layers × heads; × offsets for the positional profile) exist, in float64 on the device, and only they
/// cross to the host, at the end. The host detectors (<see cref="Detectors"/>) are its slow reference.
/// </summary>
public interface IDevicePatternDetector : IDisposable
{
    /// <summary>Pattern [batch, head, query, key] of block <paramref name="layer"/> for <paramref name="batch"/>.</summary>
    void Add(int layer, Tensor pattern, PatternBatch batch);

    /// <summary>Called once per batch after its run: what does not depend on the pattern (counts, shares).</summary>
    void EndBatch(PatternBatch batch);

    HeadScores Result();
}

/// <summary>Runs a model over sequences in memory-budgeted batches and feeds each block's pattern to device detectors.</summary>
public static class PatternPass
{
    /// <summary>
    /// Every sequence once, no logits, each block's pattern read on the device by every detector (the run stops after the
    /// last block). Batches are grouped by length and sized by <see cref="MemoryPlan"/>; a causal model's shorter items
    /// are right-padded (exact at their real positions), an encoder's are masked. With <paramref name="fixedBatchSize"/>
    /// batches hold exactly that many sequences in order (an intervention such as a mean ablation depends on the batch),
    /// and a batch that does not fit the budget is an error naming the sizes.
    /// </summary>
    public static void Run(Transformer model, IReadOnlyList<int[]> sequences, Func<int, string> tokenText, IReadOnlyList<IDevicePatternDetector> detectors,
        IProgress<int>? progress = null, IReadOnlyList<Intervention>? interventions = null, int? fixedBatchSize = null, string? device = null)
    {
        if (sequences.Count == 0) throw new ArgumentException("No sequences to run: the detectors need at least one.");
        device ??= Devices.Default;
        var budget = MemoryPlan.Budget(device);
        var config = model.Config;
        IReadOnlyList<int[]> batches;
        if (fixedBatchSize is { } size)
        {
            var longest = sequences.Max(s => s.Length);
            var fits = MemoryPlan.BatchSize(config, longest, budget, LogitsOutput.None);
            if (fits < Math.Min(size, sequences.Count))
                throw new ArgumentException(
                    $"A batch of {size} sequences of {longest} tokens needs about {MemoryPlan.Mib(size * MemoryPlan.BytesPerSequence(config, longest, LogitsOutput.None))}, " +
                    $"more than the memory budget of {MemoryPlan.Mib(budget)}; the interventions depend on the batch, so it cannot be split: raise VERIFICATION_MEMORY_BUDGET.");
            batches = [.. Enumerable.Range(0, (sequences.Count + size - 1) / size)
                .Select(b => Enumerable.Range(b * size, Math.Min(size, sequences.Count - b * size)).ToArray())];
        }
        else batches = MemoryPlan.Batches(config, [.. sequences.Select(s => s.Length)], budget, LogitsOutput.None);

        var done = 0;
        foreach (var indices in batches)
        {
            using var batch = new PatternBatch([.. indices.Select(i => sequences[i])], tokenText, device);
            var readers = Enumerable.Range(0, config.LayerCount)
                .Select(l => new HookReader(Hooks.Pattern(l), pattern =>
                {
                    // Each detector's temporaries (a masked copy of the pattern) are freed before the next one's are made.
                    foreach (var d in detectors)
                    {
                        using var scope = torch.NewDisposeScope();
                        d.Add(l, pattern, batch);
                    }
                })).ToList();
            var options = new RunOptions
            {
                Logits = LogitsOutput.None,
                Readers = readers,
                Interventions = interventions,
                Device = device,
                AttentionMask = !config.Causal && batch.HasPadding
                    ? [.. batch.Lengths.Select(n => Enumerable.Range(0, batch.Length).Select(p => p < n).ToArray())]
                    : null,
            };
            if (config.Causal && batch.HasPadding && interventions is { Count: > 0 })
                throw new ArgumentException("Interventions need sequences of one length in a batch (padding would enter their statistics).");
            model.Run(batch.Padded, options);
            foreach (var d in detectors) d.EndBatch(batch);
            done += indices.Length;
            progress?.Report(done);
        }
    }
}

/// <summary>Shared bookkeeping: float64 sums on the device [layer, head(, …)] and host counts.</summary>
public abstract class DevicePatternDetector : IDevicePatternDetector
{
    Tensor? sums;

    /// <summary>Sums [layers, heads, …extra] on the pattern's device, made on first use.</summary>
    protected Tensor Sums(Tensor pattern, int layers, params long[] extra)
    {
        if (sums is null)
        {
            sums = torch.zeros([layers, pattern.shape[1], .. extra], ScalarType.Float64, pattern.device);
            sums.DetachFromDisposeScope();
        }
        return sums;
    }

    /// <summary>Adds <paramref name="partial"/> [head, …] to layer <paramref name="layer"/>'s sums.</summary>
    protected void Accumulate(int layer, Tensor pattern, int layers, Tensor partial, params long[] extra)
    {
        using var row = Sums(pattern, layers, extra).select(0, layer);
        row.add_(partial.to(ScalarType.Float64), Scalars.One);
    }

    /// <summary>The sums copied to the host (the only copy a detector makes).</summary>
    protected double[] HostSums(out long[] shape)
    {
        if (sums is null) throw new InvalidOperationException("No prompts were given to the detector.");
        shape = sums.shape;
        using var scope = torch.NewDisposeScope();
        var values = new double[sums.numel()];
        using var cpu = sums.cpu();
        cpu.data<double>().CopyTo(values);
        return values;
    }

    public abstract void Add(int layer, Tensor pattern, PatternBatch batch);

    public abstract void EndBatch(PatternBatch batch);

    public abstract HeadScores Result();

    /// <summary>sums[l, h] / count[l] as a table.</summary>
    protected double[,] Means(double[] counts)
    {
        var values = HostSums(out var shape);
        int layers = (int)shape[0], heads = (int)shape[1];
        var means = new double[layers, heads];
        for (var l = 0; l < layers; l++)
            for (var h = 0; h < heads; h++) means[l, h] = counts[l] > 0 ? values[l * heads + h] / counts[l] : double.NaN;
        return means;
    }

    public void Dispose()
    {
        sums?.Dispose();
        sums = null;
        GC.SuppressFinalize(this);
    }
}

/// <summary>Per-batch counts that are the same for every layer, accumulated once per batch.</summary>
internal sealed class LayerCounts(int layers)
{
    public double[] PerLayer { get; } = new double[layers];

    public void Add(double count)
    {
        for (var l = 0; l < PerLayer.Length; l++) PerLayer[l] += count;
    }
}

/// <summary>Mean over items and real queries q ≥ 1 of A[q, q−1] (<see cref="PreviousTokenDetector"/> on the device).</summary>
public sealed class DevicePreviousTokenDetector(int layers, string name = "previous-token") : DevicePatternDetector
{
    readonly LayerCounts counts = new(layers);

    public override void Add(int layer, Tensor pattern, PatternBatch batch)
    {
        var below = pattern.diagonal(-1, 2, 3);                                        // [batch, head, pos−1]: A[q, q−1], q = 1..
        var real = batch.Real[.., 1..].unsqueeze(1);                                   // [batch, 1, pos−1]
        Accumulate(layer, pattern, layers, below.masked_fill(real.logical_not(), Scalars.Zero).sum([0, 2], type: ScalarType.Float64));
    }

    public override void EndBatch(PatternBatch batch) => counts.Add(batch.Lengths.Sum(n => Math.Max(0, n - 1)));

    public override HeadScores Result() => PreviousTokenDetector.Scores(name, Means(counts.PerLayer));
}

/// <summary>Mean over items and real queries of A[q, 0] (<see cref="BosDetector"/> on the device).</summary>
public sealed class DeviceBosDetector(int layers) : DevicePatternDetector
{
    readonly LayerCounts counts = new(layers);

    public override void Add(int layer, Tensor pattern, PatternBatch batch)
    {
        var first = pattern.select(3, 0);                                               // [batch, head, pos]
        Accumulate(layer, pattern, layers, first.masked_fill(batch.Real.unsqueeze(1).logical_not(), Scalars.Zero).sum([0, 2], type: ScalarType.Float64));
    }

    public override void EndBatch(PatternBatch batch) => counts.Add(batch.Lengths.Sum());

    public override HeadScores Result() => BosDetector.Scores(Means(counts.PerLayer));
}

/// <summary>profile[d] = mean over real queries q ≥ d of A[q, q−d], d &lt; maxOffset (<see cref="PositionalDetector"/> on the device).</summary>
public sealed class DevicePositionalDetector(int layers, int maxOffset) : DevicePatternDetector
{
    readonly double[] counts = new double[maxOffset];

    public override void Add(int layer, Tensor pattern, PatternBatch batch)
    {
        var offsets = Math.Min(maxOffset, batch.Length);
        var profile = torch.zeros([pattern.shape[1], maxOffset], ScalarType.Float64, pattern.device);  // [head, d]
        for (var d = 0; d < offsets; d++)
        {
            var diagonal = pattern.diagonal(-d, 2, 3);                                  // [batch, head, pos−d]: A[q, q−d], q = d..
            var real = batch.Real[.., d..].unsqueeze(1);
            profile[.., d] = diagonal.masked_fill(real.logical_not(), Scalars.Zero).sum([0, 2], type: ScalarType.Float64);
        }
        Accumulate(layer, pattern, layers, profile, maxOffset);
    }

    public override void EndBatch(PatternBatch batch)
    {
        foreach (var n in batch.Lengths)
            for (var d = 0; d < Math.Min(maxOffset, n); d++) counts[d] += n - d;
    }

    public double[,,] Profiles()
    {
        var values = HostSums(out var shape);
        int heads = (int)shape[1];
        var profile = new double[layers, heads, maxOffset];
        for (var l = 0; l < layers; l++)
            for (var h = 0; h < heads; h++)
                for (var d = 0; d < maxOffset; d++)
                    profile[l, h, d] = counts[d] > 0 ? values[(l * heads + h) * maxOffset + d] / counts[d] : double.NaN;
        return profile;
    }

    public override HeadScores Result() => PositionalDetector.Scores(Profiles());
}

/// <summary>For real queries with an earlier identical token, the mass on all earlier identical tokens (<see cref="DuplicateTokenDetector"/> on the device).</summary>
public sealed class DeviceDuplicateTokenDetector(int layers) : DevicePatternDetector
{
    readonly LayerCounts counts = new(layers);

    public override void Add(int layer, Tensor pattern, PatternBatch batch)
    {
        var mass = pattern.masked_fill(batch.SameEarlier.unsqueeze(1).logical_not(), Scalars.Zero).sum(3);   // [batch, head, q]
        Accumulate(layer, pattern, layers, mass.sum([0, 2], type: ScalarType.Float64));
    }

    public override void EndBatch(PatternBatch batch)
    {
        using var scope = torch.NewDisposeScope();
        counts.Add(batch.SameEarlier.any(2).sum().item<long>());
    }

    public override HeadScores Result() => DuplicateTokenDetector.Scores(Means(counts.PerLayer));
}

/// <summary>
/// Attention mass on delimiter keys at or before the query, over real queries, ÷ the delimiters' share of tokens
/// (<see cref="DelimiterDetector"/> on the device).
/// </summary>
public sealed class DeviceDelimiterDetector(int layers) : DevicePatternDetector
{
    readonly LayerCounts counts = new(layers);
    long delimiters, tokens;

    public override void Add(int layer, Tensor pattern, PatternBatch batch)
    {
        var keys = batch.AtOrBefore.logical_and(batch.DelimiterKeys.unsqueeze(1));                   // [batch, q, k]
        var mass = pattern.masked_fill(keys.unsqueeze(1).logical_not(), Scalars.Zero).sum(3);                  // [batch, head, q]
        Accumulate(layer, pattern, layers, mass.sum([0, 2], type: ScalarType.Float64));
    }

    public override void EndBatch(PatternBatch batch)
    {
        counts.Add(batch.Lengths.Sum());
        tokens += batch.Lengths.Sum();
        for (var b = 0; b < batch.Tokens.Length; b++) delimiters += batch.Texts[b].Count(Detectors.IsDelimiter);
    }

    public override HeadScores Result() => DelimiterDetector.Scores(Means(counts.PerLayer), tokens == 0 ? double.NaN : (double)delimiters / tokens);
}

/// <summary>
/// On sequences (prefix) x ++ x: mean over k = 0..L−2 of A[p+L+k, p+k+1] (<see cref="InductionDetector"/> on the device).
/// Every item must be a repeat of one length.
/// </summary>
public sealed class DeviceInductionDetector(int layers, int prefix = 0) : DevicePatternDetector
{
    readonly LayerCounts counts = new(layers);

    public override void Add(int layer, Tensor pattern, PatternBatch batch)
    {
        var half = Half(batch);
        // The diagonal q − key = L − 1 holds A[p+L+k, p+k+1] at index p+k+1 (key position).
        var diagonal = pattern.diagonal(-(half - 1), 2, 3);                             // [batch, head, pos−L+1]
        var window = diagonal[.., .., (prefix + 1)..(prefix + half)];                   // keys p+1 .. p+L−1
        Accumulate(layer, pattern, layers, window.sum([0, 2], type: ScalarType.Float64));
    }

    int Half(PatternBatch batch)
    {
        if (batch.HasPadding) throw new ArgumentException("Induction prompts in one batch must have one length.");
        var repeated = batch.Length - prefix;
        if (repeated <= 0 || repeated % 2 != 0) throw new ArgumentException($"Induction prompts are {prefix} prefix token(s) + x ++ x; got a length of {batch.Length}.");
        return repeated / 2;
    }

    public override void EndBatch(PatternBatch batch)
    {
        var half = Half(batch);
        foreach (var t in batch.Tokens)
            for (var k = 0; k < half; k++)
                if (t[prefix + k] != t[prefix + half + k])
                    throw new ArgumentException($"Induction prompts are x ++ x; this one is not a repeat: positions {prefix + k} and {prefix + half + k} differ.");
        counts.Add(batch.Tokens.Length * Math.Max(0, half - 1));
    }

    public override HeadScores Result() => InductionDetector.Scores(Means(counts.PerLayer));
}

/// <summary>
/// TransformerLens's detection matrices scored as mul = sum(A ⊙ D) / sum(A) per prompt, averaged over prompts
/// (<see cref="DetectionMatrices"/> on the device; no exclusions).
/// </summary>
public sealed class DeviceDetectionMatrix(int layers, DetectionTemplate template) : DevicePatternDetector
{
    readonly LayerCounts counts = new(layers);

    public override void Add(int layer, Tensor pattern, PatternBatch batch)
    {
        var real = batch.Real.unsqueeze(2).logical_and(batch.Real.unsqueeze(1)).unsqueeze(1);          // [batch, 1, q, k]
        var a = pattern.masked_fill(real.logical_not(), Scalars.Zero);
        var total = a.sum([2, 3], type: ScalarType.Float64);                                             // [batch, head]
        var product = a.masked_fill(Template(batch).unsqueeze(1).logical_not(), Scalars.Zero).sum([2, 3], type: ScalarType.Float64);
        var ratio = torch.where(total.gt(Scalars.Zero), product.div(total), torch.zeros_like(total));
        Accumulate(layer, pattern, layers, ratio.sum([0]));  // not sum(0): a literal 0 converts to ScalarType
    }

    Tensor Template(PatternBatch batch) => template switch
    {
        // D[q, q−1] = 1.
        DetectionTemplate.PreviousToken => torch.ones(batch.Length, batch.Length, ScalarType.Bool, batch.Ids.device).tril(-1)
            .logical_and(torch.ones(batch.Length, batch.Length, ScalarType.Bool, batch.Ids.device).triu(-1)).unsqueeze(0),
        // Equal tokens strictly below the diagonal.
        DetectionTemplate.DuplicateToken => batch.SameEarlier,
        // The duplicate template shifted right by one column: D[q, k] = 1 when token k−1 equals token q, 1 ≤ k ≤ q.
        _ => torch.cat([torch.zeros(batch.Tokens.Length, batch.Length, 1, ScalarType.Bool, batch.Ids.device), batch.SameEarlier[.., .., ..^1]], 2),
    };

    public override void EndBatch(PatternBatch batch) => counts.Add(batch.Tokens.Length);

    public override HeadScores Result() => DetectionMatrices.Scores(template, ErrorMeasure.Mul, false, false, Means(counts.PerLayer));
}
