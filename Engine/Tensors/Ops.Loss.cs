using Verification.Engine.Autodiff;

namespace Verification.Engine.Tensors;

public static partial class Ops
{
    public const int IgnoreIndex = -100;

    /// <summary>
    /// Mean cross-entropy of logits [count, vocab] against target ids [count]; targets equal to
    /// <see cref="IgnoreIndex"/> are left out of the mean (PyTorch's convention).
    /// </summary>
    public static Tensor CrossEntropy(Tensor logits, ReadOnlySpan<int> targets)
    {
        if (logits.Rank != 2) throw new ArgumentException($"CrossEntropy needs logits [count, vocab]; got {Describe(logits)}.");
        int count = logits.Shape[0], vocab = logits.Shape[1];
        if (targets.Length != count)
            throw new ArgumentException($"CrossEntropy got {targets.Length} targets for {count} rows of logits {Describe(logits)}.");
        var t = targets.ToArray();
        var used = 0;
        for (var i = 0; i < count; i++)
        {
            if (t[i] == IgnoreIndex) continue;
            if ((uint)t[i] >= (uint)vocab)
                throw new ArgumentOutOfRangeException(nameof(targets), $"Target id {t[i]} at row {i} is out of range for {vocab} classes.");
            used++;
        }
        var probabilities = new float[logits.Size];
        double total = 0;
        for (var i = 0; i < count; i++)
        {
            if (t[i] == IgnoreIndex) continue;
            var row = probabilities.AsSpan(i * vocab, vocab);
            SoftmaxRow(logits.Data.AsSpan(i * vocab, vocab), row);
            total += -LogSoftmaxAt(logits.Data.AsSpan(i * vocab, vocab), t[i]);
        }
        var loss = Tensor.Scalar(used == 0 ? 0f : (float)(total / used));
        if (Tape.Wants(logits))
            Tape.Add(loss, () =>
            {
                if (loss.Grad is not { } dl || used == 0) return;
                var scale = dl.Data[0] / used;
                var dx = logits.GradBuffer().Data;
                for (var i = 0; i < count; i++)
                {
                    if (t[i] == IgnoreIndex) continue;
                    for (var j = 0; j < vocab; j++) dx[i * vocab + j] += scale * probabilities[i * vocab + j];
                    dx[i * vocab + t[i]] -= scale;
                }
            });
        return loss;
    }

    /// <summary>log softmax(row)[index], stable for large logits.</summary>
    public static double LogSoftmaxAt(ReadOnlySpan<float> row, int index)
    {
        var max = float.NegativeInfinity;
        foreach (var v in row) if (v > max) max = v;
        double sum = 0;
        foreach (var v in row) sum += Math.Exp(v - max);
        return row[index] - max - Math.Log(sum);
    }

    /// <summary>Per-row cross-entropy −log p(target) of logits [count, vocab], no gradient (for analysis).</summary>
    public static float[] TokenLosses(Tensor logits, ReadOnlySpan<int> targets)
    {
        int count = logits.Shape[0], vocab = logits.Shape[1];
        if (targets.Length != count) throw new ArgumentException($"TokenLosses got {targets.Length} targets for {count} rows.");
        var losses = new float[count];
        for (var i = 0; i < count; i++)
        {
            if ((uint)targets[i] >= (uint)vocab) throw new ArgumentOutOfRangeException(nameof(targets), $"Target id {targets[i]} is out of range for {vocab} classes.");
            losses[i] = (float)-LogSoftmaxAt(logits.Data.AsSpan(i * vocab, vocab), targets[i]);
        }
        return losses;
    }

    /// <summary>Mean of (a − b)² over all values.</summary>
    public static Tensor MeanSquaredError(Tensor a, Tensor b)
    {
        SameShape("MeanSquaredError", a, b);
        double total = 0;
        for (var i = 0; i < a.Size; i++) total += (double)(a.Data[i] - b.Data[i]) * (a.Data[i] - b.Data[i]);
        var loss = Tensor.Scalar((float)(total / Math.Max(1, a.Size)));
        if (Tape.Wants(a, b))
            Tape.Add(loss, () =>
            {
                if (loss.Grad is not { } dl) return;
                var scale = 2f * dl.Data[0] / Math.Max(1, a.Size);
                for (var i = 0; i < a.Size; i++)
                {
                    var d = scale * (a.Data[i] - b.Data[i]);
                    if (a.RequiresGrad) a.GradBuffer().Data[i] += d;
                    if (b.RequiresGrad) b.GradBuffer().Data[i] -= d;
                }
            });
        return loss;
    }
}
