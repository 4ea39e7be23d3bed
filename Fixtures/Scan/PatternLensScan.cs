using Verification.Engine.Analysis;
using Verification.Engine.Loading;

namespace Verification.Fixtures.Scan;

/// <summary>The pattern-only detectors on a pattern_lens folder: real models' patterns, no weights needed.</summary>
public static class PatternLensScan
{
    /// <param name="detectors">The pattern-only detectors to keep (null: all).</param>
    public static ScanResult Run(string modelFolder, IProgress<string>? progress = null, IReadOnlySet<string>? detectors = null)
    {
        var model = PatternLens.Read(modelFolder);
        progress?.Report($"reading {model.PromptHashes.Count} prompts of {model.Name}");
        var prompts = model.Prompts().Select(p => p.Patterns).ToList();
        progress?.Report("detectors");
        var (tables, profiles, maxOffset) = HeadScan.PatternOnly(prompts);
        return new ScanResult(model.Name, [.. tables.Where(t => detectors is null || detectors.Contains(ScanReport.Slug(t.Detector)))], profiles,
        [
            $"pattern_lens folder {modelFolder}: {model.Layers} layers × {model.Heads} heads, {prompts.Count} prompts, {prompts.Sum(p => p.Length)} positions (BOS included)",
            $"positional: offsets d < {maxOffset}",
            "token identity for duplicate-token and TransformerLens's matrices: the token strings",
        ]);
    }
}
