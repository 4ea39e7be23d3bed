using Verification.Engine.Autodiff;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace Verification.Engine.Tensors;

public static partial class Ops
{
    /// <summary>Sum of all values → a scalar.</summary>
    public static Tensor Sum(Tensor x)
    {
        double total = 0;
        foreach (var v in x.Data) total += v;
        var y = Tensor.Scalar((float)total);
        if (Tape.Wants(x))
            Tape.Add(y, () =>
            {
                if (y.Grad is not { } dy) return;
                TP.Add(x.GradBuffer().Data, dy.Data[0], x.Grad!.Data);
            });
        return y;
    }

    /// <summary>Mean of all values → a scalar.</summary>
    public static Tensor Mean(Tensor x) => Scale(Sum(x), 1f / Math.Max(1, x.Size));

    /// <summary>Sum over the last dimension: [..., n] → [...].</summary>
    public static Tensor RowSum(Tensor x)
    {
        var n = x.Dim(-1);
        var rows = x.Size / Math.Max(n, 1);
        var y = new Tensor(x.Shape[..^1]);
        for (var r = 0; r < rows; r++) y.Data[r] = TP.Sum(x.Data.AsSpan(r * n, n));
        if (Tape.Wants(x))
            Tape.Add(y, () =>
            {
                if (y.Grad is not { } dy) return;
                var dx = x.GradBuffer().Data;
                for (var r = 0; r < rows; r++)
                {
                    var target = dx.AsSpan(r * n, n);
                    TP.Add(target, dy.Data[r], target);
                }
            });
        return y;
    }

    /// <summary>Mean over the last dimension: [..., n] → [...].</summary>
    public static Tensor RowMean(Tensor x) => Scale(RowSum(x), 1f / Math.Max(1, x.Dim(-1)));

    /// <summary>Maximum over the last dimension: [..., n] → [...]; the gradient goes to the first maximum.</summary>
    public static Tensor RowMax(Tensor x)
    {
        var n = x.Dim(-1);
        if (n == 0) throw new ArgumentException($"RowMax of an empty last dimension: {Describe(x)}.");
        var rows = x.Size / n;
        var y = new Tensor(x.Shape[..^1]);
        var arg = new int[rows];
        for (var r = 0; r < rows; r++)
        {
            arg[r] = TP.IndexOfMax(x.Data.AsSpan(r * n, n));
            y.Data[r] = x.Data[r * n + arg[r]];
        }
        if (Tape.Wants(x))
            Tape.Add(y, () =>
            {
                if (y.Grad is not { } dy) return;
                var dx = x.GradBuffer().Data;
                for (var r = 0; r < rows; r++) dx[r * n + arg[r]] += dy.Data[r];
            });
        return y;
    }

    /// <summary>Σ|x| → a scalar (an L1 penalty); the subgradient at 0 is 0.</summary>
    public static Tensor AbsSum(Tensor x)
    {
        double total = 0;
        foreach (var v in x.Data) total += Math.Abs(v);
        var y = Tensor.Scalar((float)total);
        if (Tape.Wants(x))
            Tape.Add(y, () =>
            {
                if (y.Grad is not { } dy) return;
                var dx = x.GradBuffer().Data;
                for (var i = 0; i < dx.Length; i++) dx[i] += dy.Data[0] * MathF.Sign(x.Data[i]);
            });
        return y;
    }

    /// <summary>
    /// Keeps the <paramref name="k"/> largest values of each row of x [rows, n] and zeroes the rest (a top-k SAE
    /// activation); ties go to the lower index. The gradient flows through the kept entries only.
    /// </summary>
    public static Tensor TopK(Tensor x, int k)
    {
        var n = x.Dim(-1);
        if (k < 1 || k > n) throw new ArgumentException($"TopK k={k} must be in 1..{n} for {Describe(x)}.");
        var rows = x.Size / n;
        var y = new Tensor(x.Shape);
        var keep = new bool[x.Size];
        var order = new int[n];
        for (var r = 0; r < rows; r++)
        {
            for (var i = 0; i < n; i++) order[i] = i;
            var row = x.Data.AsSpan(r * n, n).ToArray();
            Array.Sort(order, (i, j) => row[j] != row[i] ? row[j].CompareTo(row[i]) : i.CompareTo(j));
            for (var i = 0; i < k; i++)
            {
                keep[r * n + order[i]] = true;
                y.Data[r * n + order[i]] = row[order[i]];
            }
        }
        if (Tape.Wants(x))
            Tape.Add(y, () =>
            {
                if (y.Grad is not { } dy) return;
                var dx = x.GradBuffer().Data;
                for (var i = 0; i < dx.Length; i++) if (keep[i]) dx[i] += dy.Data[i];
            });
        return y;
    }
}
