using Verification.Engine.Models;

namespace Verification.Analysis;

/// <summary>
/// What the heads of a bidirectional encoder attend to (CLAIMS.md §7): relative positions (current, previous and next
/// token), special tokens, the breadth of each head's attention and how alike two heads attend. Each measure is a mean
/// over queries of one prompt, so a claim can be tested with the prompts as independent units.
/// </summary>
public static class EncoderAttention
{
    public const string SelfDefinition = "mean over prompts and all q of A[q, q]";
    public const string NextDefinition = "mean over prompts and q ≤ T−2 of A[q, q+1]";
    public const string EntropyDefinition = "mean over queries of −Σ_k A[q, k] ln A[q, k] (nats)";
    public const string DivergenceDefinition = "mean over queries of the Jensen–Shannon divergence (nats) between two heads' rows A[q, ·]";

    /// <summary>Mean over prompts and queries of A[q, q] (flag &gt; 0.3, as the position detectors).</summary>
    public static HeadScores Self(IEnumerable<AttentionPatterns> prompts) => Offset(prompts, 0, "self (current token)", SelfDefinition);

    /// <summary>Mean over prompts and q ≤ T−2 of A[q, q+1]: the next-token head of a bidirectional model.</summary>
    public static HeadScores NextToken(IEnumerable<AttentionPatterns> prompts) => Offset(prompts, 1, "next-token", NextDefinition);

    static HeadScores Offset(IEnumerable<AttentionPatterns> prompts, int offset, string name, string definition)
    {
        var mean = new PooledMean();
        foreach (var p in prompts)
            mean.Add(p.LayerCount, p.HeadCount, (l, h) =>
            {
                double sum = 0;
                for (var q = 0; q + offset < p.Length; q++) sum += p.A(l, h, q, q + offset);
                return (sum, Math.Max(0, p.Length - offset));
            });
        return new HeadScores(name, definition, mean.Means(), 0.3);
    }

    /// <summary>
    /// Mean over prompts and all queries of the attention mass on the keys <paramref name="isTarget"/> picks (by position
    /// and token), with the share of such keys among all keys as the extra column "share" (what uniform attention gets).
    /// </summary>
    public static HeadScores MassOn(IEnumerable<AttentionPatterns> prompts, Func<AttentionPatterns, int, bool> isTarget, string name)
    {
        var mean = new PooledMean();
        double targets = 0, keys = 0;
        foreach (var p in prompts)
        {
            var target = Enumerable.Range(0, p.Length).Select(k => isTarget(p, k)).ToArray();
            targets += target.Count(t => t);
            keys += p.Length;
            mean.Add(p.LayerCount, p.HeadCount, (l, h) =>
            {
                double sum = 0;
                for (var q = 0; q < p.Length; q++)
                    for (var k = 0; k < p.Length; k++)
                        if (target[k]) sum += p.A(l, h, q, k);
                return (sum, p.Length);
            });
        }
        var means = mean.Means();
        var share = new double[means.GetLength(0), means.GetLength(1)];
        for (var l = 0; l < share.GetLength(0); l++)
            for (var h = 0; h < share.GetLength(1); h++) share[l, h] = targets / keys;
        return new HeadScores(name, $"mean over prompts and all q of the attention mass on {name}", means, 0.5)
        {
            Extra = new Dictionary<string, double[,]> { ["share"] = share },
        };
    }

    /// <summary>One prompt's attention entropy per head: [layer, head], mean over queries of −Σ A ln A.</summary>
    public static double[,] Entropy(AttentionPatterns p)
    {
        var entropy = new double[p.LayerCount, p.HeadCount];
        for (var l = 0; l < p.LayerCount; l++)
            for (var h = 0; h < p.HeadCount; h++)
            {
                double sum = 0;
                for (var q = 0; q < p.Length; q++)
                    foreach (var a in p.Row(l, h, q))
                        if (a > 0) sum -= a * Math.Log(a);
                entropy[l, h] = sum / p.Length;
            }
        return entropy;
    }

    /// <summary>
    /// One prompt's Jensen–Shannon divergence between every two heads, [layer·heads + head]², each the mean over queries of
    /// JS(A₁[q, ·], A₂[q, ·]) = ½ KL(A₁ ‖ M) + ½ KL(A₂ ‖ M), M the average of the two rows (natural log, at most ln 2).
    /// </summary>
    public static double[,] Divergence(AttentionPatterns p)
    {
        var n = p.LayerCount * p.HeadCount;
        var js = new double[n, n];
        for (var i = 0; i < n; i++)
            for (var j = i + 1; j < n; j++)
            {
                double sum = 0;
                for (var q = 0; q < p.Length; q++)
                {
                    var a = p.Row(i / p.HeadCount, i % p.HeadCount, q);
                    var b = p.Row(j / p.HeadCount, j % p.HeadCount, q);
                    for (var k = 0; k < p.Length; k++)
                    {
                        double m = (a[k] + b[k]) / 2.0;
                        if (a[k] > 0) sum += 0.5 * a[k] * Math.Log(a[k] / m);
                        if (b[k] > 0) sum += 0.5 * b[k] * Math.Log(b[k] / m);
                    }
                }
                js[i, j] = js[j, i] = sum / p.Length;
            }
        return js;
    }

    /// <summary>
    /// The positional profile in both directions: profile[layer, head, d + maxOffset] = mean over prompts and queries q
    /// with 0 ≤ q + d &lt; T of A[q, q + d], for d = −maxOffset … maxOffset (pooled over prompts).
    /// </summary>
    public static double[,,] OffsetProfile(IEnumerable<AttentionPatterns> prompts, int maxOffset)
    {
        double[,,]? sums = null;
        var counts = new double[2 * maxOffset + 1];
        foreach (var p in prompts)
        {
            sums ??= new double[p.LayerCount, p.HeadCount, 2 * maxOffset + 1];
            for (var d = -maxOffset; d <= maxOffset; d++)
            {
                var queries = Enumerable.Range(0, p.Length).Where(q => q + d >= 0 && q + d < p.Length).ToArray();
                counts[d + maxOffset] += queries.Length;
                for (var l = 0; l < p.LayerCount; l++)
                    for (var h = 0; h < p.HeadCount; h++)
                        foreach (var q in queries) sums[l, h, d + maxOffset] += p.A(l, h, q, q + d);
            }
        }
        if (sums is null) throw new InvalidOperationException("No prompts were given to the offset profile.");
        for (var l = 0; l < sums.GetLength(0); l++)
            for (var h = 0; h < sums.GetLength(1); h++)
                for (var d = 0; d < counts.Length; d++) sums[l, h, d] = counts[d] > 0 ? sums[l, h, d] / counts[d] : double.NaN;
        return sums;
    }

    /// <summary>The third of the model's depth a layer is in: 0 early, 1 middle, 2 late.</summary>
    public static int DepthThird(int layer, int layerCount) => layer * 3 / layerCount;
}
