using Verification.Analysis;
using Verification.Engine.Models;
using Verification.Reports.Plots;

namespace Verification.Reports;

/// <summary>Detector tables as CSV tables and SVG plots: the same files for the CLI and the approved snapshots.</summary>
public static class ScanReport
{
    /// <summary>One row per head: layer, head, score, flagged, and the detector's extra columns.</summary>
    public static Table ToTable(HeadScores scores, int decimals = 3)
    {
        var extras = scores.Extra.Keys.Order(StringComparer.Ordinal).ToList();
        var columns = new List<Column> { new("layer", 0), new("head", 0), new("score", decimals), new("flagged", 0) };
        columns.AddRange(extras.Select(e => new Column(e, decimals)));
        var table = new Table([.. columns]);
        for (var l = 0; l < scores.Layers; l++)
            for (var h = 0; h < scores.Heads; h++)
                table.AddRow([l, h, scores[l, h], scores.IsFlagged(l, h), .. extras.Select(e => (object?)scores.Extra[e][l, h])]);
        return table;
    }

    public static string ToSvg(HeadScores scores, string model) =>
        Plot.HeadGrid(scores.Values, $"{scores.Detector} — {model}", scores.Rule is null ? scores.Threshold : null,
            decimals: 2);

    /// <summary>The positional profiles of the flagged heads (and the first head if none is flagged).</summary>
    public static string PositionalProfiles(double[,,] profiles, HeadScores positional, string model, int maxOffset = 16)
    {
        var heads = positional.Flagged.Select(f => (f.Layer, f.Head)).ToList();
        if (heads.Count == 0) heads.Add((0, 0));
        var offsets = Enumerable.Range(0, Math.Min(maxOffset, profiles.GetLength(2))).Select(d => (double)d).ToArray();
        var series = heads.Select(h => new Series(HeadScores.Name(h.Layer, h.Head),
            offsets, offsets.Select(d => profiles[h.Layer, h.Head, (int)d]).ToArray())).ToList();
        return Plot.Line(series, $"positional profile — {model}", "offset d", "mean A[q, q−d]", 0, 1, horizontalLine: 0.3);
    }

    /// <summary>One head's pattern on one prompt as a heatmap, rows and columns labelled "{token} {position}".</summary>
    public static string AttentionHeatmap(AttentionPatterns prompt, int layer, int head, string title)
    {
        var labels = prompt.Tokens.Select((t, i) => $"{t} {i}").ToArray();
        return Plot.AttentionHeatmap(prompt.Matrix(layer, head), labels, labels, title, ColourScale.Probability);
    }

    /// <summary>A detector table's file name: its slug in lower case.</summary>
    public static string Slug(string detector) => FileNames.Slug(detector).ToLowerInvariant();
}
