namespace Verification.Analysis;

/// <summary>What a detector reads: attention patterns and token strings only, or the model itself (its weights or new runs).</summary>
public enum DetectorInput
{
    Patterns,
    Model,
}

/// <summary>
/// One detector of CLAIMS.md §1: <see cref="Name"/> is what its files and the CLI's <c>--detectors</c> call it,
/// <see cref="Table"/> the table it produces (<see cref="HeadScores.Detector"/>), <see cref="FlagRule"/> when it flags a
/// head (the same words as its table's <see cref="HeadScores.FlagDescription"/>, a spec checks).
/// </summary>
public sealed record HeadDetector(string Name, string Table, DetectorInput Input, string FlagRule)
{
    public override string ToString() => Name;
}

/// <summary>Every detector a head scan runs, in the order its tables are reported.</summary>
public static class DetectorRegistry
{
    const string NoThreshold = "no threshold (TransformerLens reports the score only)";

    public static readonly HeadDetector PreviousToken = new("previous-token", "previous-token", DetectorInput.Patterns, "score > 0.3");
    public static readonly HeadDetector Bos = new("bos", "BOS", DetectorInput.Patterns, "score > 0.1");
    public static readonly HeadDetector Positional = new("positional", "positional", DetectorInput.Patterns, "score > 0.3");
    public static readonly HeadDetector DuplicateToken = new("duplicate-token", "duplicate-token", DetectorInput.Patterns, "score > 0.3");
    public static readonly HeadDetector Delimiter = new("delimiter", "delimiter", DetectorInput.Patterns, "score > 2");
    public static readonly HeadDetector PreviousTokenOnRandomTokens =
        new("previous-token_random_tokens", "previous-token (random tokens)", DetectorInput.Model, "score > 0.3");
    public static readonly HeadDetector Induction = new("induction", "induction", DetectorInput.Model, "score > 0.3");
    public static readonly HeadDetector Successor = new("successor", "successor", DetectorInput.Model, "score > 0.05");
    public static readonly HeadDetector SInhibition = new("s-inhibition", "S-inhibition", DetectorInput.Model, "attention > 0.1 and copy score < 0");
    public static readonly HeadDetector MatrixPreviousToken = new("tl_previous_token_mul", "TL previous_token (mul)", DetectorInput.Patterns, NoThreshold);
    public static readonly HeadDetector MatrixDuplicateToken = new("tl_duplicate_token_mul", "TL duplicate_token (mul)", DetectorInput.Patterns, NoThreshold);
    public static readonly HeadDetector MatrixInduction = new("tl_induction_mul", "TL induction (mul)", DetectorInput.Patterns, NoThreshold);
    public static readonly HeadDetector Copying = new("copying", "copying", DetectorInput.Model, "score > 0");

    /// <summary>The scan's order: the real-text and structured detectors, then TransformerLens's matrices, then copying.</summary>
    public static readonly IReadOnlyList<HeadDetector> All =
    [
        PreviousToken, Bos, Positional, DuplicateToken, Delimiter, PreviousTokenOnRandomTokens, Induction, Successor, SInhibition,
        MatrixPreviousToken, MatrixDuplicateToken, MatrixInduction, Copying,
    ];

    /// <summary>The detectors that need only patterns and token strings (what a pattern_lens folder can be scanned with).</summary>
    public static IReadOnlyList<HeadDetector> PatternOnly { get; } = [.. All.Where(d => d.Input == DetectorInput.Patterns)];

    /// <summary>The detector whose table this is.</summary>
    public static HeadDetector Of(HeadScores table) =>
        All.FirstOrDefault(d => d.Table == table.Detector) ?? throw new KeyNotFoundException($"No detector in the registry makes the table '{table.Detector}'.");

    /// <summary>
    /// "all" (or nothing) → null, meaning every detector; otherwise the named ones, each checked against
    /// <paramref name="available"/> before any work starts.
    /// </summary>
    public static IReadOnlySet<HeadDetector>? Select(string? list, IReadOnlyList<HeadDetector> available)
    {
        if (list is null || list.Trim().Equals("all", StringComparison.OrdinalIgnoreCase)) return null;
        var names = list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(n => n.ToLowerInvariant()).ToList();
        var known = string.Join(", ", available.Select(d => d.Name));
        if (names.Count == 0) throw new ArgumentException($"--detectors: give 'all' or a comma-separated list of: {known}.");
        var unknown = names.Where(n => available.All(d => d.Name != n)).ToList();
        if (unknown.Count > 0)
            throw new ArgumentException($"--detectors: no detector named {string.Join(", ", unknown.Select(u => $"'{u}'"))}. Detectors: {known}.");
        return available.Where(d => names.Contains(d.Name)).ToHashSet();
    }
}
