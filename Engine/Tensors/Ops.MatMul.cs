using Verification.Engine.Autodiff;

namespace Verification.Engine.Tensors;

/// <summary>
/// The engine's operations. Each computes its output and, when a tape records and an input requires a
/// gradient, records its backward step. Shapes are checked first and named in the error.
/// </summary>
public static partial class Ops
{
    /// <summary>
    /// x [..., k] · w [k, n] → [..., n]; with <paramref name="transposeW"/>, w is [n, k] (PyTorch's Linear layout).
    /// An optional bias [n] is added.
    /// </summary>
    public static Tensor MatMul(Tensor x, Tensor w, bool transposeW = false, Tensor? bias = null)
    {
        if (x.Rank < 1) throw new ArgumentException($"MatMul needs x of rank ≥ 1; got {x.ShapeString}.");
        if (w.Rank != 2) throw new ArgumentException($"MatMul needs a 2-D weight; got {Describe(w)}.");
        var k = x.Dim(-1);
        var (wk, n) = transposeW ? (w.Shape[1], w.Shape[0]) : (w.Shape[0], w.Shape[1]);
        if (wk != k)
            throw new ArgumentException($"MatMul shapes do not match: x {Describe(x)} has inner size {k} but w {Describe(w)}" +
                                        $"{(transposeW ? " (transposed)" : "")} has {wk}.");
        if (bias is not null && (bias.Rank != 1 || bias.Size != n))
            throw new ArgumentException($"MatMul bias {Describe(bias)} does not match the output width {n}.");
        var m = SizeOfLeading(x);
        var outShape = (int[])x.Shape.Clone();
        outShape[^1] = n;
        var y = new Tensor(outShape);
        if (bias is not null)
            for (var i = 0; i < m; i++) bias.Data.CopyTo(y.Data, i * n);
        Gemm.Multiply(false, transposeW, m, n, k, 1f, x.Data, k, w.Data, transposeW ? k : n, bias is null ? 0f : 1f, y.Data, n);

        if (Tape.Wants(x, w, bias))
        {
            Tape.Add(y, () =>
            {
                var dy = y.Grad;
                if (dy is null) return;
                if (x.RequiresGrad)
                {
                    // dx [m, k] += dy [m, n] · op(w)ᵀ
                    var dx = x.GradBuffer();
                    if (transposeW) Gemm.Multiply(false, false, m, k, n, 1f, dy.Data, n, w.Data, k, 1f, dx.Data, k);
                    else Gemm.Multiply(false, true, m, k, n, 1f, dy.Data, n, w.Data, n, 1f, dx.Data, k);
                }
                if (w.RequiresGrad)
                {
                    var dw = w.GradBuffer();
                    // w [k, n]: dw += xᵀ · dy ;  w [n, k]: dw += dyᵀ · x
                    if (transposeW) Gemm.Multiply(true, false, n, k, m, 1f, dy.Data, n, x.Data, k, 1f, dw.Data, k);
                    else Gemm.Multiply(true, false, k, n, m, 1f, x.Data, k, dy.Data, n, 1f, dw.Data, n);
                }
                if (bias is { RequiresGrad: true })
                {
                    var db = bias.GradBuffer().Data;
                    for (var i = 0; i < m; i++)
                        System.Numerics.Tensors.TensorPrimitives.Add(db, dy.Data.AsSpan(i * n, n), db);
                }
            });
        }
        return y;
    }

    /// <summary>
    /// Batched product: a [..., m, k] (or [..., k, m] transposed) · b [..., k, n] (or [..., n, k]) → [..., m, n],
    /// with identical leading (batch) dimensions.
    /// </summary>
    public static Tensor BatchedMatMul(Tensor a, Tensor b, bool transposeA = false, bool transposeB = false)
    {
        if (a.Rank < 2 || b.Rank < 2)
            throw new ArgumentException($"BatchedMatMul needs operands of rank ≥ 2; got a {Describe(a)}, b {Describe(b)}.");
        if (a.Rank != b.Rank || !a.Shape.AsSpan(0, a.Rank - 2).SequenceEqual(b.Shape.AsSpan(0, b.Rank - 2)))
            throw new ArgumentException($"BatchedMatMul needs the same batch dimensions; got a {Describe(a)}, b {Describe(b)}.");
        var (m, k) = transposeA ? (a.Dim(-1), a.Dim(-2)) : (a.Dim(-2), a.Dim(-1));
        var (bk, n) = transposeB ? (b.Dim(-1), b.Dim(-2)) : (b.Dim(-2), b.Dim(-1));
        if (k != bk)
            throw new ArgumentException($"BatchedMatMul inner sizes differ: a {Describe(a)}{(transposeA ? "ᵀ" : "")} gives {k}, " +
                                        $"b {Describe(b)}{(transposeB ? "ᵀ" : "")} gives {bk}.");
        var batch = SizeOfLeading(a, 2);
        var outShape = (int[])a.Shape.Clone();
        outShape[^2] = m;
        outShape[^1] = n;
        var c = new Tensor(outShape);
        int lda = a.Dim(-1), ldb = b.Dim(-1);
        int aStride = m * k, bStride = k * n, cStride = m * n;
        ForEachBatch(batch, m * n * k, i =>
            Gemm.Multiply(transposeA, transposeB, m, n, k, 1f, a.Data.AsSpan(i * aStride, aStride), lda,
                b.Data.AsSpan(i * bStride, bStride), ldb, 0f, c.Data.AsSpan(i * cStride, cStride), n));

        if (Tape.Wants(a, b))
        {
            Tape.Add(c, () =>
            {
                var dc = c.Grad;
                if (dc is null) return;
                if (a.RequiresGrad)
                {
                    var da = a.GradBuffer();
                    ForEachBatch(batch, m * n * k, i =>
                    {
                        var dC = dc.Data.AsSpan(i * cStride, cStride);
                        var B = b.Data.AsSpan(i * bStride, bStride);
                        var dA = da.Data.AsSpan(i * aStride, aStride);
                        if (!transposeA) Gemm.Multiply(false, !transposeB, m, k, n, 1f, dC, n, B, ldb, 1f, dA, k);
                        else Gemm.Multiply(transposeB, true, k, m, n, 1f, B, ldb, dC, n, 1f, dA, m);
                    });
                }
                if (b.RequiresGrad)
                {
                    var db = b.GradBuffer();
                    ForEachBatch(batch, m * n * k, i =>
                    {
                        var dC = dc.Data.AsSpan(i * cStride, cStride);
                        var A = a.Data.AsSpan(i * aStride, aStride);
                        var dB = db.Data.AsSpan(i * bStride, bStride);
                        if (!transposeB) Gemm.Multiply(!transposeA, false, k, n, m, 1f, A, lda, dC, n, 1f, dB, n);
                        else Gemm.Multiply(true, transposeA, n, k, m, 1f, dC, n, A, lda, 1f, dB, k);
                    });
                }
            });
        }
        return c;
    }

    /// <summary>
    /// Each head's contribution to the attention output: z [batch, pos, head, dHead] · W_O [head·dHead, dModel]
    /// → result [batch, pos, head, dModel] (TransformerLens's hook_result), without the bias.
    /// </summary>
    public static Tensor PerHeadOutput(Tensor z, Tensor wO)
    {
        if (z.Rank != 4) throw new ArgumentException($"PerHeadOutput needs z [batch, pos, head, dHead]; got {Describe(z)}.");
        int batch = z.Shape[0], pos = z.Shape[1], heads = z.Shape[2], dHead = z.Shape[3];
        if (wO.Rank != 2 || wO.Shape[0] != heads * dHead)
            throw new ArgumentException($"PerHeadOutput needs W_O [{heads * dHead}, dModel] for z {Describe(z)}; got {Describe(wO)}.");
        var dModel = wO.Shape[1];
        var rows = batch * pos;
        var result = new Tensor(batch, pos, heads, dModel);
        for (var h = 0; h < heads; h++)
        {
            // result[:, :, h, :] [rows, dModel] = z[:, :, h, :] [rows, dHead] · W_O[h] [dHead, dModel]
            Gemm.Multiply(false, false, rows, dModel, dHead, 1f, z.Data.AsSpan(h * dHead), heads * dHead,
                wO.Data.AsSpan(h * dHead * dModel), dModel, 0f, result.Data.AsSpan(h * dModel), heads * dModel);
        }
        if (Tape.Wants(z, wO))
        {
            Tape.Add(result, () =>
            {
                var dr = result.Grad;
                if (dr is null) return;
                for (var h = 0; h < heads; h++)
                {
                    if (z.RequiresGrad)
                        Gemm.Multiply(false, true, rows, dHead, dModel, 1f, dr.Data.AsSpan(h * dModel), heads * dModel,
                            wO.Data.AsSpan(h * dHead * dModel), dModel, 1f, z.GradBuffer().Data.AsSpan(h * dHead), heads * dHead);
                    if (wO.RequiresGrad)
                        Gemm.Multiply(true, false, dHead, dModel, rows, 1f, z.Data.AsSpan(h * dHead), heads * dHead,
                            dr.Data.AsSpan(h * dModel), heads * dModel, 1f, wO.GradBuffer().Data.AsSpan(h * dHead * dModel), dModel);
                }
            });
        }
        return result;
    }

    static void ForEachBatch(int batch, long workPerItem, Action<int> body)
    {
        // Small products run one after another: BLAS or the managed kernel parallelise large ones themselves.
        if (batch > 1 && workPerItem < 1 << 17 && (long)batch * workPerItem > 1 << 18)
            Parallel.For(0, batch, body);
        else
            for (var i = 0; i < batch; i++) body(i);
    }

    static int SizeOfLeading(Tensor t, int trailing = 1)
    {
        var size = 1;
        for (var d = 0; d < t.Rank - trailing; d++) size *= t.Shape[d];
        return size;
    }

    internal static string Describe(Tensor t) => t.Name is null ? t.ShapeString : $"'{t.Name}' {t.ShapeString}";
}
