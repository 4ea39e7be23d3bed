namespace Verification.Analysis;

// The protocols' types: what a measurement runs on, as values. The sources' choices (sequence lengths, seeds, BOS or
// not) are named in one place, Fixtures/Protocols.cs; the specs and the CLI pass them in.

/// <summary>
/// How the induction detector builds its prompts: x ++ x with x uniform random of half-length L, after a BOS token
/// when <see cref="Bos"/> is set. Tokens are drawn from [FirstToken, FirstToken + TokenCount).
/// </summary>
public sealed record InductionProtocol(int HalfLength = 256, int Sequences = 3200, int BatchSize = 32, int Seed = 0, int FirstToken = 0,
    int TokenCount = 0, int? Bos = null)
{
    /// <summary>How many tokens stand before x ++ x (1 with a BOS).</summary>
    public int PrefixLength => Bos is null ? 0 : 1;

    /// <summary>The prompts for a vocabulary of <paramref name="vocabulary"/> tokens, the same for a given seed.</summary>
    public IEnumerable<int[]> Prompts(int vocabulary)
    {
        var count = TokenCount > 0 ? TokenCount : vocabulary - FirstToken;
        if (FirstToken < 0 || FirstToken + count > vocabulary)
            throw new ArgumentException($"Tokens {FirstToken}..{FirstToken + count - 1} are outside a vocabulary of {vocabulary}.");
        var random = new Random(Seed);
        for (var s = 0; s < Sequences; s++)
        {
            var half = Enumerable.Range(0, HalfLength).Select(_ => FirstToken + random.Next(count)).ToArray();
            yield return Bos is { } bos ? [bos, .. half, .. half] : [.. half, .. half];
        }
    }
}

/// <summary>How a head scan builds its prompts: induction prompts, the random-token control, BOS, and real-text windows.</summary>
public sealed record ScanProtocol
{
    /// <summary>What the protocol is called (quick, spd, arena), for the scan's report.</summary>
    public string Name { get; init; } = "custom";

    /// <summary>The induction prompts (null: chosen from the model's context by Fixtures' Protocols).</summary>
    public InductionProtocol? Induction { get; init; }

    /// <summary>Random-token prompts for the previous-token control: count and length.</summary>
    public int ControlSequences { get; init; } = 64;
    public int ControlLength { get; init; } = 64;
    public int Seed { get; init; }

    /// <summary>
    /// Whether prompts start with the tokenizer's BOS (TransformerLens's default). Without one, a model's first token
    /// plays the part of a sink.
    /// </summary>
    public bool PrependBos { get; init; } = true;

    /// <summary>
    /// When set, the real text is run as the corpus concatenated (without BOS) and cut into windows of this many tokens
    /// (at most the context): a BOS-free causal model's A[0, 0] = 1 weighs 1/T in a score averaged over queries, so
    /// short lines would lift every head's BOS score to about 1/T.
    /// </summary>
    public int? RealTextWindow { get; init; }
}
