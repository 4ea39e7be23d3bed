using Verification.Engine.Models;

namespace Verification.Analysis;

/// <summary>A detector that reads prompts one at a time, so many detectors can share one pass over the patterns.</summary>
public interface IPatternAccumulator
{
    void Add(AttentionPatterns p);

    HeadScores Result();
}

/// <summary>Pooled mean per head: Σ values / Σ counts over all prompts.</summary>
internal sealed class PooledMean
{
    double[,]? sums;
    double[,]? counts;

    public void Add(int layers, int heads, Func<int, int, (double Sum, double Count)> measure)
    {
        sums ??= new double[layers, heads];
        counts ??= new double[layers, heads];
        for (var l = 0; l < layers; l++)
            for (var h = 0; h < heads; h++)
            {
                var (s, c) = measure(l, h);
                sums[l, h] += s;
                counts[l, h] += c;
            }
    }

    public double[,] Means()
    {
        if (sums is null || counts is null) throw new InvalidOperationException("No prompts were given to the detector.");
        var result = new double[sums.GetLength(0), sums.GetLength(1)];
        for (var l = 0; l < result.GetLength(0); l++)
            for (var h = 0; h < result.GetLength(1); h++) result[l, h] = counts[l, h] > 0 ? sums[l, h] / counts[l, h] : double.NaN;
        return result;
    }
}

/// <summary>
/// The attention-head detectors of CLAIMS.md §1 (goodfire-ai/spd PR #403; TransformerLens's head_detector), each a
/// pure function of attention patterns and tokens with the source's definition and flag threshold.
/// </summary>
public static class Detectors
{
    public const string PrevTokenDefinition = "mean over prompts and q ≥ 1 of A[q, q−1]";
    public const string BosDefinition = "mean over all q of A[q, 0]";
    public const string PositionalDefinition = "profile[d] = mean over q ≥ d of A[q, q−d], d < 128; score = profile at the peak offset d ≥ 1";
    public const string DuplicateDefinition = "for queries with an earlier identical token, the attention mass on all earlier identical tokens";
    public const string DelimiterDefinition = "attention mass on delimiter tokens (. , ; : ! ? newline) ÷ the delimiters' share of tokens";
    public const string InductionDefinition = "tokens x ++ x, x uniform random of half-length L: mean over k = 0..L−2 of A[L+k, k+1]";

    /// <summary>Feeds every prompt to every accumulator in one pass.</summary>
    public static IReadOnlyList<HeadScores> Run(IEnumerable<AttentionPatterns> prompts, params IPatternAccumulator[] accumulators)
    {
        foreach (var p in prompts)
            foreach (var a in accumulators) a.Add(p);
        return [.. accumulators.Select(a => a.Result())];
    }

    public static HeadScores PreviousToken(IEnumerable<AttentionPatterns> prompts) => Run(prompts, new PreviousTokenDetector())[0];
    public static HeadScores Bos(IEnumerable<AttentionPatterns> prompts) => Run(prompts, new BosDetector())[0];
    public static HeadScores Positional(IEnumerable<AttentionPatterns> prompts, int maxOffset = 128) => Run(prompts, new PositionalDetector(maxOffset))[0];
    public static HeadScores DuplicateToken(IEnumerable<AttentionPatterns> prompts) => Run(prompts, new DuplicateTokenDetector())[0];
    public static HeadScores Delimiter(IEnumerable<AttentionPatterns> prompts) => Run(prompts, new DelimiterDetector())[0];
    public static HeadScores Induction(IEnumerable<AttentionPatterns> repeated) => Run(repeated, new InductionDetector())[0];

    /// <summary>. , ; : ! ? and newlines, alone or in runs (".\n", "\n\n"), with GPT-2's Ġ/Ċ markers read as space/newline.</summary>
    public static bool IsDelimiter(string token)
    {
        var text = token.Replace('Ġ', ' ').Replace('Ċ', '\n').Replace("▁", " ", StringComparison.Ordinal).Replace(" ", "", StringComparison.Ordinal);
        return text.Length > 0 && text.All(c => c is '.' or ',' or ';' or ':' or '!' or '?' or '\n' or '\r');
    }
}

public sealed class PreviousTokenDetector(string name = "previous-token") : IPatternAccumulator
{
    readonly PooledMean mean = new();

    public void Add(AttentionPatterns p) => mean.Add(p.LayerCount, p.HeadCount, (l, h) =>
    {
        double sum = 0;
        for (var q = 1; q < p.Length; q++) sum += p.A(l, h, q, q - 1);
        return (sum, Math.Max(0, p.Length - 1));
    });

    public HeadScores Result() => Scores(name, mean.Means());

    public static HeadScores Scores(string name, double[,] means) => new(name, Detectors.PrevTokenDefinition, means, 0.3);
}

public sealed class BosDetector : IPatternAccumulator
{
    readonly PooledMean mean = new();

    public void Add(AttentionPatterns p) => mean.Add(p.LayerCount, p.HeadCount, (l, h) =>
    {
        double sum = 0;
        for (var q = 0; q < p.Length; q++) sum += p.A(l, h, q, 0);
        return (sum, p.Length);
    });

    public HeadScores Result() => Scores(mean.Means());

    public static HeadScores Scores(double[,] means) => new("BOS", Detectors.BosDefinition, means, 0.1);
}

public sealed class PositionalDetector(int maxOffset = 128) : IPatternAccumulator
{
    double[,,]? sums;
    double[]? counts;

    public void Add(AttentionPatterns p)
    {
        sums ??= new double[p.LayerCount, p.HeadCount, maxOffset];
        counts ??= new double[maxOffset];
        for (var d = 0; d < Math.Min(maxOffset, p.Length); d++) counts[d] += p.Length - d;
        for (var l = 0; l < p.LayerCount; l++)
            for (var h = 0; h < p.HeadCount; h++)
                for (var d = 0; d < Math.Min(maxOffset, p.Length); d++)
                {
                    double sum = 0;
                    for (var q = d; q < p.Length; q++) sum += p.A(l, h, q, q - d);
                    sums[l, h, d] += sum;
                }
    }

    /// <summary>profile[layer, head, d].</summary>
    public double[,,] Profiles()
    {
        if (sums is null || counts is null) throw new InvalidOperationException("No prompts were given to the detector.");
        var profile = new double[sums.GetLength(0), sums.GetLength(1), sums.GetLength(2)];
        for (var l = 0; l < profile.GetLength(0); l++)
            for (var h = 0; h < profile.GetLength(1); h++)
                for (var d = 0; d < profile.GetLength(2); d++) profile[l, h, d] = counts[d] > 0 ? sums[l, h, d] / counts[d] : double.NaN;
        return profile;
    }

    public HeadScores Result() => Scores(Profiles());

    /// <summary>The positional table from profiles [layer, head, d]: the peak over d ≥ 1 and its offset.</summary>
    public static HeadScores Scores(double[,,] profile)
    {
        int layers = profile.GetLength(0), heads = profile.GetLength(1);
        var score = new double[layers, heads];
        var peak = new double[layers, heads];
        for (var l = 0; l < layers; l++)
            for (var h = 0; h < heads; h++)
            {
                var best = 1;
                for (var d = 1; d < profile.GetLength(2); d++)
                    if (!double.IsNaN(profile[l, h, d]) && profile[l, h, d] > profile[l, h, best]) best = d;
                peak[l, h] = best;
                score[l, h] = profile[l, h, best];
            }
        return new HeadScores("positional", Detectors.PositionalDefinition, score, 0.3) { Extra = new Dictionary<string, double[,]> { ["peak offset"] = peak } };
    }
}

public sealed class DuplicateTokenDetector : IPatternAccumulator
{
    readonly PooledMean mean = new();

    public void Add(AttentionPatterns p)
    {
        // Earlier identical tokens for each query, found once per prompt.
        var earlier = new List<int>[p.Length];
        for (var q = 0; q < p.Length; q++)
        {
            earlier[q] = [];
            for (var k = 0; k < q; k++)
                if (p.SameToken(q, k)) earlier[q].Add(k);
        }
        mean.Add(p.LayerCount, p.HeadCount, (l, h) =>
        {
            double sum = 0;
            var count = 0;
            for (var q = 0; q < p.Length; q++)
            {
                if (earlier[q].Count == 0) continue;
                foreach (var k in earlier[q]) sum += p.A(l, h, q, k);
                count++;
            }
            return (sum, count);
        });
    }

    public HeadScores Result() => Scores(mean.Means());

    public static HeadScores Scores(double[,] means) => new("duplicate-token", Detectors.DuplicateDefinition, means, 0.3);
}

public sealed class DelimiterDetector : IPatternAccumulator
{
    readonly PooledMean mean = new();
    long delimiters;
    long tokens;

    public void Add(AttentionPatterns p)
    {
        var isDelimiter = p.Tokens.Select(Detectors.IsDelimiter).ToArray();
        delimiters += isDelimiter.Count(d => d);
        tokens += p.Length;
        mean.Add(p.LayerCount, p.HeadCount, (l, h) =>
        {
            double sum = 0;
            for (var q = 0; q < p.Length; q++)
                for (var k = 0; k <= q; k++)
                    if (isDelimiter[k]) sum += p.A(l, h, q, k);
            return (sum, p.Length);
        });
    }

    /// <summary>The delimiters' share of all tokens (the baseline a head attending uniformly would get).</summary>
    public double Share => tokens == 0 ? double.NaN : (double)delimiters / tokens;

    public HeadScores Result() => Scores(mean.Means(), Share);

    /// <summary>The delimiter table from the mean mass on delimiters [layer, head] and the delimiters' share of tokens.</summary>
    public static HeadScores Scores(double[,] mass, double share)
    {
        var ratio = new double[mass.GetLength(0), mass.GetLength(1)];
        for (var l = 0; l < ratio.GetLength(0); l++)
            for (var h = 0; h < ratio.GetLength(1); h++) ratio[l, h] = share > 0 ? mass[l, h] / share : double.NaN;
        return new HeadScores("delimiter", Detectors.DelimiterDefinition + $" (share {share:P1})", ratio, 2.0)
        {
            Extra = new Dictionary<string, double[,]> { ["mass"] = mass },
        };
    }
}

/// <summary>
/// On sequences x ++ x after <paramref name="prefix"/> tokens (a BOS): mean over k = 0..L−2 of A[p+L+k, p+k+1], p the
/// prefix length and L half the rest.
/// </summary>
public sealed class InductionDetector(int prefix = 0) : IPatternAccumulator
{
    readonly PooledMean mean = new();

    public void Add(AttentionPatterns p)
    {
        var repeated = p.Length - prefix;
        if (repeated <= 0 || repeated % 2 != 0) throw new ArgumentException($"Induction prompts are {prefix} prefix token(s) + x ++ x; got a length of {p.Length}.");
        var half = repeated / 2;
        for (var k = 0; k < half; k++)
            if (!p.SameToken(prefix + k, prefix + half + k))
                throw new ArgumentException($"Induction prompts are x ++ x; this one is not a repeat: positions {prefix + k} and {prefix + half + k} differ.");
        mean.Add(p.LayerCount, p.HeadCount, (l, h) =>
        {
            double sum = 0;
            for (var k = 0; k <= half - 2; k++) sum += p.A(l, h, prefix + half + k, prefix + k + 1);
            return (sum, Math.Max(0, half - 1));
        });
    }

    public HeadScores Result() => Scores(mean.Means());

    public static HeadScores Scores(double[,] means) => new("induction", Detectors.InductionDefinition, means, 0.3);
}
