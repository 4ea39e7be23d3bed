using Verification.Engine.Models;

namespace Verification.Analysis;

public enum DetectionTemplate
{
    PreviousToken,
    DuplicateToken,
    Induction,
}

public enum ErrorMeasure
{
    /// <summary>sum(A ⊙ D) / sum(A).</summary>
    Mul,

    /// <summary>1 − round(mean|A − D| · T, 3).</summary>
    Abs,
}

/// <summary>
/// TransformerLens's head_detector: a head's pattern compared with an ideal detection matrix D, per prompt, averaged
/// over prompts. exclude_bos zeroes the first column and exclude_current_token the diagonal, of a copy: the caller's
/// patterns (and cache) are never modified, unlike TransformerLens's in-place fill_diagonal_.
/// </summary>
public static class DetectionMatrices
{
    public static string Name(DetectionTemplate pattern) => pattern switch
    {
        DetectionTemplate.PreviousToken => "previous_token",
        DetectionTemplate.DuplicateToken => "duplicate_token",
        _ => "induction",
    };

    /// <summary>D [T, T] for the prompt's tokens, exactly as TransformerLens builds it.</summary>
    public static double[,] For(DetectionTemplate pattern, AttentionPatterns prompt)
    {
        var t = prompt.Length;
        var d = new double[t, t];
        switch (pattern)
        {
            case DetectionTemplate.PreviousToken:
                for (var q = 1; q < t; q++) d[q, q - 1] = 1;
                break;
            case DetectionTemplate.DuplicateToken:
                // Equal tokens, strictly below the diagonal.
                for (var q = 0; q < t; q++)
                    for (var k = 0; k < q; k++)
                        if (prompt.SameToken(q, k)) d[q, k] = 1;
                break;
            case DetectionTemplate.Induction:
                // The duplicate pattern shifted right by one column, first column zero, lower triangle (diagonal kept).
                for (var q = 0; q < t; q++)
                    for (var k = 1; k <= q; k++)
                        if (k - 1 < q && prompt.SameToken(q, k - 1)) d[q, k] = 1;
                break;
        }
        return d;
    }

    /// <summary>One head's similarity to D on one prompt.</summary>
    public static double Score(AttentionPatterns prompt, int layer, int head, double[,] detection, ErrorMeasure measure, bool excludeBos, bool excludeCurrentToken)
    {
        var t = prompt.Length;
        if (measure == ErrorMeasure.Mul)
        {
            double product = 0, total = 0;
            for (var q = 0; q < t; q++)
                for (var k = 0; k < t; k++)
                {
                    if ((excludeBos && k == 0) || (excludeCurrentToken && k == q)) continue;
                    double a = prompt.A(layer, head, q, k);
                    product += a * detection[q, k];
                    total += a;
                }
            return total > 0 ? product / total : 0;
        }
        double absolute = 0;
        for (var q = 0; q < t; q++)
            for (var k = 0; k < t; k++)
            {
                if ((excludeBos && k == 0) || (excludeCurrentToken && k == q)) continue;
                absolute += Math.Abs(prompt.A(layer, head, q, k) - detection[q, k]);
            }
        var meanTimesSize = absolute / ((double)t * t) * t;
        return 1 - Math.Round(meanTimesSize, 3, MidpointRounding.ToEven);
    }

    public static HeadScores Detect(IEnumerable<AttentionPatterns> prompts, DetectionTemplate pattern, ErrorMeasure measure = ErrorMeasure.Mul,
        bool excludeBos = false, bool excludeCurrentToken = false)
    {
        double[,]? sums = null;
        var count = 0;
        foreach (var p in prompts)
        {
            sums ??= new double[p.LayerCount, p.HeadCount];
            var d = For(pattern, p);
            for (var l = 0; l < p.LayerCount; l++)
                for (var h = 0; h < p.HeadCount; h++) sums[l, h] += Score(p, l, h, d, measure, excludeBos, excludeCurrentToken);
            count++;
        }
        if (sums is null) throw new InvalidOperationException("No prompts were given to the detector.");
        for (var l = 0; l < sums.GetLength(0); l++)
            for (var h = 0; h < sums.GetLength(1); h++) sums[l, h] /= count;
        return Scores(pattern, measure, excludeBos, excludeCurrentToken, sums);
    }

    /// <summary>The table from the scores averaged over prompts [layer, head].</summary>
    public static HeadScores Scores(DetectionTemplate pattern, ErrorMeasure measure, bool excludeBos, bool excludeCurrentToken, double[,] sums)
    {
        var options = (excludeBos ? ", BOS excluded" : "") + (excludeCurrentToken ? ", current token excluded" : "");
        // TransformerLens reports these scores without a flag threshold; none is invented here.
        return new HeadScores($"TL {Name(pattern)} ({measure.ToString().ToLowerInvariant()}{options})",
            measure == ErrorMeasure.Mul ? "sum(A ⊙ D) / sum(A)" : "1 − round(mean|A − D|·T, 3)", sums, double.NaN)
        {
            Rule = (_, _) => false,
            FlagRule = "no threshold (TransformerLens reports the score only)",
        };
    }
}
