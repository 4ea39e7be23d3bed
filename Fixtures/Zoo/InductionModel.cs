using Verification.Engine.Loading;
using Verification.Engine.Models;
using Verification.Engine.Training;

namespace Verification.Fixtures.Zoo;

/// <summary>
/// The trained induction model (CLAIMS.md, "The model zoo"): a 2-layer attention-only transformer without LayerNorm,
/// 2 heads per layer, width 64, vocabulary 64, trained on 64-token sequences of uniform random tokens in which a random span of 16–32
/// tokens appears twice. Only in-context copying lowers the loss below ln 64, so a previous-token head and an
/// induction head have to form.
/// </summary>
public static class InductionModel
{
    public const string Name = "induction";
    public const int SequenceLength = 64;
    public const int BatchSize = 32;

    public static AttentionOnlyConfig Config { get; } = new()
    {
        VocabularySize = 64, ContextLength = SequenceLength, ModelWidth = 64, LayerCount = 2, HeadCount = 2, UseLayerNorm = false,
    };

    /// <summary>
    /// The calibration's settings. Without LayerNorm and with PyTorch's initialisation the run reproduces it (previous-token
    /// 0.95, both layer-1 heads inducing at 0.85–0.87); with LayerNorm the previous-token head stalled near 0.5.
    /// </summary>
    public static TrainingSettings Settings { get; } = new() { Steps = 3000, LearningRate = 3e-3f, WarmupSteps = 0, WeightDecay = 0.01f, Seed = 1 };

    /// <summary>Checkpoints kept for the phase-change plot; the last is the final model.</summary>
    public static readonly int[] CheckpointSteps = [0, 200, 400, 600, 800, 1000, 1500, 2000, 3000];

    /// <summary>One sequence: uniform random tokens with a span of 16–32 tokens copied to a later place.</summary>
    public static int[] Sequence(Random random, int vocabulary = 64, int length = SequenceLength, int minSpan = 16, int maxSpan = 32)
    {
        var tokens = Enumerable.Range(0, length).Select(_ => random.Next(vocabulary)).ToArray();
        var span = random.Next(minSpan, maxSpan + 1);
        var source = random.Next(0, length - 2 * span + 1);
        var target = random.Next(source + span, length - span + 1);
        Array.Copy(tokens, source, tokens, target, span);
        return tokens;
    }

    public static int[][] Batch(int seed, int step, int batchSize = BatchSize)
    {
        var random = TrainedZoo.StepRandom(seed, step);
        return [.. Enumerable.Range(0, batchSize).Select(_ => Sequence(random))];
    }

    /// <summary>Held-out sequences (a seed the training never uses).</summary>
    public static int[][] Evaluation(int count = 64) => Batch(seed: 999, step: 0, batchSize: count);

    /// <summary>Trains from scratch and writes the checkpoints of <see cref="CheckpointSteps"/> to <paramref name="folder"/>.</summary>
    public static AttentionOnlyModel Train(string folder, TrainingSettings? settings = null, IProgress<TrainingProgress>? progress = null,
        IReadOnlyList<int>? checkpointSteps = null)
    {
        settings ??= Settings;
        checkpointSteps ??= CheckpointSteps;
        // PyTorch's default initialisation, as in the calibration run: with GPT-2's N(0, 0.02) everywhere the model
        // found a smeared positional copying solution instead of a previous-token head and an induction head.
        var parameters = ParameterLayout.InitialiseLikePyTorch(Config, settings.Seed);
        var model = new AttentionOnlyModel(Config, parameters, $"zoo: {Name} (trained by Fixtures/Zoo/InductionModel.cs)");
        Directory.CreateDirectory(folder);
        void Save(int step) => Checkpoint.Save(model, Path.Combine(folder, FileName(step, settings.Steps)), Notes(settings, step));
        if (checkpointSteps.Contains(0)) Save(0);
        model.Train(step =>
        {
            var batch = Batch(settings.Seed, step);
            return (Losses.NextToken(model.Logits(batch), batch), batch.Length * SequenceLength);
        }, settings, progress, afterStep: step =>
        {
            if (checkpointSteps.Contains(step)) Save(step);
        });
        return model;
    }

    public static string FileName(int step, int finalStep) => step == finalStep ? "final.safetensors" : $"step-{step:D4}.safetensors";

    static Dictionary<string, string> Notes(TrainingSettings settings, int step) => new()
    {
        ["recipe"] = "Fixtures/Zoo/InductionModel.cs",
        ["data"] = "64 uniform random tokens of 64, a random span of 16-32 tokens copied to a later place; batch 32; step s uses seed*1000003+s*7919",
        ["training"] = settings.Describe() + "; PyTorch default initialisation (embeddings N(0,1), matrices U(±1/sqrt(fan_in)))",
        ["step"] = step.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>The committed checkpoint at a step (the final model by default).</summary>
    public static Transformer Load(int? step = null) =>
        TrainedZoo.Load(Name, FileName(step ?? Settings.Steps, Settings.Steps));
}
