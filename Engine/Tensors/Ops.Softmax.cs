using Verification.Engine.Autodiff;

namespace Verification.Engine.Tensors;

public static partial class Ops
{
    /// <summary>
    /// Softmax over the last dimension, subtracting the row maximum first (TensorPrimitives.SoftMax does not and
    /// returns NaN once a logit passes ≈ 88.7). −∞ entries get probability exactly 0; a row of only −∞ gives zeros.
    /// </summary>
    public static Tensor Softmax(Tensor x)
    {
        var n = x.Dim(-1);
        var rows = x.Size / Math.Max(n, 1);
        var y = new Tensor(x.Shape);
        ParallelRange(rows, (start, end) =>
        {
            for (var r = start; r < end; r++) SoftmaxRow(x.Data.AsSpan(r * n, n), y.Data.AsSpan(r * n, n));
        }, 64);
        if (Tape.Wants(x))
            Tape.Add(y, () =>
            {
                if (y.Grad is not { } dy) return;
                var dx = x.GradBuffer().Data;
                ParallelRange(rows, (start, end) =>
                {
                    for (var r = start; r < end; r++)
                    {
                        // dx = y ⊙ (dy − Σ dy⊙y)
                        var o = r * n;
                        double dot = 0;
                        for (var i = 0; i < n; i++) dot += dy.Data[o + i] * y.Data[o + i];
                        for (var i = 0; i < n; i++) dx[o + i] += y.Data[o + i] * (dy.Data[o + i] - (float)dot);
                    }
                }, 64);
            });
        return y;
    }

    public static void SoftmaxRow(ReadOnlySpan<float> x, Span<float> y)
    {
        var max = System.Numerics.Tensors.TensorPrimitives.Max(x);
        if (float.IsNegativeInfinity(max) || x.Length == 0)
        {
            y.Clear();
            return;
        }
        // exp(x − max): −∞ entries give exactly 0.
        System.Numerics.Tensors.TensorPrimitives.Subtract(x, max, y);
        System.Numerics.Tensors.TensorPrimitives.Exp(y, y);
        var sum = System.Numerics.Tensors.TensorPrimitives.Sum(y);
        System.Numerics.Tensors.TensorPrimitives.Multiply(y, 1f / sum, y);
    }

    /// <summary>
    /// Attention scores [batch, head, query, key] with disallowed entries set to −∞: keys after the query when
    /// <paramref name="causal"/> (key k is allowed for query q when k ≤ q + keyOffset), and keys whose
    /// <paramref name="keyMask"/>[batch, key] is false (padding). Gradients flow only through allowed entries.
    /// </summary>
    public static Tensor MaskScores(Tensor scores, bool causal, bool[,]? keyMask = null)
    {
        if (scores.Rank != 4) throw new ArgumentException($"MaskScores needs scores [batch, head, query, key]; got {Describe(scores)}.");
        int batch = scores.Shape[0], heads = scores.Shape[1], queries = scores.Shape[2], keys = scores.Shape[3];
        if (keyMask is not null && (keyMask.GetLength(0) != batch || keyMask.GetLength(1) != keys))
            throw new ArgumentException($"Key mask [{keyMask.GetLength(0)}, {keyMask.GetLength(1)}] does not match scores {Describe(scores)}.");
        var offset = keys - queries; // queries are the last positions of the keys
        var y = scores.Clone();
        y.Name = null;
        Parallel.For(0, batch * heads, bh =>
        {
            var b = bh / heads;
            for (var q = 0; q < queries; q++)
            {
                var row = y.Data.AsSpan((bh * queries + q) * keys, keys);
                if (causal && q + offset + 1 < keys) row[Math.Max(0, q + offset + 1)..].Fill(float.NegativeInfinity);
                if (keyMask is not null)
                    for (var k = 0; k < keys; k++)
                        if (!keyMask[b, k]) row[k] = float.NegativeInfinity;
            }
        });
        if (Tape.Wants(scores))
            Tape.Add(y, () =>
            {
                if (y.Grad is not { } dy) return;
                var dx = scores.GradBuffer().Data;
                for (var i = 0; i < dx.Length; i++)
                    if (!float.IsNegativeInfinity(y.Data[i])) dx[i] += dy.Data[i];
            });
        return y;
    }
}
