using Verification.Engine.Analysis;
using Verification.Engine.Models;
using Verification.Fixtures.Prompts;

namespace Verification.Fixtures.Scan;

/// <summary>Motif samples (one per head and prompt) from model runs or from saved patterns.</summary>
public static class MotifScan
{
    /// <summary>Every head of every prompt, named "{model}:L{l}H{h}".</summary>
    public static IEnumerable<MotifSample> Samples(string model, IEnumerable<(string Prompt, PromptPatterns Patterns)> prompts)
    {
        foreach (var (name, p) in prompts)
            for (var l = 0; l < p.LayerCount; l++)
                for (var h = 0; h < p.HeadCount; h++)
                    yield return new MotifSample($"{model}:{HeadScores.Name(l, h)}", name, Motifs.PatternFeatures(p.Matrix(l, h)));
    }

    /// <summary>
    /// The prompts that exercise every kind of head in a zoo model: its real text, repeated random tokens, ordinal
    /// and random-word lists, and IOI sentences.
    /// </summary>
    public static IReadOnlyList<(string Prompt, PromptPatterns Patterns)> ZooPrompts(ModelChoice choice, int seed = 0)
    {
        var tokenizer = choice.Tokenizer ?? throw new ArgumentException($"{choice.Name} has no tokenizer.");
        var model = choice.Model;
        var prompts = new List<(string, int[])>();
        prompts.AddRange((choice.Text ?? HeadScan.RealText(tokenizer)).Take(6).Select((t, i) => ($"text {i}", t)));
        var induction = new InductionProtocol(HalfLength: Math.Min(40, model.Config.ContextLength / 2), Sequences: 3, Seed: seed);
        prompts.AddRange(induction.Prompts(model.Config.VocabularySize).Select((t, i) => ($"repeat {i}", t)));
        // Lists and IOI sentences where the vocabulary can express them (not for models of bare token ids).
        try
        {
            var (ordinal, random) = PromptSets.SuccessorLists(tokenizer);
            prompts.AddRange(ordinal.Take(3).Select((p, i) => ($"ordinal {i}", p.Tokens)));
            prompts.AddRange(random.Take(2).Select((p, i) => ($"words {i}", p.Tokens)));
            prompts.AddRange(PromptSets.Ioi(tokenizer, ScanProtocol.IoiNames).Take(3).Select((p, i) => ($"ioi {i}", p.Prompt.Tokens)));
        }
        catch (ArgumentException)
        {
        }
        return [.. prompts.Select(p => (p.Item1, Patterns.Of(model, tokenizer, p.Item2)))];
    }
}
