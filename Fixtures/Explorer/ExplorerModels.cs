using Verification.Analysis;
using Verification.Engine;
using Verification.Engine.Loading;
using Verification.Engine.Models;
using Verification.Fixtures.Real;

namespace Verification.Fixtures.Explorer;

/// <summary>
/// The models and prompts the report's attention explorer shows: the real encoders on the first corpus sentences, every
/// zoo model on the first prompts of its own text, and the pattern_lens folders' shortest saved prompts.
/// </summary>
public static class ExplorerModels
{
    public const int DefaultPrompts = 8;

    /// <summary>Name prefix of a pattern_lens folder in <see cref="Names"/> ("pattern-lens:pythia-14m").</summary>
    public const string PatternLensPrefix = "pattern-lens:";

    /// <summary>Every model the explorer can show, real ones first.</summary>
    public static IReadOnlyList<string> Names =>
        [.. ModelCatalog.RealNames, .. ModelCatalog.ZooNames.Order(StringComparer.Ordinal), .. PatternLensFolders.Models.Select(m => PatternLensPrefix + m)];

    /// <summary>Names whose data is on this machine (pattern_lens folders need ../shared).</summary>
    public static IReadOnlyList<string> Available =>
        [.. Names.Where(n => !n.StartsWith(PatternLensPrefix, StringComparison.Ordinal) || Directory.Exists(PatternLensFolders.Folder(n[PatternLensPrefix.Length..])))];

    /// <summary>One model's prompts: a catalog name, or <see cref="PatternLensPrefix"/> and a pattern_lens model.</summary>
    public static ModelPrompts Load(string name, int prompts = DefaultPrompts, IProgress<WorkProgress>? progress = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(prompts, 1);
        if (name.StartsWith(PatternLensPrefix, StringComparison.Ordinal))
        {
            var model = name[PatternLensPrefix.Length..];
            if (!PatternLensFolders.Models.Contains(model))
                throw new ArgumentException($"no pattern_lens folder '{model}'; the shared data holds {string.Join(", ", PatternLensFolders.Models)}.");
            return FromPatternLens(PatternLensFolders.Folder(model), prompts, progress);
        }
        return FromEngine(ModelCatalog.Load(name), prompts, progress);
    }

    /// <summary>The model run by our engine on the first prompts of its text (the real encoders: the corpus sentences).</summary>
    public static ModelPrompts FromEngine(ModelChoice choice, int prompts, IProgress<WorkProgress>? progress = null)
    {
        var tokenizer = choice.Tokenizer ?? throw new ArgumentException($"{choice.Name} has no tokenizer: the explorer shows tokens.");
        var real = ModelCatalog.RealNames.Contains(choice.Name);
        var text = (choice.Text ?? Prompts.PromptSets.RealText(tokenizer))
            .Select((tokens, index) => (tokens, index)).Where(p => p.tokens.Length <= choice.Model.Config.ContextLength).Take(prompts).ToList();
        var patterns = new List<AttentionPatterns>();
        foreach (var (tokens, _) in text)
        {
            progress?.Report(new WorkProgress($"running {choice.Name}", patterns.Count, text.Count));
            patterns.Add(AttentionPatterns.Of(choice.Model, tokenizer, tokens));
        }
        progress?.Report(new WorkProgress($"running {choice.Name}", patterns.Count, text.Count));
        var texts = real
            ? text.Select(p => Prompts.Sentences.All[p.index]).ToList()
            : [.. patterns.Select(p => string.Join(" ", p.Tokens))];
        return new ModelPrompts(choice.Name, real ? PromptSource.RealModel : PromptSource.Zoo,
            $"{choice.Model.Config.Describe()}; weights: {choice.Where}", texts, patterns);
    }

    /// <summary>The <paramref name="prompts"/> shortest prompts of a pattern_lens folder (ties in the folder's order).</summary>
    public static ModelPrompts FromPatternLens(string folder, int prompts, IProgress<WorkProgress>? progress = null)
    {
        var model = PatternLens.Read(folder);
        var all = new List<PatternLensPrompt>();
        foreach (var hash in model.PromptHashes)
        {
            progress?.Report(new WorkProgress($"reading {model.Name}'s patterns", all.Count, model.PromptHashes.Count));
            all.Add(PatternLens.ReadPrompt(model, hash));
        }
        var chosen = all.OrderBy(p => p.Patterns.Length).Take(prompts).ToList();
        return new ModelPrompts(PatternLensPrefix + model.Name, PromptSource.PatternLens,
            $"{model.Layers} layers × {model.Heads} heads; attention patterns saved by pattern_lens in {folder} (no weights); " +
            $"the {chosen.Count} shortest of {all.Count} prompts",
            [.. chosen.Select(p => p.Text)], [.. chosen.Select(p => p.Patterns)]);
    }
}
