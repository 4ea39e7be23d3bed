using Verification.Engine;
using Verification.Engine.Models;
using Verification.Engine.Training;

namespace Verification.Analysis;

/// <summary>Every feature of one head's output SAE described by skip-gram rules, with the two summary numbers of CLAIMS.md §4.</summary>
public sealed record RuleScanReport(string Model, int Layer, int Head, SparseAutoencoder Sae, SaeStatistics Statistics, IReadOnlyList<FeatureRules> Features)
{
    /// <summary>"Described well": validation F1 at least this with at most <see cref="WellDescribedMaxK"/> rules (the source's "about 100").</summary>
    public const double WellDescribedF1 = 0.9;
    public const int WellDescribedMaxK = 128;

    /// <summary>Active in at least 100 windows (the source's min_count) with silent windows in the validation split to test against.</summary>
    public const int MinActiveWindows = 100;

    public static bool IsEvaluable(FeatureRules r) =>
        r.ActiveWindows >= MinActiveWindows && r.Exemplars.Validation.Count(e => e.Activation == 0) >= 2;

    public static bool IsWellDescribed(FeatureRules r) =>
        r.Validation.Any(e => e.K <= WellDescribedMaxK && e.F1 >= WellDescribedF1);

    public IReadOnlyList<FeatureRules> Evaluable => [.. Features.Where(IsEvaluable)];

    public IReadOnlyList<FeatureRules> WellDescribed => [.. Evaluable.Where(IsWellDescribed)];

    /// <summary>Features whose distractor (a negative-value key) outranks their best key for its query.</summary>
    public IReadOnlyList<FeatureRules> WithDistractors => [.. Features.Where(r => r.Distractor.OutranksPositive)];

    public double WellDescribedShare => Evaluable.Count == 0 ? double.NaN : (double)WellDescribed.Count / Evaluable.Count;

    public double DistractorShare => Features.Count == 0 ? double.NaN : (double)WithDistractors.Count / Features.Count;
}

/// <summary>
/// The rule-precision protocol (CLAIMS.md §4, princeton-nlp/AttentionRules) for any model and head: the head's hook_z
/// on 64-token windows, an output SAE (given, or trained here), every latent's rules in the given input features, their
/// validation scores, and their distractors.
/// </summary>
public static class RuleScan
{
    public const int WindowLength = 64;

    /// <summary>Contiguous windows of <paramref name="length"/> tokens cut from the texts, as the source's get_batch_tokens_contiguous.</summary>
    public static int[][] Windows(IEnumerable<int[]> texts, int length = WindowLength, int max = 50_000)
    {
        var all = texts.SelectMany(t => t).ToArray();
        return [.. Enumerable.Range(0, Math.Min(max, all.Length / length)).Select(w => all[(w * length)..((w + 1) * length)])];
    }

    public static SparseAutoencoder TrainSae(Transformer model, int layer, int head, IReadOnlyList<int[]> windows, int latents, float l1 = 0.01f,
        int steps = 2000, int seed = 0, IProgress<TrainingProgress>? progress = null) =>
        SparseAutoencoder.Train(SkipGramRules.HeadOutputs(model, layer, head, windows), new SaeConfig(model.Config.HeadWidth, latents, l1, Source: $"hook_z of L{layer}H{head}"),
            steps: steps, seed: seed, progress: progress);

    /// <summary>A residual-stream SAE at hook_resid_pre of <paramref name="layer"/>: the source's input features where none is given.</summary>
    public static SparseAutoencoder TrainResidualSae(Transformer model, int layer, IReadOnlyList<int[]> windows, int latents, float l1 = 0.01f,
        int steps = 2000, int seed = 0, IProgress<TrainingProgress>? progress = null) =>
        SparseAutoencoder.Train(SkipGramRules.ResidualStream(model, layer, windows), new SaeConfig(model.Config.ModelWidth, latents, l1, Source: $"hook_resid_pre of layer {layer}"),
            steps: steps, seed: seed, progress: progress);

    public static RuleScanReport Run(string name, Transformer model, IInputFeatures inputs, int layer, int head, SparseAutoencoder sae,
        IReadOnlyList<int[]> windows, IProgress<WorkProgress>? progress = null)
    {
        if (windows.Count == 0) throw new ArgumentException("No windows to describe the features on.", nameof(windows));
        var z = SkipGramRules.HeadOutputs(model, layer, head, windows, progress: progress);
        var statistics = sae.Evaluate(z);
        var latents = sae.Encode(z);
        progress.Start($"reading the head's circuits for {inputs.Count} input features");
        var circuits = SkipGramRules.Circuits(model, layer, head, inputs);
        var active = new Dictionary<int, IReadOnlyList<(int, float)>[]>(); // window → input features active at each position
        IReadOnlyList<(int, float)>[] ActiveIn(int window) =>
            active.TryGetValue(window, out var a) ? a : active[window] = inputs.Active(windows[window]);
        var features = new List<FeatureRules>();
        for (var f = 0; f < sae.Config.Latents; f++)
        {
            var acts = SkipGramRules.LatentByWindow(latents, windows.Count, windows[0].Length, f);
            features.Add(SkipGramRules.Describe(circuits, sae, f, acts, ActiveIn));
            progress?.Report(new WorkProgress("rules for each feature", f, sae.Config.Latents));
        }
        return new RuleScanReport(name, layer, head, sae, statistics, features);
    }
}
