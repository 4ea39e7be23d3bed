namespace Verification.Engine.Tensors;

/// <summary>A double-precision array with a shape, for the reference path.</summary>
public sealed record RefTensor(double[] Data, int[] Shape)
{
    public static RefTensor From(Tensor t) => new(t.Data.Select(v => (double)v).ToArray(), (int[])t.Shape.Clone());

    public Tensor ToTensor() => new(Data.Select(v => (float)v).ToArray(), Shape);

    public int Size => Data.Length;

    public int Last => Shape[^1];
}

/// <summary>
/// The slow, obvious path: every operation as plain loops in double precision, written straight from its
/// definition. Specs compare the fast float32 kernels with these, and check each op's backward step against
/// central finite differences of these.
/// </summary>
public static class Reference
{
    /// <summary>C = op(A)·op(B) for 2-D A and B, triple loop.</summary>
    public static RefTensor MatMul(RefTensor a, RefTensor b, bool transposeA = false, bool transposeB = false)
    {
        var (m, k) = transposeA ? (a.Shape[1], a.Shape[0]) : (a.Shape[0], a.Shape[1]);
        var n = transposeB ? b.Shape[0] : b.Shape[1];
        var c = new double[m * n];
        for (var i = 0; i < m; i++)
            for (var j = 0; j < n; j++)
            {
                double sum = 0;
                for (var p = 0; p < k; p++)
                {
                    var av = transposeA ? a.Data[p * m + i] : a.Data[i * k + p];
                    var bv = transposeB ? b.Data[j * k + p] : b.Data[p * n + j];
                    sum += av * bv;
                }
                c[i * n + j] = sum;
            }
        return new RefTensor(c, [m, n]);
    }

    /// <summary>x [..., k] · w [k, n] (or [n, k] transposed) + bias.</summary>
    public static RefTensor Linear(RefTensor x, RefTensor w, bool transposeW = false, RefTensor? bias = null)
    {
        var k = x.Last;
        var rows = x.Size / k;
        var product = MatMul(new RefTensor(x.Data, [rows, k]), w, false, transposeW);
        var n = product.Shape[1];
        if (bias is not null)
            for (var r = 0; r < rows; r++)
                for (var j = 0; j < n; j++) product.Data[r * n + j] += bias.Data[j];
        return new RefTensor(product.Data, [.. x.Shape[..^1], n]);
    }

    public static RefTensor BatchedMatMul(RefTensor a, RefTensor b, bool transposeA, bool transposeB)
    {
        int ar = a.Shape[^2], ac = a.Shape[^1], br = b.Shape[^2], bc = b.Shape[^1];
        var batch = a.Size / (ar * ac);
        var m = transposeA ? ac : ar;
        var n = transposeB ? br : bc;
        var result = new List<double>();
        for (var i = 0; i < batch; i++)
        {
            var ai = new RefTensor(a.Data.AsSpan(i * ar * ac, ar * ac).ToArray(), [ar, ac]);
            var bi = new RefTensor(b.Data.AsSpan(i * br * bc, br * bc).ToArray(), [br, bc]);
            result.AddRange(MatMul(ai, bi, transposeA, transposeB).Data);
        }
        return new RefTensor([.. result], [.. a.Shape[..^2], m, n]);
    }

    public static RefTensor Map(RefTensor x, Func<double, double> f) => new(x.Data.Select(f).ToArray(), x.Shape);

    public static RefTensor Zip(RefTensor a, RefTensor b, Func<double, double, double> f) =>
        new(a.Data.Zip(b.Data, f).ToArray(), a.Shape);

    public static RefTensor AddBroadcast(RefTensor x, RefTensor y) =>
        new(x.Data.Select((v, i) => v + y.Data[i % y.Size]).ToArray(), x.Shape);

    public static double GeluTanh(double x) => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));

    public static double GeluErf(double x) => 0.5 * x * (1 + MathNet.Numerics.SpecialFunctions.Erf(x / Math.Sqrt(2)));

    public static double Silu(double x) => x / (1 + Math.Exp(-x));

    public static double Relu(double x) => Math.Max(0, x);

    public static RefTensor LayerNorm(RefTensor x, RefTensor? gamma, RefTensor? beta, double eps)
    {
        var n = x.Last;
        var y = new double[x.Size];
        for (var r = 0; r < x.Size / n; r++)
        {
            var row = x.Data.AsSpan(r * n, n);
            double mean = 0;
            foreach (var v in row) mean += v;
            mean /= n;
            double variance = 0;
            foreach (var v in row) variance += (v - mean) * (v - mean);
            variance /= n;
            for (var i = 0; i < n; i++)
                y[r * n + i] = (row[i] - mean) / Math.Sqrt(variance + eps) * (gamma?.Data[i] ?? 1) + (beta?.Data[i] ?? 0);
        }
        return new RefTensor(y, x.Shape);
    }

    public static RefTensor RmsNorm(RefTensor x, RefTensor? gamma, double eps)
    {
        var n = x.Last;
        var y = new double[x.Size];
        for (var r = 0; r < x.Size / n; r++)
        {
            double squares = 0;
            for (var i = 0; i < n; i++) squares += x.Data[r * n + i] * x.Data[r * n + i];
            var rms = Math.Sqrt(squares / n + eps);
            for (var i = 0; i < n; i++) y[r * n + i] = x.Data[r * n + i] / rms * (gamma?.Data[i] ?? 1);
        }
        return new RefTensor(y, x.Shape);
    }

    /// <summary>exp(x_i)/Σ exp(x_j) per row, with −∞ giving 0 (the max is subtracted so large logits are fine).</summary>
    public static RefTensor Softmax(RefTensor x)
    {
        var n = x.Last;
        var y = new double[x.Size];
        for (var r = 0; r < x.Size / n; r++)
        {
            var max = double.NegativeInfinity;
            for (var i = 0; i < n; i++) max = Math.Max(max, x.Data[r * n + i]);
            if (double.IsNegativeInfinity(max)) continue;
            double sum = 0;
            for (var i = 0; i < n; i++) sum += Math.Exp(x.Data[r * n + i] - max);
            for (var i = 0; i < n; i++) y[r * n + i] = Math.Exp(x.Data[r * n + i] - max) / sum;
        }
        return new RefTensor(y, x.Shape);
    }

    /// <summary>Causal attention pattern of scores [batch, head, q, k]: softmax over k ≤ q, zero elsewhere.</summary>
    public static RefTensor CausalSoftmax(RefTensor scores)
    {
        int queries = scores.Shape[^2], keys = scores.Shape[^1];
        var masked = (double[])scores.Data.Clone();
        for (var i = 0; i < masked.Length; i++)
        {
            var k = i % keys;
            var q = i / keys % queries;
            if (k > q + keys - queries) masked[i] = double.NegativeInfinity;
        }
        return Softmax(new RefTensor(masked, scores.Shape));
    }

    public static RefTensor Embedding(int[] ids, RefTensor table)
    {
        var d = table.Shape[1];
        return new RefTensor(ids.SelectMany(id => table.Data.AsSpan(id * d, d).ToArray()).ToArray(), [ids.Length, d]);
    }

    /// <summary>Rotary embedding of x [batch, pos, head, dHead], straight from the definition.</summary>
    public static RefTensor Rotary(RefTensor x, int rotaryDim, double theta, RotaryLayout layout, int positionOffset = 0)
    {
        int pos = x.Shape[1], heads = x.Shape[2], dHead = x.Shape[3];
        var y = (double[])x.Data.Clone();
        var half = rotaryDim / 2;
        for (var o = 0; o < x.Size; o += dHead)
        {
            var p = o / dHead / heads % pos;
            for (var i = 0; i < half; i++)
            {
                var frequency = (double)(1f / MathF.Pow((float)theta, 2f * i / rotaryDim));
                var angle = (p + positionOffset) * frequency;
                var (i0, i1) = layout == RotaryLayout.Interleaved ? (2 * i, 2 * i + 1) : (i, i + half);
                var (v0, v1) = (x.Data[o + i0], x.Data[o + i1]);
                y[o + i0] = v0 * Math.Cos(angle) - v1 * Math.Sin(angle);
                y[o + i1] = v0 * Math.Sin(angle) + v1 * Math.Cos(angle);
            }
        }
        return new RefTensor(y, x.Shape);
    }

    public static double CrossEntropy(RefTensor logits, int[] targets)
    {
        var vocab = logits.Last;
        double total = 0;
        var used = 0;
        for (var r = 0; r < targets.Length; r++)
        {
            if (targets[r] == Ops.IgnoreIndex) continue;
            var row = logits.Data.AsSpan(r * vocab, vocab);
            var max = double.NegativeInfinity;
            foreach (var v in row) max = Math.Max(max, v);
            double sum = 0;
            foreach (var v in row) sum += Math.Exp(v - max);
            total += -(row[targets[r]] - max - Math.Log(sum));
            used++;
        }
        return used == 0 ? 0 : total / used;
    }

    public static RefTensor Permute(RefTensor x, int[] perm)
    {
        var rank = x.Shape.Length;
        var outShape = perm.Select(p => x.Shape[p]).ToArray();
        var y = new double[x.Size];
        var index = new int[rank];
        for (var o = 0; o < y.Length; o++)
        {
            var rest = o;
            for (var d = rank - 1; d >= 0; d--)
            {
                index[d] = rest % outShape[d];
                rest /= outShape[d];
            }
            // The source index on axis perm[d] is index[d].
            var source = 0;
            var sourceIdx = new int[rank];
            for (var d = 0; d < rank; d++) sourceIdx[perm[d]] = index[d];
            for (var d = 0; d < rank; d++) source = source * x.Shape[d] + sourceIdx[d];
            y[o] = x.Data[source];
        }
        return new RefTensor(y, outShape);
    }

    public static RefTensor RepeatKv(RefTensor x, int groups)
    {
        int batch = x.Shape[0], pos = x.Shape[1], kv = x.Shape[2], d = x.Shape[3];
        var y = new double[x.Size * groups];
        for (var b = 0; b < batch; b++)
            for (var p = 0; p < pos; p++)
                for (var h = 0; h < kv * groups; h++)
                    for (var i = 0; i < d; i++)
                        y[((b * pos + p) * kv * groups + h) * d + i] = x.Data[((b * pos + p) * kv + h / groups) * d + i];
        return new RefTensor(y, [batch, pos, kv * groups, d]);
    }

    /// <summary>result[b, p, h, :] = z[b, p, h, :] · W_O[h·dHead .. (h+1)·dHead, :].</summary>
    public static RefTensor PerHeadOutput(RefTensor z, RefTensor wO)
    {
        int batch = z.Shape[0], pos = z.Shape[1], heads = z.Shape[2], dHead = z.Shape[3], dModel = wO.Shape[1];
        var y = new double[batch * pos * heads * dModel];
        for (var r = 0; r < batch * pos; r++)
            for (var h = 0; h < heads; h++)
                for (var j = 0; j < dModel; j++)
                {
                    double sum = 0;
                    for (var i = 0; i < dHead; i++) sum += z.Data[(r * heads + h) * dHead + i] * wO.Data[(h * dHead + i) * dModel + j];
                    y[(r * heads + h) * dModel + j] = sum;
                }
        return new RefTensor(y, [batch, pos, heads, dModel]);
    }

    public static RefTensor SumHeads(RefTensor x)
    {
        int rows = x.Shape[0] * x.Shape[1], heads = x.Shape[2], width = x.Shape[3];
        var y = new double[rows * width];
        for (var r = 0; r < rows; r++)
            for (var h = 0; h < heads; h++)
                for (var j = 0; j < width; j++) y[r * width + j] += x.Data[(r * heads + h) * width + j];
        return new RefTensor(y, [x.Shape[0], x.Shape[1], width]);
    }

    public static RefTensor TopK(RefTensor x, int k)
    {
        var n = x.Last;
        var y = new double[x.Size];
        for (var r = 0; r < x.Size / n; r++)
        {
            var kept = Enumerable.Range(0, n).OrderByDescending(i => x.Data[r * n + i]).ThenBy(i => i).Take(k);
            foreach (var i in kept) y[r * n + i] = x.Data[r * n + i];
        }
        return new RefTensor(y, x.Shape);
    }

    public static RefTensor RowReduce(RefTensor x, Func<IEnumerable<double>, double> reduce)
    {
        var n = x.Last;
        return new RefTensor(Enumerable.Range(0, x.Size / n).Select(r => reduce(x.Data.Skip(r * n).Take(n))).ToArray(), x.Shape[..^1]);
    }
}
