using Verification.Analysis;
using Verification.Engine.Tensors;
using Verification.Engine.Training;
using Verification.Fixtures.Zoo;

namespace Verification.Cli.Commands;

/// <summary>`train MODEL`: retrains a zoo model from scratch with its recipe and writes its checkpoints.</summary>
public static class TrainCommand
{
    public static readonly string[] Models = [InductionModel.Name, NegationModel.Name, ContextModel.Name, RulesModel.Name];

    /// <summary>Where checkpoints go: out/train/MODEL unless told otherwise; the committed zoo only with --into-zoo.</summary>
    public static string Folder(string model, string? output, bool intoZoo) =>
        intoZoo ? Path.Combine(TrainedZoo.Folder, model) : output ?? Path.Combine("out", "train", model);

    /// <param name="intoZoo">Replace the committed checkpoints; otherwise they go to <paramref name="output"/> or out/train/MODEL.</param>
    public static int Run(string model, string? output, bool intoZoo, int? steps)
    {
        if (!Models.Contains(model)) throw new ArgumentException($"No zoo model '{model}' to train. Trainable: {string.Join(", ", Models)}.");
        if (intoZoo && output is not null) throw new ArgumentException("Give either --out or --into-zoo, not both.");
        if (intoZoo && steps is not null) throw new ArgumentException("--into-zoo replaces the committed checkpoints and needs the full recipe: drop --steps.");
        var folder = Folder(model, output, intoZoo);
        Console.Error.WriteLine($"checkpoints go to {Path.GetFullPath(folder)}{(intoZoo ? " (replacing the committed zoo checkpoints)" : "")}");
        // One training at a time per folder: a second one would interleave its checkpoints with this one's. The folder's
        // manifest then removes an earlier run's checkpoints that this one did not rewrite (a longer run's later steps).
        using var outputFolder = Engine.IO.OutputFolder.Open(folder);
        var before = outputFolder.Mark();
        Console.Error.WriteLine($"device: {Engine.Torch.Devices.Default}");
        // What training prints waits until the progress display is gone, so the two do not overwrite each other.
        var said = new List<string>();
        void Say(string line) => said.Add(line);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        ProgressDisplay.Run(display =>
        {
            var progress = ProgressDisplay.Training(display, $"training {model}");
            switch (model)
            {
                case InductionModel.Name:
                    var settings = InductionModel.Settings with { Steps = steps ?? InductionModel.Settings.Steps };
                    Say($"{model}: {InductionModel.Config.Describe()}; {settings.Describe()}");
                    InductionModel.Train(folder, settings, progress,
                        [.. InductionModel.CheckpointSteps.Where(s => s < settings.Steps), settings.Steps]);
                    break;
                case NegationModel.Name:
                    var negation = NegationModel.Settings with { Steps = steps ?? NegationModel.Settings.Steps };
                    Say($"{model}: {NegationModel.Config.Describe()}; {negation.Describe()}");
                    var trained = NegationModel.Train(folder, negation, progress);
                    Say($"held-out accuracy (liked vs hated): {NegationModel.Accuracy(trained):P1}");
                    break;
                case ContextModel.Name:
                    var context = ContextModel.Settings with { Steps = steps ?? ContextModel.Settings.Steps };
                    Say($"{model}: {ContextModel.Config.Describe()}; {context.Describe()}");
                    var contextModel = ContextModel.Train(folder, context, progress);
                    var (lookedUp, other) = ContextModel.Losses(contextModel, ContextModel.Evaluation(32));
                    Say($"held-out loss: {lookedUp:F3} where the next token is looked up in context, {other:F3} elsewhere");
                    break;
                case RulesModel.Name:
                    var rules = RulesModel.Settings with { Steps = steps ?? RulesModel.Settings.Steps };
                    Say($"{model}: {RulesModel.Config.Describe()}; {rules.Describe()}");
                    var rulesModel = RulesModel.Train(folder, rules, progress);
                    foreach (var (rule, firing, pFiring, silent, pSilent) in RulesModel.PlantedProbabilities(rulesModel, RulesModel.ExemplarCorpus()))
                        Say($"{rule}: P(target) {pFiring:F3} where it fires ({firing}), {pSilent:F3} where not ({silent})");
                    Say($"output SAE: {RulesModel.SaeConfig}, {RulesModel.SaeSteps} steps");
                    var sae = RulesModel.TrainSae(rulesModel, progress: ProgressDisplay.Training(display, "training the output SAE"));
                    RulesModel.SaveSae(sae, folder);
                    var statistics = sae.Evaluate(SkipGramRules.HeadOutputs(rulesModel, 0, 0, RulesModel.SaeCorpus()));
                    Say($"SAE: {statistics.DeadLatents} dead latents, explained variance {statistics.ExplainedVariance:F3}, mean L0 {statistics.MeanL0:F1}");
                    break;
                default:
                    throw new ArgumentException($"No zoo model '{model}' to train. Trainable: {string.Join(", ", Models)}.");
            }
        });
        // The committed zoo folder is git's to track: no manifest there.
        if (!intoZoo)
        {
            outputFolder.AdoptFilesChangedSince(before);
            outputFolder.Commit();
        }
        foreach (var line in said) Console.Error.WriteLine(line);
        Console.WriteLine($"trained {model} in {watch.Elapsed.TotalSeconds:F0} s; checkpoints in {Path.GetFullPath(folder)}");
        return 0;
    }
}
