using System.Diagnostics;
using Verification.Engine.Autodiff;
using Verification.Engine.Tensors;

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
/// The training loop: for each step, the loss on a tape, backward, gradient clipping, an AdamW step. The data and the
/// loss come from the caller, so one loop trains every zoo model.
/// </summary>
public static class Trainer
{
    /// <param name="lossAt">The loss of step s (1-based) and the number of tokens it saw, computed on the current tape.</param>
    /// <param name="afterStep">Called after each step (checkpoints, evaluations); the tape is off then.</param>
    public static IReadOnlyList<TrainingProgress> Train(IReadOnlyList<Tensor> parameters, Func<int, (Tensor Loss, int Tokens)> lossAt,
        TrainingSettings settings, IProgress<TrainingProgress>? progress = null, Action<int>? afterStep = null, int reportEvery = 50)
    {
        var optimizer = new AdamW(parameters, settings.LearningRate, settings.Beta1, settings.Beta2, weightDecay: settings.WeightDecay);
        var history = new List<TrainingProgress>();
        var watch = Stopwatch.StartNew();
        long tokens = 0;
        for (var step = 1; step <= settings.Steps; step++)
        {
            optimizer.LearningRate = settings.RateAt(step);
            double lossValue;
            float norm;
            using (var tape = Tape.Record())
            {
                var (loss, seen) = lossAt(step);
                tokens += seen;
                lossValue = loss.Data[0];
                if (!double.IsFinite(lossValue))
                    throw new InvalidOperationException($"The loss became {lossValue} at step {step}: lower the learning rate or check the data.");
                tape.Backward(loss);
            }
            norm = settings.ClipNorm > 0 ? optimizer.ClipGradNorm(settings.ClipNorm) : float.NaN;
            optimizer.Step();
            optimizer.ZeroGrad();
            var report = new TrainingProgress(step, settings.Steps, lossValue, norm, tokens / watch.Elapsed.TotalSeconds, watch.Elapsed);
            history.Add(report);
            if (step % reportEvery == 0 || step == settings.Steps) progress?.Report(report);
            afterStep?.Invoke(step);
        }
        return history;
    }

    /// <summary>Next-token cross-entropy of logits [batch, pos, vocab] against the tokens shifted by one.</summary>
    public static Tensor NextTokenLoss(Tensor logits, int[][] tokens)
    {
        int batch = logits.Shape[0], pos = logits.Shape[1], vocab = logits.Shape[2];
        var targets = new int[batch * pos];
        for (var b = 0; b < batch; b++)
            for (var p = 0; p < pos; p++) targets[b * pos + p] = p + 1 < pos ? tokens[b][p + 1] : Ops.IgnoreIndex;
        return Ops.CrossEntropy(Ops.Reshape(logits, batch * pos, vocab), targets);
    }
}
