using Verification.Engine;
using Verification.Analysis;
using Verification.Engine.Loading;

namespace Verification.Fixtures.Real;

/// <summary>pattern_lens folders: real models' attention patterns, saved by pattern_lens, scanned without weights.</summary>
public static class PatternLensFolders
{
    /// <summary>The two real models whose patterns ../shared holds (pattern_lens demo data).</summary>
    public static readonly string[] Models = ["pythia-14m", "tiny-stories-1M"];

    public static string Folder(string model) => Path.Combine(SharedData.PatternLensDemo, model);

    /// <summary>The pattern-only detectors on one model's folder.</summary>
    /// <param name="detectors">The pattern-only detectors to keep (null: all).</param>
    public static ScanResult Scan(string modelFolder, IProgress<WorkProgress>? progress = null, IReadOnlySet<HeadDetector>? detectors = null)
    {
        var model = PatternLens.Read(modelFolder);
        var prompts = new List<Engine.Models.AttentionPatterns>();
        foreach (var prompt in model.Prompts())
        {
            progress?.Report(new WorkProgress($"reading {model.Name}'s prompts", prompts.Count, model.PromptHashes.Count));
            prompts.Add(prompt.Patterns);
        }
        progress.Start("detectors");
        return HeadScan.RunOnPatterns(model.Name, prompts,
        [
            $"pattern_lens folder {modelFolder}: {model.Layers} layers × {model.Heads} heads, {prompts.Count} prompts, {prompts.Sum(p => p.Length)} positions (BOS included)",
            "token identity for duplicate-token and TransformerLens's matrices: the token strings",
        ], detectors);
    }
}
