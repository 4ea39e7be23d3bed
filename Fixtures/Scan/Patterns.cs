using Verification.Engine.Analysis;
using Verification.Engine.Models;
using Verification.Engine.Tokenizers;
using Verification.Fixtures.Plots;

namespace Verification.Fixtures.Scan;

/// <summary>Attention patterns of single prompts, and heatmaps of them with token labels.</summary>
public static class Patterns
{
    public static PromptPatterns Of(Transformer model, ITokenizer tokenizer, int[] tokens) =>
        PromptPatterns.FromModel(model, [tokens], tokenizer.TokenText, batchSize: 1).Single();

    public static string Heatmap(PromptPatterns prompt, int layer, int head, string title)
    {
        var labels = prompt.Tokens.Select((t, i) => $"{t} {i}").ToArray();
        return Plot.AttentionHeatmap(prompt.Matrix(layer, head), labels, labels, title, ColourScale.Probability);
    }
}
