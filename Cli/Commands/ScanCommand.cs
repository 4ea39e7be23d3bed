using Spectre.Console;
using Verification.Engine.Analysis;
using Verification.Engine.Tensors;
using Verification.Fixtures;
using Verification.Fixtures.Scan;

namespace Verification.Cli.Commands;

/// <summary>`scan`: every detector's layer × head table, flagged heads highlighted, with CSV and SVG files.</summary>
public static class ScanCommand
{
    public const string DefaultModel = "compiled-heads";

    public static int Run(string? model, string? detectors, string? output, string? patterns = null)
    {
        if (model is not null && patterns is not null) throw new ArgumentException("Give either --model or --patterns, not both.");
        ScanResult? result = null;
        string name;
        if (patterns is not null)
        {
            name = Path.GetFileName(Path.GetFullPath(patterns).TrimEnd(Path.DirectorySeparatorChar));
            AnsiConsole.MarkupLine($"[bold]{Markup.Escape(name)}[/]: pattern_lens folder {Markup.Escape(Path.GetFullPath(patterns))} (no weights needed)");
            AnsiConsole.Status().Spinner(Spinner.Known.Dots).Start("reading patterns", context =>
            {
                result = PatternLensScan.Run(patterns, new SynchronousProgress<string>(message => context.Status(Markup.Escape(message))));
            });
        }
        else
        {
            var choice = ModelCatalog.Load(model ?? DefaultModel);
            name = choice.Name;
            AnsiConsole.MarkupLine($"[bold]{Markup.Escape(choice.Name)}[/]: {Markup.Escape(choice.Model.Config.Describe())}");
            AnsiConsole.MarkupLine($"[grey]weights: {Markup.Escape(choice.Where)}; matrix products: {Markup.Escape(Gemm.Description)}[/]");
            AnsiConsole.Status().Spinner(Spinner.Known.Dots).Start("scanning", context =>
            {
                result = HeadScan.Run(choice, progress: new SynchronousProgress<string>(message => context.Status(Markup.Escape(message))));
            });
        }
        var wanted = detectors is null or "all" ? null : detectors.Split(',', StringSplitOptions.TrimEntries).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var tables = result!.Tables.Where(t => wanted is null || wanted.Contains(t.Detector) || wanted.Contains(ScanReport.Slug(t.Detector))).ToList();
        if (tables.Count == 0)
            throw new ArgumentException($"No detector matches '{detectors}'. Detectors: {string.Join(", ", result.Tables.Select(t => ScanReport.Slug(t.Detector)))}.");
        foreach (var t in tables) Print(t);
        foreach (var note in result.Notes) AnsiConsole.MarkupLine($"[grey]{Markup.Escape(note)}[/]");

        var folder = output ?? Path.Combine("out", "scan", Fixtures.Approvals.Approve.Slug(name));
        Directory.CreateDirectory(folder);
        foreach (var t in tables)
        {
            var slug = ScanReport.Slug(t.Detector);
            File.WriteAllText(Path.Combine(folder, slug + ".csv"), ScanReport.ToTable(t).ToCsv());
            File.WriteAllText(Path.Combine(folder, slug + ".svg"), ScanReport.ToSvg(t, name));
        }
        File.WriteAllText(Path.Combine(folder, "positional-profiles.svg"),
            ScanReport.PositionalProfiles(result.PositionalProfiles, result.Table("positional"), name));
        AnsiConsole.MarkupLine($"wrote {tables.Count} tables (CSV + SVG) and the positional profiles to [link]{Markup.Escape(Path.GetFullPath(folder))}[/]");
        return 0;
    }

    static void Print(HeadScores scores)
    {
        var table = new Table().Border(TableBorder.Rounded)
            .Title($"[bold]{Markup.Escape(scores.Detector)}[/] [grey]({Markup.Escape(scores.FlagDescription)})[/]")
            .Caption($"[grey]{Markup.Escape(scores.Definition)}[/]");
        table.AddColumn("layer");
        for (var h = 0; h < scores.Heads; h++) table.AddColumn(new TableColumn($"H{h}").RightAligned());
        for (var l = 0; l < scores.Layers; l++)
        {
            var cells = new List<string> { $"L{l}" };
            for (var h = 0; h < scores.Heads; h++)
            {
                var text = Fixtures.Approvals.Table.FormatNumber(scores[l, h], 2);
                cells.Add(scores.IsFlagged(l, h) ? $"[bold black on green]{text}[/]" : text);
            }
            table.AddRow([.. cells]);
        }
        AnsiConsole.Write(table);
        var flagged = scores.Flagged;
        AnsiConsole.MarkupLine(flagged.Count == 0
            ? "  flagged: none"
            : "  flagged: " + string.Join(", ", flagged.Select(f => $"{HeadScores.Name(f.Layer, f.Head)} ({f.Score:F3})")));
    }
}
