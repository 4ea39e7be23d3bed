using Verification.Engine.Models;

namespace Verification.Analysis;

/// <summary>A list prompt: its patterns and the position of the last token of each element, in order.</summary>
public sealed record ListPrompt(AttentionPatterns Patterns, int[] ElementPositions);

/// <summary>One IOI prompt's patterns and positions: the last token, the second subject mention S2 and the indirect object IO (−1: not given).</summary>
public sealed record IoiPrompt(AttentionPatterns Patterns, int Last, int S2, int Io = -1);

/// <summary>Detectors that need to know where things are in the prompt: successor lists and IOI sentences.</summary>
public static class StructuredDetectors
{
    public const string SuccessorDefinition =
        "attention from list element k to element k−1 on ordinal sequences joined by commas, minus the same on random-word lists";

    /// <summary>Mean over prompts and elements k ≥ 1 of A[element k, element k−1].</summary>
    public static double[,] ElementToPrevious(IEnumerable<ListPrompt> prompts)
    {
        var mean = new PooledMean();
        foreach (var prompt in prompts)
        {
            var p = prompt.Patterns;
            var e = prompt.ElementPositions;
            mean.Add(p.LayerCount, p.HeadCount, (l, h) =>
            {
                double sum = 0;
                for (var k = 1; k < e.Length; k++) sum += p.A(l, h, e[k], e[k - 1]);
                return (sum, Math.Max(0, e.Length - 1));
            });
        }
        return mean.Means();
    }

    /// <summary>Successor signal = ordinal − random (flag &gt; 0.05).</summary>
    public static HeadScores Successor(IEnumerable<ListPrompt> ordinal, IEnumerable<ListPrompt> random)
    {
        var on = ElementToPrevious(ordinal);
        var off = ElementToPrevious(random);
        var signal = new double[on.GetLength(0), on.GetLength(1)];
        for (var l = 0; l < signal.GetLength(0); l++)
            for (var h = 0; h < signal.GetLength(1); h++) signal[l, h] = on[l, h] - off[l, h];
        return new HeadScores("successor", SuccessorDefinition, signal, 0.05)
        {
            Extra = new Dictionary<string, double[,]> { ["ordinal"] = on, ["random"] = off },
        };
    }

    /// <summary>Mean over IOI prompts of A[last, S2].</summary>
    public static double[,] AttentionToS2(IEnumerable<IoiPrompt> prompts)
    {
        var mean = new PooledMean();
        foreach (var prompt in prompts)
            mean.Add(prompt.Patterns.LayerCount, prompt.Patterns.HeadCount, (l, h) => (prompt.Patterns.A(l, h, prompt.Last, prompt.S2), 1));
        return mean.Means();
    }

    /// <summary>Mean over IOI prompts of A[last, IO].</summary>
    public static double[,] AttentionToIo(IEnumerable<IoiPrompt> prompts)
    {
        var mean = new PooledMean();
        foreach (var prompt in prompts)
        {
            if (prompt.Io < 0) throw new ArgumentException("Name movers need each IOI prompt's IO position.", nameof(prompts));
            mean.Add(prompt.Patterns.LayerCount, prompt.Patterns.HeadCount, (l, h) => (prompt.Patterns.A(l, h, prompt.Last, prompt.Io), 1));
        }
        return mean.Means();
    }

    /// <summary>
    /// Name movers (Wang et al.): attention from the last token to the indirect object, flagged where it is above 0.1 and
    /// above the attention to S2, and the head's OV copy score on name tokens is positive (it copies what it attends to).
    /// </summary>
    public static HeadScores NameMover(IReadOnlyList<IoiPrompt> prompts, double[,] copyScores)
    {
        var toIo = AttentionToIo(prompts);
        var toS2 = AttentionToS2(prompts);
        return new HeadScores("name mover",
            "attention from the last token to IO in \"When {IO} and {S} went to the store, {S} gave a drink to\"; OV copy score = mean over names t of W_U[t]·W_O W_V W_E[t]",
            toIo, 0.1)
        {
            Extra = new Dictionary<string, double[,]> { ["copy score"] = copyScores, ["attention to S2"] = toS2 },
            Rule = (l, h) => toIo[l, h] > 0.1 && toIo[l, h] > toS2[l, h] && copyScores[l, h] > 0,
            FlagRule = "attention to IO > 0.1 and > attention to S2, copy score > 0",
        };
    }

    /// <summary>
    /// S-inhibition: attention from the last token to S2, flagged where it is above 0.1 and the head's OV copy score
    /// on name tokens is negative (it suppresses what it attends to).
    /// </summary>
    public static HeadScores SInhibition(IEnumerable<IoiPrompt> prompts, double[,] copyScores)
    {
        var attention = AttentionToS2(prompts);
        return new HeadScores("S-inhibition",
            "attention from the last token to S2 in \"When {IO} and {S} went to the store, {S} gave a drink to\"; OV copy score = mean over names t of W_U[t]·W_O W_V W_E[t]",
            attention, 0.1)
        {
            Extra = new Dictionary<string, double[,]> { ["copy score"] = copyScores },
            Rule = (l, h) => attention[l, h] > 0.1 && copyScores[l, h] < 0,
            FlagRule = "attention > 0.1 and copy score < 0",
        };
    }
}
