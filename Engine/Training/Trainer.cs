using System.Diagnostics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Verification.Engine.Training;

/// <summary>How to train: steps, AdamW settings, a linear warm-up then constant learning rate, clipping, seed.</summary>
public sealed record TrainingSettings
{
    public required int Steps { get; init; }
    public required float LearningRate { get; init; }
    public int WarmupSteps { get; init; }
    public float WeightDecay { get; init; } = 0.01f;
    public float ClipNorm { get; init; } = 1f;
    public float Beta1 { get; init; } = 0.9f;
    public float Beta2 { get; init; } = 0.999f;
    public int Seed { get; init; }

    /// <summary>The learning rate at a step (1-based): linear warm-up, then constant.</summary>
    public float RateAt(int step) => WarmupSteps > 0 && step <= WarmupSteps ? LearningRate * step / WarmupSteps : LearningRate;

    public string Describe() =>
        $"{Steps} steps, AdamW lr {LearningRate} (warm-up {WarmupSteps}), weight decay {WeightDecay}, clip {ClipNorm}, seed {Seed}";
}

/// <summary>One step's report: loss, gradient norm and throughput.</summary>
public sealed record TrainingProgress(int Step, int Steps, double Loss, double GradientNorm, double TokensPerSecond, TimeSpan Elapsed)
{
    public override string ToString() =>
        $"step {Step}/{Steps}  loss {Loss:F4}  |grad| {GradientNorm:F3}  {TokensPerSecond:F0} tokens/s  {Elapsed.TotalSeconds:F0} s";
}

/// <summary>
/// The training loop: for each step, the loss, backward through libtorch's autograd, gradient clipping, an
/// <see cref="AdamW"/> step. The data and the loss come from the caller, so one loop trains every zoo model and SAE.
/// </summary>
public static class Trainer
{
    /// <param name="parameters">Leaf tensors with requires_grad set: they are updated in place.</param>
    /// <param name="lossAt">The loss of step s (1-based) and the number of tokens it saw.</param>
    /// <param name="afterStep">Called after each step (checkpoints, evaluations, renormalisation), without gradient recording.</param>
    public static IReadOnlyList<TrainingProgress> Train(IReadOnlyList<Parameter> parameters, Func<int, (Tensor Loss, int Tokens)> lossAt,
        TrainingSettings settings, IProgress<TrainingProgress>? progress = null, Action<int>? afterStep = null, int reportEvery = 50)
    {
        if (parameters.Count == 0) throw new ArgumentException("Nothing to train: no parameters given.", nameof(parameters));
        if (parameters.FirstOrDefault(p => !p.requires_grad) is { } frozen)
            throw new ArgumentException($"A parameter of shape [{string.Join(", ", frozen.shape)}] does not require gradients.", nameof(parameters));
        using var optimizer = new AdamW(parameters, settings.Beta1, settings.Beta2, epsilon: 1e-8, weightDecay: settings.WeightDecay);
        var history = new List<TrainingProgress>();
        var watch = Stopwatch.StartNew();
        long tokens = 0;
        for (var step = 1; step <= settings.Steps; step++)
        {
            double lossValue, norm;
            // One dispose scope per step: the step's activations and gradients' intermediates go with it.
            using (var scope = torch.NewDisposeScope())
            {
                optimizer.ZeroGradients();
                var (loss, seen) = lossAt(step);
                tokens += seen;
                lossValue = loss.item<float>();
                if (!double.IsFinite(lossValue))
                    throw new InvalidOperationException($"The loss became {lossValue} at step {step}: lower the learning rate or check the data.");
                loss.backward();
                norm = settings.ClipNorm > 0 ? nn.utils.clip_grad_norm_(parameters, settings.ClipNorm) : double.NaN;
                optimizer.Step(settings.RateAt(step));
            }
            var report = new TrainingProgress(step, settings.Steps, lossValue, norm, tokens / watch.Elapsed.TotalSeconds, watch.Elapsed);
            history.Add(report);
            if (step % reportEvery == 0 || step == settings.Steps) progress?.Report(report);
            if (afterStep is not null)
            {
                // Its own scope too: what a checkpoint or a renormalisation makes is freed here, not by the finalizer.
                using var scope = torch.NewDisposeScope();
                using var noGrad = torch.no_grad();
                afterStep(step);
            }
        }
        return history;
    }
}
