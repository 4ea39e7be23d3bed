using Spectre.Console;
using Verification.Analysis;
using Verification.Engine.IO;
using Verification.Engine.Tensors;
using Verification.Fixtures;
using Verification.Fixtures.Protocols;
using Verification.Fixtures.Real;
using Verification.Reports;

namespace Verification.Cli.Commands;

/// <summary>`scan`: every detector's layer × head table, flagged heads highlighted, with CSV and SVG files.</summary>
public static class ScanCommand
{
    public const string DefaultModel = "minilm";

    public static int Run(string? model, string? detectors, string? output, string? patterns = null, string protocol = "quick", int? sequences = null)
    {
        if (model is not null && patterns is not null) throw new ArgumentException("Give either --model or --patterns, not both.");
        // Unknown detector names are an error before anything is loaded or run.
        var wanted = DetectorRegistry.Select(detectors, patterns is null ? DetectorRegistry.All : DetectorRegistry.PatternOnly);
        ScanResult? result = null;
        string name;
        if (patterns is not null)
        {
            if (!Directory.Exists(patterns)) throw new ArgumentException($"--patterns: no folder {Path.GetFullPath(patterns)}.");
            name = Path.GetFileName(Path.GetFullPath(patterns).TrimEnd(Path.DirectorySeparatorChar));
            AnsiConsole.MarkupLine($"[bold]{Markup.Escape(name)}[/]: pattern_lens folder {Markup.Escape(Path.GetFullPath(patterns))} (no weights needed)");
            result = ProgressDisplay.Run(progress => PatternLensFolders.Scan(patterns, progress, wanted));
        }
        else
        {
            var choice = ModelCatalog.Load(model ?? DefaultModel);
            name = choice.Name;
            AnsiConsole.MarkupLine($"[bold]{Markup.Escape(choice.Name)}[/]: {Markup.Escape(choice.Model.Config.Describe())}");
            var device = Engine.Torch.Devices.Default;
            AnsiConsole.MarkupLine($"[grey]weights: {Markup.Escape(choice.Where)}; device: {Markup.Escape(device)}; " +
                $"memory budget {Engine.Models.MemoryPlan.Mib(Engine.Models.MemoryPlan.Budget(device))} per batch[/]");
            var inputs = Protocols.Inputs(choice, Protocols.Named(protocol, choice, sequences));
            AnsiConsole.MarkupLine($"[grey]{Markup.Escape(DescribeProtocol(inputs, wanted ?? DetectorRegistry.All.ToHashSet()))}[/]");
            result = ProgressDisplay.Run(progress => HeadScan.Run(inputs, progress, wanted));
        }
        var tables = result!.Tables;
        foreach (var t in tables) Print(t);
        foreach (var note in result.Notes) AnsiConsole.MarkupLine($"[grey]{Markup.Escape(note)}[/]");

        // Each model has its own folder; the folder's manifest removes an earlier scan's files that this one did not rewrite.
        using var folder = OutputFolder.Open(output ?? Path.Combine("out", "scan", FileNames.Slug(name)));
        foreach (var t in tables)
        {
            var slug = ScanReport.Slug(t.Detector);
            folder.WriteAllText(slug + ".csv", ScanReport.ToTable(t).ToCsv());
            folder.WriteAllText(slug + ".svg", ScanReport.ToSvg(t, name));
        }
        if (result.Tables.Any(t => t.Detector == DetectorRegistry.Positional.Table))
            folder.WriteAllText("positional-profiles.svg",
                ScanReport.PositionalProfiles(result.PositionalProfiles, result.Table(DetectorRegistry.Positional), name));
        folder.Commit();
        AnsiConsole.MarkupLine($"wrote {folder.Written.Count} files ({tables.Count} tables as CSV + SVG) to [link]{Markup.Escape(folder.Path)}[/]");
        AnsiConsole.MarkupLine($"[grey]{Markup.Escape(PeakMemory.Describe())}[/]");
        return 0;
    }

    /// <summary>The protocol's name and what each part of the scan runs, with the tokens it costs.</summary>
    public static string DescribeProtocol(ScanInputs inputs, IReadOnlySet<HeadDetector> wanted)
    {
        var parts = new List<(string What, long Tokens)>();
        if (DetectorRegistry.PatternOnly.Any(wanted.Contains))
            parts.Add(($"real text {inputs.RealText.Count} prompts", inputs.RealText.Sum(p => (long)p.Length)));
        if (wanted.Contains(DetectorRegistry.PreviousTokenOnRandomTokens))
            parts.Add(($"random-token control {inputs.Protocol.ControlSequences} × {inputs.Protocol.ControlLength}",
                (long)inputs.Protocol.ControlSequences * inputs.Protocol.ControlLength));
        if (wanted.Contains(DetectorRegistry.Induction))
        {
            var i = inputs.Induction;
            parts.Add(($"induction {i.Sequences} × ({(i.Bos is null ? "" : "BOS + ")}2 × {i.HalfLength})", (long)i.Sequences * (i.PrefixLength + 2 * i.HalfLength)));
        }
        if (wanted.Contains(DetectorRegistry.Successor) && inputs.SuccessorUnavailable is null)
            parts.Add(($"successor {inputs.OrdinalLists.Count + inputs.RandomLists.Count} lists",
                inputs.OrdinalLists.Concat(inputs.RandomLists).Sum(p => (long)p.Tokens.Length)));
        if (wanted.Contains(DetectorRegistry.SInhibition) && inputs.IoiUnavailable is null)
            parts.Add(($"IOI {inputs.Ioi.Count} prompts", inputs.Ioi.Sum(p => (long)p.Tokens.Length)));
        return $"protocol {inputs.Protocol.Name}: {string.Join("; ", parts.Select(p => $"{p.What} ({p.Tokens:N0} tokens)"))}; " +
               $"{parts.Sum(p => p.Tokens):N0} tokens in all";
    }

    static void Print(HeadScores scores)
    {
        var table = new Spectre.Console.Table().Border(TableBorder.Rounded)
            .Title($"[bold]{Markup.Escape(scores.Detector)}[/] [grey]({Markup.Escape(scores.FlagDescription)})[/]")
            .Caption($"[grey]{Markup.Escape(scores.Definition)}[/]");
        table.AddColumn("layer");
        for (var h = 0; h < scores.Heads; h++) table.AddColumn(new TableColumn($"H{h}").RightAligned());
        for (var l = 0; l < scores.Layers; l++)
        {
            var cells = new List<string> { $"L{l}" };
            for (var h = 0; h < scores.Heads; h++)
            {
                var text = Reports.Table.FormatNumber(scores[l, h], 2);
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
