using Verification.Engine.Models;
using Verification.Engine.Tensors;

namespace Verification.Analysis;

/// <summary>The four counterfactual metrics of one head on a pair of sentences of equal token length.</summary>
public sealed record CounterfactualMetrics(double MaxAbsDifference, double MeanAbsDifference, double PatternCorrelation, double ValueOutputCorrelation);

/// <summary>The pattern metrics of CLAIMS.md §3 (chandanms/tinyllm-mechinter), made quantitative.</summary>
public static class PatternMetrics
{
    /// <summary>Negation words, matched as whole tokens (the source matched substrings, so "know" counted as "no").</summary>
    public static readonly IReadOnlySet<string> NegationWords = new HashSet<string> { "not", "never", "n't", "no", "neither", "nor" };

    /// <summary>
    /// True when the token, without its BPE space marker and case, is a whole negation word. A WordPiece continuation
    /// ("##no" in "casi ##no") is part of another word and never matches.
    /// </summary>
    public static bool IsNegation(string token)
    {
        if (token.StartsWith("##", StringComparison.Ordinal)) return false;
        var word = token.Replace("Ġ", "", StringComparison.Ordinal).Replace("▁", "", StringComparison.Ordinal).Trim().ToLowerInvariant();
        return NegationWords.Contains(word);
    }

    /// <summary>
    /// Value-weighted attention output O = P·V of one head, for one batch item: hook_z [batch, pos, head, dHead] holds
    /// exactly that (V includes its bias). Returns [pos, dHead].
    /// </summary>
    public static double[,] ValueWeighted(Tensor z, int batchItem, int head)
    {
        int pos = z.Shape[1], heads = z.Shape[2], dHead = z.Shape[3];
        var o = new double[pos, dHead];
        for (var p = 0; p < pos; p++)
            for (var i = 0; i < dHead; i++) o[p, i] = z.Data[((batchItem * pos + p) * heads + head) * dHead + i];
        return o;
    }

    /// <summary>Cosine similarity between every pair of rows: [rows, rows].</summary>
    public static double[,] RowCosine(double[,] rows)
    {
        int n = rows.GetLength(0), d = rows.GetLength(1);
        var norms = new double[n];
        for (var i = 0; i < n; i++)
        {
            double s = 0;
            for (var j = 0; j < d; j++) s += rows[i, j] * rows[i, j];
            norms[i] = Math.Sqrt(s);
        }
        var c = new double[n, n];
        for (var a = 0; a < n; a++)
            for (var b = 0; b < n; b++)
            {
                double dot = 0;
                for (var j = 0; j < d; j++) dot += rows[a, j] * rows[b, j];
                // Rounding can put a cosine a hair outside [−1, 1]; it cannot be there.
                c[a, b] = norms[a] > 0 && norms[b] > 0 ? Math.Clamp(dot / (norms[a] * norms[b]), -1, 1) : 0;
            }
        return c;
    }

    /// <summary>
    /// max |P₁ − P₂|, mean |P₁ − P₂|, and the Pearson correlations of the flattened patterns and value outputs of one
    /// head on two sentences. The sentences must have the same number of tokens.
    /// </summary>
    public static CounterfactualMetrics Counterfactual(double[,] pattern1, double[,] pattern2, double[,] values1, double[,] values2,
        string sentence1 = "first sentence", string sentence2 = "second sentence")
    {
        if (pattern1.GetLength(0) != pattern2.GetLength(0))
            throw new ArgumentException(
                $"Counterfactual metrics compare sentences of equal token length: \"{sentence1}\" has {pattern1.GetLength(0)} tokens and " +
                $"\"{sentence2}\" has {pattern2.GetLength(0)}. Choose a pair that tokenizes to the same length.");
        if (values1.GetLength(0) != values2.GetLength(0) || values1.GetLength(1) != values2.GetLength(1))
            throw new ArgumentException("The value outputs of the two sentences have different shapes.");
        var p1 = Flatten(pattern1);
        var p2 = Flatten(pattern2);
        var differences = p1.Zip(p2, (a, b) => Math.Abs(a - b)).ToArray();
        return new CounterfactualMetrics(differences.Max(), differences.Average(), Pearson(p1, p2), Pearson(Flatten(values1), Flatten(values2)));
    }

    public static double Pearson(double[] x, double[] y)
    {
        var mx = x.Average();
        var my = y.Average();
        double sxy = 0, sxx = 0, syy = 0;
        for (var i = 0; i < x.Length; i++)
        {
            sxy += (x[i] - mx) * (y[i] - my);
            sxx += (x[i] - mx) * (x[i] - mx);
            syy += (y[i] - my) * (y[i] - my);
        }
        return sxx > 0 && syy > 0 ? sxy / Math.Sqrt(sxx * syy) : double.NaN;
    }

    static double[] Flatten(double[,] m) => [.. m.Cast<double>()];

    /// <summary>Mean attention distance per head: Σ_k A[q, k]·|q − k| averaged over queries (pooled over prompts).</summary>
    public static double[,] MeanAttentionDistance(IEnumerable<AttentionPatterns> prompts)
    {
        var mean = new PooledMean();
        foreach (var p in prompts)
            mean.Add(p.LayerCount, p.HeadCount, (l, h) =>
            {
                double sum = 0;
                for (var q = 0; q < p.Length; q++)
                {
                    var row = p.Row(l, h, q);
                    for (var k = 0; k < p.Length; k++) sum += row[k] * Math.Abs(q - k);
                }
                return (sum, p.Length);
            });
        return mean.Means();
    }

    /// <summary>Uniform attention's mean distance on these prompts: what a head that looks nowhere in particular gets.</summary>
    public static double UniformAttentionDistance(IEnumerable<AttentionPatterns> prompts, bool causal)
    {
        double sum = 0;
        long count = 0;
        foreach (var p in prompts)
            for (var q = 0; q < p.Length; q++)
            {
                var keys = causal ? Enumerable.Range(0, q + 1) : Enumerable.Range(0, p.Length);
                sum += keys.Average(k => Math.Abs(q - k));
                count++;
            }
        return sum / count;
    }
}
