using Verification.Engine.Models;

namespace Verification.Analysis;

/// <summary>Where a model's patterns come from, for the explorer's labels and grouping.</summary>
public enum PromptSource
{
    /// <summary>A real pretrained model run by our engine.</summary>
    RealModel,

    /// <summary>A zoo model (compiled by hand or trained here) run by our engine.</summary>
    Zoo,

    /// <summary>Patterns saved by pattern_lens from a real model: no weights, no engine run.</summary>
    PatternLens,
}

/// <summary>
/// A few prompts' attention patterns of one model, as the explorer shows them: each prompt's text and patterns, and the
/// pattern-only detectors (CLAIMS.md §1) measured over exactly these prompts.
/// </summary>
public sealed record ModelPrompts(string Model, PromptSource Source, string Description, IReadOnlyList<string> Texts, IReadOnlyList<AttentionPatterns> Patterns)
{
    public int LayerCount => Patterns[0].LayerCount;
    public int HeadCount => Patterns[0].HeadCount;

    /// <summary>The pattern-only detectors' layer × head tables over these prompts.</summary>
    public ScanResult Scores() =>
        HeadScan.RunOnPatterns(Model, Patterns, [$"{Patterns.Count} prompts, {Patterns.Sum(p => p.Length)} positions: the prompts shown"]);
}
