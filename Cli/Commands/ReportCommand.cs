using System.Globalization;
using Spectre.Console;
using Verification.Analysis;
using Verification.Engine.IO;
using Verification.Fixtures;
using Verification.Fixtures.Explorer;
using Verification.Reports.Site;

namespace Verification.Cli.Commands;

/// <summary>`report`: the static site of findings, their evidence, and an attention explorer per model.</summary>
public static class ReportCommand
{
    public static readonly string DefaultFolder = Path.Combine("out", "report");

    /// <param name="models">Comma-separated explorer models (null: every one whose data is here).</param>
    public static int Run(string? output, string? approved, string? models, int prompts)
    {
        var approvedFolder = Path.GetFullPath(approved ?? Repository.Approved);
        if (!Directory.Exists(approvedFolder)) throw new ArgumentException($"--approved: no folder {approvedFolder}.");
        var names = Names(models);
        var folder = Path.GetFullPath(output ?? DefaultFolder);
        var index = Write(folder, approvedFolder, names, prompts);
        AnsiConsole.MarkupLine($"report: {Markup.Escape(index)}");
        return 0;
    }

    /// <summary>The explorer's models by name, every name checked before any model is loaded.</summary>
    public static IReadOnlyList<string> Names(string? models)
    {
        if (models is null) return ExplorerModels.Available;
        var names = models.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (names.Length == 0) throw new ArgumentException("--models: give at least one model name.");
        foreach (var name in names)
            if (!ExplorerModels.Names.Contains(name, StringComparer.OrdinalIgnoreCase))
                throw new ArgumentException($"--models: no model '{name}' for the explorer; known: {string.Join(", ", ExplorerModels.Names)}.");
        return [.. names.Select(n => ExplorerModels.Names.First(k => k.Equals(n, StringComparison.OrdinalIgnoreCase)))];
    }

    /// <summary>Runs the models, writes the site into <paramref name="folder"/>, and returns the index page's path.</summary>
    public static string Write(string folder, string approvedFolder, IReadOnlyList<string> names, int prompts)
    {
        var loaded = new List<ModelPrompts>();
        var files = ProgressDisplay.Run(progress =>
        {
            foreach (var name in names) loaded.Add(ExplorerModels.Load(name, prompts, progress));
            return ReportSite.Build(approvedFolder, loaded, progress);
        });
        // One run's files per folder: the manifest removes pages of models an earlier report had and this one does not.
        using var output = OutputFolder.Open(folder);
        foreach (var file in files) output.WriteAllText(file.Name, file.Content);
        output.Commit();
        var size = files.Sum(f => (long)f.Content.Length);
        AnsiConsole.MarkupLine(string.Create(CultureInfo.InvariantCulture,
            $"[grey]{files.Count} files, {size / 1e6:F1} MB: {loaded.Count} models in the explorer ({loaded.Sum(m => m.Patterns.Count)} prompts)[/]"));
        return Path.Combine(folder, ReportSite.IndexFile);
    }
}
