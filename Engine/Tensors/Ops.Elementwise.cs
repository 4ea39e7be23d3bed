using System.Numerics.Tensors;
using Verification.Engine.Autodiff;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace Verification.Engine.Tensors;

public enum GeluForm
{
    /// <summary>0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))): GPT-2's "gelu_new".</summary>
    Tanh,

    /// <summary>0.5·x·(1 + erf(x/√2)): BERT's exact gelu.</summary>
    Erf,
}

public static partial class Ops
{
    public static Tensor Add(Tensor a, Tensor b)
    {
        SameShape("Add", a, b);
        var y = new Tensor(a.Shape);
        TP.Add(a.Data, b.Data, y.Data);
        if (Tape.Wants(a, b))
            Tape.Add(y, () =>
            {
                if (y.Grad is not { } dy) return;
                if (a.RequiresGrad) TP.Add(a.GradBuffer().Data, dy.Data, a.Grad!.Data);
                if (b.RequiresGrad) TP.Add(b.GradBuffer().Data, dy.Data, b.Grad!.Data);
            });
        return y;
    }

    /// <summary>x [..., *shape(y)] + y, broadcasting y over the leading dimensions (a bias, position embeddings).</summary>
    public static Tensor AddBroadcast(Tensor x, Tensor y)
    {
        if (y.Rank > x.Rank || !x.Shape.AsSpan(x.Rank - y.Rank).SequenceEqual(y.Shape))
            throw new ArgumentException($"AddBroadcast needs y's shape to end x's shape; got x {Describe(x)}, y {Describe(y)}.");
        var result = new Tensor(x.Shape);
        var inner = y.Size;
        var outer = inner == 0 ? 0 : x.Size / inner;
        for (var i = 0; i < outer; i++)
            TP.Add(x.Data.AsSpan(i * inner, inner), y.Data, result.Data.AsSpan(i * inner, inner));
        if (Tape.Wants(x, y))
            Tape.Add(result, () =>
            {
                if (result.Grad is not { } dr) return;
                if (x.RequiresGrad) TP.Add(x.GradBuffer().Data, dr.Data, x.Grad!.Data);
                if (y.RequiresGrad)
                {
                    var dy = y.GradBuffer().Data;
                    for (var i = 0; i < outer; i++) TP.Add(dy, dr.Data.AsSpan(i * inner, inner), dy);
                }
            });
        return result;
    }

    public static Tensor Mul(Tensor a, Tensor b)
    {
        SameShape("Mul", a, b);
        var y = new Tensor(a.Shape);
        TP.Multiply(a.Data, b.Data, y.Data);
        if (Tape.Wants(a, b))
            Tape.Add(y, () =>
            {
                if (y.Grad is not { } dy) return;
                if (a.RequiresGrad) TP.FusedMultiplyAdd(dy.Data, b.Data, a.GradBuffer().Data, a.Grad!.Data);
                if (b.RequiresGrad) TP.FusedMultiplyAdd(dy.Data, a.Data, b.GradBuffer().Data, b.Grad!.Data);
            });
        return y;
    }

    public static Tensor Scale(Tensor x, float factor)
    {
        var y = new Tensor(x.Shape);
        TP.Multiply(x.Data, factor, y.Data);
        if (Tape.Wants(x))
            Tape.Add(y, () =>
            {
                if (y.Grad is not { } dy) return;
                TP.FusedMultiplyAdd(dy.Data, factor, x.GradBuffer().Data, x.Grad!.Data);
            });
        return y;
    }

    public static Tensor Relu(Tensor x) => Unary(x, (input, output) => TP.Max(input, 0f, output), (v, _) => v > 0 ? 1 : 0);

    /// <summary>x·sigmoid(x), Llama's SwiGLU gate.</summary>
    public static Tensor Silu(Tensor x) => Unary(x,
        v => v / (1f + MathF.Exp(-v)),
        (v, _) =>
        {
            var s = 1f / (1f + MathF.Exp(-v));
            return s * (1f + v * (1f - s));
        });

    public static Tensor Gelu(Tensor x, GeluForm form) => form switch
    {
        GeluForm.Tanh => Unary(x, GeluTanhInto, (v, _) => GeluTanhDerivative(v)),
        _ => Unary(x, v => GeluErf(v), (v, _) => GeluErfDerivative(v)),
    };

    /// <summary>gelu (tanh form) of a span, vectorised with TensorPrimitives.</summary>
    static void GeluTanhInto(ReadOnlySpan<float> x, Span<float> y)
    {
        // y = 0.5·x·(1 + tanh(√(2/π)·x·(1 + 0.044715·x²)))
        TP.Multiply(x, x, y);
        TP.Multiply(y, 0.044715f, y);
        TP.Add(y, 1f, y);
        TP.Multiply(y, x, y);
        TP.Multiply(y, SqrtTwoOverPi, y);
        TP.Tanh(y, y);
        TP.Add(y, 1f, y);
        TP.Multiply(y, x, y);
        TP.Multiply(y, 0.5f, y);
    }

    const float SqrtTwoOverPi = 0.7978845608028654f;
    const float InvSqrtTwo = 0.7071067811865476f;
    const float InvSqrtTwoPi = 0.3989422804014327f;

    public static float GeluTanh(float v) => 0.5f * v * (1f + MathF.Tanh(SqrtTwoOverPi * (v + 0.044715f * v * v * v)));

    static float GeluTanhDerivative(float v)
    {
        var inner = SqrtTwoOverPi * (v + 0.044715f * v * v * v);
        var t = MathF.Tanh(inner);
        return 0.5f * (1f + t) + 0.5f * v * (1f - t * t) * SqrtTwoOverPi * (1f + 3f * 0.044715f * v * v);
    }

    public static float GeluErf(float v) => 0.5f * v * (1f + Erf(v * InvSqrtTwo));

    static float GeluErfDerivative(float v) => 0.5f * (1f + Erf(v * InvSqrtTwo)) + v * InvSqrtTwoPi * MathF.Exp(-0.5f * v * v);

    /// <summary>
    /// The error function, accurate to about 1e-7 absolute (W. J. Cody's rational approximations, evaluated in
    /// double): .NET has no erf.
    /// </summary>
    public static float Erf(float x) => (float)Erf((double)x);

    public static double Erf(double x)
    {
        var ax = Math.Abs(x);
        double result;
        if (ax < 0.5)
        {
            // erf(x) ≈ x·P(x²)/Q(x²)
            var z = x * x;
            var p = (((0.185777706184603153 * z + 3.16112374387056560) * z + 113.864154151050156) * z + 377.485237685302021) * z + 3209.37758913846947;
            var q = (((z + 23.6012909523441209) * z + 244.024637934444173) * z + 1282.61652607737228) * z + 2844.23683343917062;
            return x * p / q;
        }
        if (ax < 4.0)
        {
            var p = (((((((2.15311535474403846e-8 * ax + 0.564188496988670089) * ax + 8.88314979438837594) * ax + 66.1191906371416295) * ax
                        + 298.635138197400131) * ax + 881.952221241769090) * ax + 1712.04761263407058) * ax + 2051.07837782607147) * ax
                    + 1230.33935479799725;
            var q = (((((((ax + 15.7449261107098347) * ax + 117.693950891312499) * ax + 537.181101862009858) * ax + 1621.38957456669019) * ax
                        + 3290.79923573345963) * ax + 4362.61909014324716) * ax + 3439.36767414372164) * ax + 1230.33935480374942;
            result = 1.0 - Math.Exp(-ax * ax) * p / q;
        }
        else
        {
            var z = 1.0 / (ax * ax);
            var p = ((((0.0163153871373020978 * z + 0.305326634961232344) * z + 0.360344899949804439) * z + 0.125781726111229246) * z
                     + 0.0160837851487422766) * z + 0.658749161529837803e-3;
            var q = ((((z + 2.56852019228982242) * z + 1.87295284992346725) * z + 0.527905102951428412) * z + 0.0605183413124413191) * z
                    + 0.00233520497626869185;
            var r = z * p / q;
            r = (0.564189583547756287 - r) / ax;
            result = 1.0 - Math.Exp(-ax * ax) * r;
        }
        return x < 0 ? -result : result;
    }

    /// <summary>An elementwise function with its derivative f'(x, f(x)).</summary>
    static Tensor Unary(Tensor x, Func<float, float> f, Func<float, float, float> derivative) =>
        Unary(x, (input, output) =>
        {
            for (var i = 0; i < input.Length; i++) output[i] = f(input[i]);
        }, derivative);

    delegate void SpanFunction(ReadOnlySpan<float> input, Span<float> output);

    /// <summary>An elementwise function computed a span at a time, with its derivative f'(x, f(x)).</summary>
    static Tensor Unary(Tensor x, SpanFunction f, Func<float, float, float> derivative)
    {
        var y = new Tensor(x.Shape);
        var xs = x.Data;
        var ys = y.Data;
        ParallelRange(xs.Length, (start, end) => f(xs.AsSpan(start, end - start), ys.AsSpan(start, end - start)));
        if (Tape.Wants(x))
            Tape.Add(y, () =>
            {
                if (y.Grad is not { } dy) return;
                var dx = x.GradBuffer().Data;
                ParallelRange(xs.Length, (start, end) =>
                {
                    for (var i = start; i < end; i++) dx[i] += dy.Data[i] * derivative(xs[i], ys[i]);
                });
            });
        return y;
    }

    /// <summary>Splits [0, count) over the cores when it is large enough to pay.</summary>
    internal static void ParallelRange(int count, Action<int, int> body, int minimumPerTask = 1 << 15)
    {
        var tasks = Math.Min(Environment.ProcessorCount, count / minimumPerTask);
        if (tasks <= 1)
        {
            body(0, count);
            return;
        }
        Parallel.For(0, tasks, t => body((int)((long)count * t / tasks), (int)((long)count * (t + 1) / tasks)));
    }

    static void SameShape(string op, Tensor a, Tensor b)
    {
        if (!a.Shape.AsSpan().SequenceEqual(b.Shape))
            throw new ArgumentException($"{op} needs equal shapes; got {Describe(a)} and {Describe(b)}.");
    }
}
