using System.Globalization;
using Spectre.Console;
using Verification.Analysis;
using Verification.Engine.IO;
using Verification.Engine.Models;
using Verification.Engine.Tensors;
using Verification.Engine.Training;
using Verification.Fixtures;
using Verification.Fixtures.Prompts;
using Verification.Fixtures.Zoo;
using Verification.Reports;
using Verification.Reports.Plots;

namespace Verification.Cli.Commands;

/// <summary>
/// `rules`: one head's output SAE features described by skip-gram rules (CLAIMS.md §4). The rules zoo model uses its
/// committed SAE and exemplar corpus; any other model gets an SAE trained here on its text, unless --sae names one.
/// </summary>
public static class RulesCommand
{
    public static int Run(string model, int layer, int head, string? saePath, string? inputSaePath, int inputLatents, int latents, int steps, int shown, string? output)
    {
        var choice = ModelCatalog.Load(model);
        var config = choice.Model.Config;
        if ((uint)layer >= (uint)config.LayerCount) throw new ArgumentException($"Layer {layer} does not exist: {choice.Name} has {config.LayerCount} layers.");
        if ((uint)head >= (uint)config.HeadCount) throw new ArgumentException($"Head {head} does not exist: {choice.Name} has {config.HeadCount} heads.");
        AnsiConsole.MarkupLine($"[bold]{Markup.Escape(choice.Name)}[/] L{layer}H{head}: {Markup.Escape(config.Describe())}");
        AnsiConsole.MarkupLine($"[grey]weights: {Markup.Escape(choice.Where)}; device: {Markup.Escape(Engine.Torch.Devices.Default)}[/]");

        var isRulesZoo = choice.Name.Equals(RulesModel.Name, StringComparison.OrdinalIgnoreCase);
        var tokenizer = choice.Tokenizer ?? Catalog.IdTokenizer(config.VocabularySize);
        IReadOnlyList<int[]> windows = isRulesZoo
            ? RulesModel.ExemplarCorpus()
            : RuleScan.Windows(choice.Text ?? [.. EnglishText.Lines.Select(tokenizer.Encode)], Math.Min(RuleScan.WindowLength, config.ContextLength));
        if (windows.Count == 0) throw new ArgumentException($"{choice.Name}'s text is shorter than one window of {RuleScan.WindowLength} tokens.");
        AnsiConsole.MarkupLine($"[grey]{windows.Count} windows of {windows[0].Length} tokens[/]");

        SparseAutoencoder sae;
        if (saePath is not null)
            sae = LoadAny(saePath);
        else if (isRulesZoo && layer == 0 && head == 0)
            sae = RulesModel.LoadSae();
        else
        {
            sae = ProgressDisplay.Run(progress => RuleScan.TrainSae(choice.Model, layer, head, windows, latents, steps: steps,
                progress: ProgressDisplay.Training(progress, "training the output SAE")));
        }
        AnsiConsole.MarkupLine($"[grey]{Markup.Escape(sae.ToString())}[/]");

        static SparseAutoencoder LoadAny(string path) => Directory.Exists(path) ? SparseAutoencoder.LoadSaeLens(path) : SparseAutoencoder.Load(path);
        IInputFeatures inputs;
        if (inputSaePath is not null)
            inputs = new ResidualSaeFeatures(choice.Model, LoadAny(inputSaePath), layer);
        else if (inputLatents > 0)
        {
            var residual = ProgressDisplay.Run(progress => RuleScan.TrainResidualSae(choice.Model, layer, windows, inputLatents, steps: steps,
                progress: ProgressDisplay.Training(progress, "training the residual SAE")));
            inputs = new ResidualSaeFeatures(choice.Model, residual, layer);
        }
        else inputs = new TokenFeatures(choice.Model, tokenizer);
        AnsiConsole.MarkupLine($"[grey]input features: {(inputs is TokenFeatures ? "token identity" : $"{inputs.Count} latents R0… of a residual SAE on hook_resid_pre")}[/]");

        var report = ProgressDisplay.Run(progress => RuleScan.Run(choice.Name, choice.Model, inputs, layer, head, sae, windows, progress));
        var s = report.Statistics;
        AnsiConsole.MarkupLine(string.Create(CultureInfo.InvariantCulture,
            $"SAE on these windows: {s.DeadLatents} dead latents, explained variance {s.ExplainedVariance:F3}, mean L0 {s.MeanL0:F1}"));

        var table = new Spectre.Console.Table().AddColumns("feature", "active windows", "top rules (key…query)", "P@16", "R@16", "F1@16", "F1@128", "distractor");
        string Score(FeatureRules r, int k, Func<RuleEvaluation, double> score) =>
            RuleScanReport.IsEvaluable(r) && r.Validation.FirstOrDefault(e => e.K == k) is { } e ? score(e).ToString("F2", CultureInfo.InvariantCulture) : "–";
        string Rule(SkipGramRule r) => string.Create(CultureInfo.InvariantCulture,
            $"{inputs.Name(r.Key)} … {inputs.Name(r.Query)} ({r.AttentionScore:F1}, {r.ValueScore:F2})");
        string ShortRule(SkipGramRule r) => $"{inputs.Name(r.Key)}…{inputs.Name(r.Query)}";
        // Best-described first: the features a reader can check against the rules.
        double BestF1(FeatureRules r) => RuleScanReport.IsEvaluable(r) && r.Validation.Count > 0 ? r.Validation.Max(e => e.F1) : -1;
        var ordered = report.Features.OrderByDescending(BestF1).ThenByDescending(r => r.ActiveWindows).Take(shown).ToList();
        foreach (var r in ordered)
            table.AddRow(Markup.Escape($"F{r.Feature}"), r.ActiveWindows.ToString(CultureInfo.InvariantCulture),
                Markup.Escape(string.Join(", ", r.Rules.Take(3).Select(ShortRule))),
                Score(r, 16, e => e.Precision), Score(r, 16, e => e.Recall), Score(r, 16, e => e.F1), Score(r, 128, e => e.F1),
                r.Distractor.OutranksPositive ? Markup.Escape(inputs.Name(r.Distractor.Distractor!.Key)) : "");
        AnsiConsole.Write(table);
        if (report.Features.Count > shown) AnsiConsole.MarkupLine($"[grey]{report.Features.Count - shown} more features in the CSV[/]");
        AnsiConsole.MarkupLine(string.Create(CultureInfo.InvariantCulture,
            $"described well (F1 ≥ {RuleScanReport.WellDescribedF1} with ≤ {RuleScanReport.WellDescribedMaxK} rules): {report.WellDescribed.Count} of {report.Evaluable.Count} evaluable features; with a distractor: {report.WithDistractors.Count} of {report.Features.Count}"));

        using var folder = OutputFolder.Open(output ?? Path.Combine("out", "rules", FileNames.Slug(choice.Name) + $"-L{layer}H{head}"));
        var csv = new Reports.Table([new Column("feature", 0), new Column("active windows", 0), new Column("top rule", 0),
            new Column("attention score", 3), new Column("value score", 3),
            .. SkipGramRules.TopKs.SelectMany(k => new[] { new Column($"P@{k}", 3), new Column($"R@{k}", 3), new Column($"F1@{k}", 3) }), new Column("distractor", 0)]);
        foreach (var r in report.Features)
            csv.AddRow([$"F{r.Feature}", r.ActiveWindows, Rule(r.Rules[0]), r.Rules[0].AttentionScore, r.Rules[0].ValueScore,
                .. SkipGramRules.TopKs.SelectMany(k => RuleScanReport.IsEvaluable(r) && r.Validation.FirstOrDefault(e => e.K == k) is { } e
                    ? new object[] { e.Precision, e.Recall, e.F1 } : [double.NaN, double.NaN, double.NaN]),
                r.Distractor.OutranksPositive ? inputs.Name(r.Distractor.Distractor!.Key) : ""]);
        folder.WriteAllText("features.csv", csv.ToCsv());
        var evaluable = report.Evaluable;
        if (evaluable.Count > 0)
        {
            var ks = SkipGramRules.TopKs.Where(k => evaluable.All(r => r.Validation.Any(e => e.K == k))).ToArray();
            double Median(IEnumerable<double> xs) { var l = xs.Order().ToList(); return l[l.Count / 2]; }
            var series = new List<Series>
            {
                new("median F1", [.. ks.Select(k => Math.Log2(k))], [.. ks.Select(k => Median(evaluable.Select(r => r.Validation.First(e => e.K == k).F1)))]),
                new("mean precision", [.. ks.Select(k => Math.Log2(k))], [.. ks.Select(k => evaluable.Average(r => r.Validation.First(e => e.K == k).Precision))]),
                new("mean recall", [.. ks.Select(k => Math.Log2(k))], [.. ks.Select(k => evaluable.Average(r => r.Validation.First(e => e.K == k).Recall))]),
            };
            folder.WriteAllText("by-k.svg",
                Plot.Line(series, $"skip-gram rules of {evaluable.Count} SAE features of {choice.Name} L{layer}H{head}", "log₂ k: the top k rules", "score", 0, 1));
        }
        else
            AnsiConsole.MarkupLine($"[yellow]no feature is evaluable: each needs {RuleScanReport.MinActiveWindows} active windows and silent ones to test against; give more text than {windows.Count} windows[/]");
        folder.Commit();
        AnsiConsole.MarkupLine($"wrote {string.Join(" and ", folder.Written)} to [link]{Markup.Escape(folder.Path)}[/]");
        return 0;
    }
}
