using Verification.Engine.Autodiff;

namespace Verification.Engine.Tensors;

public enum RotaryLayout
{
    /// <summary>Rotates pairs (0,1), (2,3), …: Meta's Llama and llama2.c.</summary>
    Interleaved,

    /// <summary>Rotates pairs (i, i + d/2): Hugging Face Llama and GPT-NeoX.</summary>
    HalfSplit,
}

public static partial class Ops
{
    /// <summary>Rows of table [vocab, dModel] for ids [count] → [count, dModel]. Ids out of range are an error.</summary>
    public static Tensor Embedding(ReadOnlySpan<int> ids, Tensor table)
    {
        if (table.Rank != 2) throw new ArgumentException($"Embedding table must be [vocab, dModel]; got {Describe(table)}.");
        int vocab = table.Shape[0], dModel = table.Shape[1];
        for (var i = 0; i < ids.Length; i++)
            if ((uint)ids[i] >= (uint)vocab)
                throw new ArgumentOutOfRangeException(nameof(ids),
                    $"Token id {ids[i]} at position {i} is out of range for a vocabulary of {vocab} (ids are 0..{vocab - 1}).");
        var idArray = ids.ToArray();
        var y = new Tensor(ids.Length, dModel);
        for (var i = 0; i < idArray.Length; i++)
            table.Data.AsSpan(idArray[i] * dModel, dModel).CopyTo(y.Data.AsSpan(i * dModel, dModel));
        if (Tape.Wants(table))
            Tape.Add(y, () =>
            {
                if (y.Grad is not { } dy) return;
                var dt = table.GradBuffer().Data;
                for (var i = 0; i < idArray.Length; i++)
                    System.Numerics.Tensors.TensorPrimitives.Add(dt.AsSpan(idArray[i] * dModel, dModel), dy.Data.AsSpan(i * dModel, dModel),
                        dt.AsSpan(idArray[i] * dModel, dModel));
            });
        return y;
    }

    /// <summary>Rows [count, dModel] of x [rows, dModel] (e.g. the masked positions for an MLM loss).</summary>
    public static Tensor SelectRows(Tensor x, int[] rows)
    {
        if (x.Rank != 2) throw new ArgumentException($"SelectRows needs x [rows, width]; got {Describe(x)}.");
        var width = x.Shape[1];
        foreach (var r in rows)
            if ((uint)r >= (uint)x.Shape[0]) throw new ArgumentOutOfRangeException(nameof(rows), $"Row {r} is outside {Describe(x)}.");
        var y = new Tensor(rows.Length, width);
        for (var i = 0; i < rows.Length; i++) x.Data.AsSpan(rows[i] * width, width).CopyTo(y.Data.AsSpan(i * width, width));
        if (Tape.Wants(x))
            Tape.Add(y, () =>
            {
                if (y.Grad is not { } dy) return;
                var dx = x.GradBuffer().Data;
                for (var i = 0; i < rows.Length; i++)
                    for (var j = 0; j < width; j++) dx[rows[i] * width + j] += dy.Data[i * width + j];
            });
        return y;
    }

    /// <summary>
    /// Rotary position embedding on x [batch, pos, head, dHead], rotating the first <paramref name="rotaryDim"/>
    /// dimensions of each head by angle (position + offset)·base^(−2i/rotaryDim) for pair i; the rest pass through.
    /// </summary>
    public static Tensor Rotary(Tensor x, int rotaryDim, float theta, RotaryLayout layout, int positionOffset = 0)
    {
        if (x.Rank != 4) throw new ArgumentException($"Rotary needs x [batch, pos, head, dHead]; got {Describe(x)}.");
        int batch = x.Shape[0], pos = x.Shape[1], heads = x.Shape[2], dHead = x.Shape[3];
        if (rotaryDim <= 0 || rotaryDim > dHead || rotaryDim % 2 != 0)
            throw new ArgumentException($"Rotary dimension {rotaryDim} must be even and in 2..{dHead} for {Describe(x)}.");
        var (cos, sin) = RotaryTables(pos, rotaryDim, theta, positionOffset);
        var y = Rotate(x, cos, sin, rotaryDim, layout, inverse: false);
        if (Tape.Wants(x))
            Tape.Add(y, () =>
            {
                if (y.Grad is not { } dy) return;
                // The rotation is orthogonal: its transpose rotates back.
                var back = Rotate(dy, cos, sin, rotaryDim, layout, inverse: true);
                System.Numerics.Tensors.TensorPrimitives.Add(x.GradBuffer().Data, back.Data, x.Grad!.Data);
            });
        return y;

        static Tensor Rotate(Tensor x, float[] cos, float[] sin, int rotaryDim, RotaryLayout layout, bool inverse)
        {
            int batch = x.Shape[0], pos = x.Shape[1], heads = x.Shape[2], dHead = x.Shape[3];
            var half = rotaryDim / 2;
            var y = x.Clone();
            y.Name = null;
            for (var b = 0; b < batch; b++)
                for (var p = 0; p < pos; p++)
                    for (var h = 0; h < heads; h++)
                    {
                        var o = ((b * pos + p) * heads + h) * dHead;
                        for (var i = 0; i < half; i++)
                        {
                            var (i0, i1) = layout == RotaryLayout.Interleaved ? (2 * i, 2 * i + 1) : (i, i + half);
                            var c = cos[p * half + i];
                            var s = inverse ? -sin[p * half + i] : sin[p * half + i];
                            var v0 = x.Data[o + i0];
                            var v1 = x.Data[o + i1];
                            y.Data[o + i0] = v0 * c - v1 * s;
                            y.Data[o + i1] = v0 * s + v1 * c;
                        }
                    }
            return y;
        }
    }

    /// <summary>cos and sin [pos, rotaryDim/2] of angle (p + offset)·theta^(−2i/rotaryDim), computed in double.</summary>
    public static (float[] Cos, float[] Sin) RotaryTables(int positions, int rotaryDim, float theta, int positionOffset = 0)
    {
        var half = rotaryDim / 2;
        var cos = new float[positions * half];
        var sin = new float[positions * half];
        for (var p = 0; p < positions; p++)
            for (var i = 0; i < half; i++)
            {
                // Frequencies in float32 as PyTorch computes them (1/theta^(2i/d) as a float tensor), angles in double.
                var frequency = 1f / MathF.Pow(theta, 2f * i / rotaryDim);
                var angle = (double)(p + positionOffset) * frequency;
                cos[p * half + i] = (float)Math.Cos(angle);
                sin[p * half + i] = (float)Math.Sin(angle);
            }
        return (cos, sin);
    }
}
