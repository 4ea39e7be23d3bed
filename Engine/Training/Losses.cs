using TorchSharp;
using static TorchSharp.torch;

namespace Verification.Engine.Training;

/// <summary>The losses the zoo and the SAEs train on, on libtorch tensors.</summary>
public static class Losses
{
    /// <summary>A target that contributes nothing to the loss (padding, the last position).</summary>
    public const int IgnoreIndex = -100;

    /// <summary>Mean cross-entropy of logits [n, classes] against targets [n], skipping <see cref="IgnoreIndex"/>.</summary>
    public static Tensor CrossEntropy(Tensor logits, IReadOnlyList<int> targets)
    {
        if (logits.dim() != 2 || logits.shape[0] != targets.Count)
            throw new ArgumentException($"Cross-entropy needs logits [n, classes] and n targets; got [{string.Join(", ", logits.shape)}] and {targets.Count}.");
        var classes = logits.shape[1];
        foreach (var t in targets)
            if (t != IgnoreIndex && (t < 0 || t >= classes))
                throw new ArgumentOutOfRangeException(nameof(targets), $"Target {t} is outside {classes} classes.");
        using var target = torch.tensor(targets.Select(t => (long)t).ToArray(), device: logits.device);
        return nn.functional.cross_entropy(logits, target, ignore_index: IgnoreIndex);
    }

    /// <summary>Next-token cross-entropy of logits [batch, pos, vocab] against the tokens shifted by one.</summary>
    public static Tensor NextToken(Tensor logits, int[][] tokens)
    {
        long batch = logits.shape[0], pos = logits.shape[1], vocab = logits.shape[2];
        var targets = new int[batch * pos];
        for (var b = 0; b < batch; b++)
            for (var p = 0; p < pos; p++) targets[b * pos + p] = p + 1 < pos ? tokens[b][p + 1] : IgnoreIndex;
        return CrossEntropy(logits.reshape(batch * pos, vocab), targets);
    }

    /// <summary>mean((a − b)²) over every entry.</summary>
    public static Tensor MeanSquaredError(Tensor a, Tensor b) => nn.functional.mse_loss(a, b);

    /// <summary>log softmax(row)[index], in double with the row maximum subtracted: a host helper for evaluations.</summary>
    public static double LogSoftmaxAt(ReadOnlySpan<float> row, int index)
    {
        double max = double.NegativeInfinity;
        foreach (var x in row) max = Math.Max(max, x);
        double sum = 0;
        foreach (var x in row) sum += Math.Exp(x - max);
        return row[index] - max - Math.Log(sum);
    }
}
