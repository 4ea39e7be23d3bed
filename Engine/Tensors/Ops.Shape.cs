using Verification.Engine.Autodiff;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace Verification.Engine.Tensors;

public static partial class Ops
{
    /// <summary>The same values under another shape (-1 infers one dimension).</summary>
    public static Tensor Reshape(Tensor x, params int[] shape)
    {
        var resolved = Tensor.ResolveShape(shape, x.Size, x.Shape);
        var y = new Tensor((float[])x.Data.Clone(), resolved);
        if (Tape.Wants(x))
            Tape.Add(y, () =>
            {
                if (y.Grad is not { } dy) return;
                TP.Add(x.GradBuffer().Data, dy.Data, x.Grad!.Data);
            });
        return y;
    }

    /// <summary>Reorders the axes: output axis i is input axis perm[i] (torch.permute).</summary>
    public static Tensor Permute(Tensor x, params int[] perm)
    {
        if (perm.Length != x.Rank || perm.OrderBy(p => p).Where((p, i) => p != i).Any())
            throw new ArgumentException($"Permutation [{string.Join(", ", perm)}] does not fit {Describe(x)}.");
        var outShape = perm.Select(p => x.Shape[p]).ToArray();
        var y = new Tensor(outShape);
        PermuteInto(x.Data, x.Shape, perm, y.Data, accumulate: false);
        if (Tape.Wants(x))
            Tape.Add(y, () =>
            {
                if (y.Grad is not { } dy) return;
                var inverse = new int[perm.Length];
                for (var i = 0; i < perm.Length; i++) inverse[perm[i]] = i;
                PermuteInto(dy.Data, outShape, inverse, x.GradBuffer().Data, accumulate: true);
            });
        return y;
    }

    static void PermuteInto(float[] source, int[] shape, int[] perm, float[] destination, bool accumulate)
    {
        var rank = shape.Length;
        // Stride in the source of each output axis.
        var sourceStrides = new int[rank];
        var stride = 1;
        for (var d = rank - 1; d >= 0; d--)
        {
            sourceStrides[d] = stride;
            stride *= shape[d];
        }
        var outShape = perm.Select(p => shape[p]).ToArray();
        var strideOfOut = perm.Select(p => sourceStrides[p]).ToArray();
        var index = new int[rank];
        var sourceOffset = 0;
        var inner = rank == 0 ? 1 : outShape[rank - 1];
        var innerStride = rank == 0 ? 0 : strideOfOut[rank - 1];
        for (var o = 0; o < destination.Length; o += inner)
        {
            for (var j = 0; j < inner; j++)
            {
                var v = source[sourceOffset + j * innerStride];
                if (accumulate) destination[o + j] += v;
                else destination[o + j] = v;
            }
            // Advance the multi-index over all but the innermost axis.
            for (var d = rank - 2; d >= 0; d--)
            {
                index[d]++;
                sourceOffset += strideOfOut[d];
                if (index[d] < outShape[d]) break;
                sourceOffset -= strideOfOut[d] * outShape[d];
                index[d] = 0;
            }
        }
    }

    /// <summary>
    /// Grouped-query attention: x [batch, pos, kvHead, dHead] → [batch, pos, kvHead·groups, dHead], where query
    /// head h reads key/value head h / groups (Hugging Face's repeat_kv).
    /// </summary>
    public static Tensor RepeatKv(Tensor x, int groups)
    {
        if (x.Rank != 4) throw new ArgumentException($"RepeatKv needs [batch, pos, kvHead, dHead]; got {Describe(x)}.");
        if (groups == 1) return x;
        int batch = x.Shape[0], pos = x.Shape[1], kvHeads = x.Shape[2], dHead = x.Shape[3];
        var y = new Tensor(batch, pos, kvHeads * groups, dHead);
        for (var bp = 0; bp < batch * pos; bp++)
            for (var h = 0; h < kvHeads * groups; h++)
                x.Data.AsSpan((bp * kvHeads + h / groups) * dHead, dHead).CopyTo(y.Data.AsSpan((bp * kvHeads * groups + h) * dHead, dHead));
        if (Tape.Wants(x))
            Tape.Add(y, () =>
            {
                if (y.Grad is not { } dy) return;
                var dx = x.GradBuffer().Data;
                for (var bp = 0; bp < batch * pos; bp++)
                    for (var h = 0; h < kvHeads * groups; h++)
                    {
                        var target = dx.AsSpan((bp * kvHeads + h / groups) * dHead, dHead);
                        TP.Add(target, dy.Data.AsSpan((bp * kvHeads * groups + h) * dHead, dHead), target);
                    }
            });
        return y;
    }

    /// <summary>Sum over the head axis: [batch, pos, head, dModel] → [batch, pos, dModel].</summary>
    public static Tensor SumHeads(Tensor x)
    {
        if (x.Rank != 4) throw new ArgumentException($"SumHeads needs [batch, pos, head, dModel]; got {Describe(x)}.");
        int rows = x.Shape[0] * x.Shape[1], heads = x.Shape[2], width = x.Shape[3];
        var y = new Tensor(x.Shape[0], x.Shape[1], width);
        for (var r = 0; r < rows; r++)
            for (var h = 0; h < heads; h++)
            {
                var target = y.Data.AsSpan(r * width, width);
                TP.Add(target, x.Data.AsSpan((r * heads + h) * width, width), target);
            }
        if (Tape.Wants(x))
            Tape.Add(y, () =>
            {
                if (y.Grad is not { } dy) return;
                var dx = x.GradBuffer().Data;
                for (var r = 0; r < rows; r++)
                    for (var h = 0; h < heads; h++)
                    {
                        var target = dx.AsSpan((r * heads + h) * width, width);
                        TP.Add(target, dy.Data.AsSpan(r * width, width), target);
                    }
            });
        return y;
    }
}
