using Verification.Engine.Autodiff;

namespace Verification.Engine.Tensors;

public static partial class Ops
{
    /// <summary>
    /// LayerNorm over the last dimension: (x − mean)/√(var + eps)·gamma + beta, with the biased variance as PyTorch.
    /// gamma and beta may be null (TransformerLens's LNPre).
    /// </summary>
    public static Tensor LayerNorm(Tensor x, Tensor? gamma, Tensor? beta, float eps)
    {
        var n = x.Dim(-1);
        CheckVector("LayerNorm gamma", gamma, n, x);
        CheckVector("LayerNorm beta", beta, n, x);
        var rows = x.Size / Math.Max(n, 1);
        var y = new Tensor(x.Shape);
        var xhat = new float[x.Size];
        var rstd = new float[rows];
        ParallelRange(rows, (start, end) =>
        {
            for (var r = start; r < end; r++)
            {
                var row = x.Data.AsSpan(r * n, n);
                double mean = 0;
                for (var i = 0; i < n; i++) mean += row[i];
                mean /= n;
                double variance = 0;
                for (var i = 0; i < n; i++) variance += (row[i] - mean) * (row[i] - mean);
                variance /= n;
                var s = (float)(1.0 / Math.Sqrt(variance + eps));
                rstd[r] = s;
                for (var i = 0; i < n; i++)
                {
                    var h = (float)(row[i] - mean) * s;
                    xhat[r * n + i] = h;
                    y.Data[r * n + i] = h * (gamma?.Data[i] ?? 1f) + (beta?.Data[i] ?? 0f);
                }
            }
        }, 256);
        if (Tape.Wants(x, gamma ?? x, beta))
            Tape.Add(y, () =>
            {
                if (y.Grad is not { } dy) return;
                var dx = x.RequiresGrad ? x.GradBuffer().Data : null;
                var dg = gamma is { RequiresGrad: true } ? gamma.GradBuffer().Data : null;
                var db = beta is { RequiresGrad: true } ? beta.GradBuffer().Data : null;
                for (var r = 0; r < rows; r++)
                {
                    double meanDh = 0, meanDhH = 0;
                    for (var i = 0; i < n; i++)
                    {
                        var g = dy.Data[r * n + i];
                        var dh = g * (gamma?.Data[i] ?? 1f);
                        meanDh += dh;
                        meanDhH += dh * xhat[r * n + i];
                        if (dg is not null) dg[i] += g * xhat[r * n + i];
                        if (db is not null) db[i] += g;
                    }
                    if (dx is null) continue;
                    meanDh /= n;
                    meanDhH /= n;
                    for (var i = 0; i < n; i++)
                    {
                        var dh = dy.Data[r * n + i] * (gamma?.Data[i] ?? 1f);
                        dx[r * n + i] += (float)(rstd[r] * (dh - meanDh - xhat[r * n + i] * meanDhH));
                    }
                }
            });
        return y;
    }

    /// <summary>RMSNorm over the last dimension: x/√(mean(x²) + eps)·gamma (Llama).</summary>
    public static Tensor RmsNorm(Tensor x, Tensor? gamma, float eps)
    {
        var n = x.Dim(-1);
        CheckVector("RmsNorm gamma", gamma, n, x);
        var rows = x.Size / Math.Max(n, 1);
        var y = new Tensor(x.Shape);
        var inverse = new float[rows];
        ParallelRange(rows, (start, end) =>
        {
            for (var r = start; r < end; r++)
            {
                double squares = 0;
                for (var i = 0; i < n; i++) squares += (double)x.Data[r * n + i] * x.Data[r * n + i];
                var s = (float)(1.0 / Math.Sqrt(squares / n + eps));
                inverse[r] = s;
                for (var i = 0; i < n; i++) y.Data[r * n + i] = x.Data[r * n + i] * s * (gamma?.Data[i] ?? 1f);
            }
        }, 256);
        if (Tape.Wants(x, gamma ?? x))
            Tape.Add(y, () =>
            {
                if (y.Grad is not { } dy) return;
                var dx = x.RequiresGrad ? x.GradBuffer().Data : null;
                var dg = gamma is { RequiresGrad: true } ? gamma.GradBuffer().Data : null;
                for (var r = 0; r < rows; r++)
                {
                    var s = inverse[r];
                    double dot = 0;
                    for (var i = 0; i < n; i++)
                    {
                        var g = dy.Data[r * n + i];
                        dot += g * (gamma?.Data[i] ?? 1f) * x.Data[r * n + i];
                        if (dg is not null) dg[i] += g * x.Data[r * n + i] * s;
                    }
                    if (dx is null) continue;
                    var c = (float)(dot * s * s * s / n);
                    for (var i = 0; i < n; i++)
                        dx[r * n + i] += dy.Data[r * n + i] * (gamma?.Data[i] ?? 1f) * s - x.Data[r * n + i] * c;
                }
            });
        return y;
    }

    static void CheckVector(string what, Tensor? v, int n, Tensor x)
    {
        if (v is not null && (v.Rank != 1 || v.Size != n))
            throw new ArgumentException($"{what} {Describe(v)} does not match the last dimension of {Describe(x)}.");
    }
}
