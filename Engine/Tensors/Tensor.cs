using System.Globalization;
using System.Text;

namespace Verification.Engine.Tensors;

/// <summary>
/// A host float32 array with a shape: contiguous, row-major, <see cref="Data"/> holding exactly product(<see cref="Shape"/>)
/// values. What leaves the engine (parameters, cached activations, logits) is one of these; the engine computes on
/// libtorch tensors (<see cref="Torch.TorchRuntime.ToHost"/> and <see cref="Torch.TorchRuntime.FromHost"/> copy between them).
/// </summary>
public sealed class Tensor
{
    public Tensor(float[] data, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(shape);
        var size = SizeOf(shape);
        if (size != data.Length)
            throw new ArgumentException($"Shape {Format(shape)} holds {size} values but {data.Length} were given.", nameof(data));
        Data = data;
        Shape = (int[])shape.Clone();
    }

    public Tensor(params int[] shape) : this(new float[SizeOf(shape)], shape) { }

    /// <summary>The values, row-major.</summary>
    public float[] Data { get; }

    public int[] Shape { get; }

    public int Rank => Shape.Length;

    public int Size => Data.Length;

    /// <summary>A name for messages (parameter name, hook name).</summary>
    public string? Name { get; set; }

    public Span<float> Span => Data;

    /// <summary>Dimension <paramref name="axis"/>; negative counts from the end.</summary>
    public int Dim(int axis) => Shape[axis < 0 ? Rank + axis : axis];

    public float this[params int[] index]
    {
        get => Data[Offset(index)];
        set => Data[Offset(index)] = value;
    }

    public static Tensor Zeros(params int[] shape) => new(shape);

    public static Tensor Full(float value, params int[] shape)
    {
        var t = new Tensor(shape);
        Array.Fill(t.Data, value);
        return t;
    }

    public static Tensor Scalar(float value) => new([value]);

    public static Tensor FromArray(float[] data, params int[] shape) => new(data, shape);

    /// <summary>Normal(0, std) values from a seeded generator (Box–Muller), the same on every machine.</summary>
    public static Tensor RandomNormal(Random random, float std, params int[] shape)
    {
        var t = new Tensor(shape);
        for (var i = 0; i < t.Size; i++) t.Data[i] = (float)(NextGaussian(random) * std);
        return t;
    }

    /// <summary>Uniform values in [low, high) from a seeded generator.</summary>
    public static Tensor RandomUniform(Random random, float low, float high, params int[] shape)
    {
        var t = new Tensor(shape);
        for (var i = 0; i < t.Size; i++) t.Data[i] = (float)(low + (high - low) * random.NextDouble());
        return t;
    }

    public static double NextGaussian(Random random)
    {
        var u1 = 1.0 - random.NextDouble();
        var u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>The same values under another shape (no copy; -1 infers one dimension).</summary>
    public Tensor View(params int[] shape)
    {
        var resolved = ResolveShape(shape, Size, Shape);
        return new Tensor(Data, resolved) { Name = Name };
    }

    public Tensor Clone() => new((float[])Data.Clone(), Shape) { Name = Name };

    public int Offset(int[] index)
    {
        if (index.Length != Rank)
            throw new ArgumentException($"Index of rank {index.Length} into a tensor of shape {ShapeString}.");
        var offset = 0;
        for (var d = 0; d < Rank; d++)
        {
            if ((uint)index[d] >= (uint)Shape[d])
                throw new ArgumentOutOfRangeException(nameof(index), $"Index {index[d]} on axis {d} is outside shape {ShapeString}.");
            offset = offset * Shape[d] + index[d];
        }
        return offset;
    }

    public string ShapeString => Format(Shape);

    public static string Format(IReadOnlyList<int> shape) => "[" + string.Join(", ", shape) + "]";

    public static int SizeOf(IReadOnlyList<int> shape)
    {
        long size = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new ArgumentException($"Negative dimension in shape {Format(shape)}.");
            size *= d;
            if (size > Array.MaxLength) throw new ArgumentException($"Shape {Format(shape)} is too large for one array.");
        }
        return (int)size;
    }

    public static int[] ResolveShape(int[] shape, int size, int[] from)
    {
        var result = (int[])shape.Clone();
        var infer = Array.IndexOf(result, -1);
        if (infer >= 0)
        {
            var known = 1;
            for (var i = 0; i < result.Length; i++) if (i != infer) known *= result[i];
            if (known == 0 || size % known != 0)
                throw new ArgumentException($"Cannot view shape {Format(from)} as {Format(shape)}.");
            result[infer] = size / known;
        }
        if (SizeOf(result) != size)
            throw new ArgumentException($"Cannot view shape {Format(from)} ({size} values) as {Format(shape)}.");
        return result;
    }

    /// <summary>w [rows, columns] row-major → its transpose [columns, rows].</summary>
    public static Tensor Transposed(float[] w, int rows, int columns)
    {
        var t = new Tensor(columns, rows);
        for (var r = 0; r < rows; r++)
            for (var c = 0; c < columns; c++) t.Data[c * rows + r] = w[r * columns + c];
        return t;
    }

    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append("Tensor").Append(ShapeString);
        if (Name is not null) text.Append(' ').Append(Name);
        text.Append(" [");
        for (var i = 0; i < Math.Min(Size, 8); i++)
        {
            if (i > 0) text.Append(", ");
            text.Append(Data[i].ToString("G5", CultureInfo.InvariantCulture));
        }
        if (Size > 8) text.Append(", …");
        return text.Append(']').ToString();
    }
}
