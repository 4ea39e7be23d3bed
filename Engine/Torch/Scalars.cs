using TorchSharp;
using static TorchSharp.torch;

namespace Verification.Engine.Torch;

/// <summary>
/// Tensor arithmetic that leaves no libtorch Scalar to the garbage collector. TorchSharp 0.107 turns every number it
/// passes to libtorch (and the hidden alpha of <c>a + b</c>, <c>add_</c>, <c>a &gt; 0</c>) into a <see cref="Scalar"/> that
/// nothing disposes. Once its handle is on its way into native code the managed object is unreachable, so under GC
/// pressure the finalizer thread can free it while libtorch still reads it: "Expected false to be true … toFloat at
/// c10/core/Scalar.h" inside <c>Tensor.add</c>, or silently a wrong value. Here constants live in static fields (never
/// collected) and any other number is disposed after the call that reads it. <c>Specs/Lifetimes.fs</c> checks that the
/// engine calls no TorchSharp method that leaves a Scalar behind and that no Scalar or tensor is ever finalized.
/// </summary>
public static class Scalars
{
    public static readonly Scalar One = Loaded(() => 1.ToScalar());
    public static readonly Scalar Zero = Loaded(() => 0.ToScalar());
    public static readonly Scalar NegativeInfinity = Loaded(() => double.NegativeInfinity.ToScalar());

    // libtorch is loaded first, so a missing libtorch is TorchRuntime's one clear error, not a type initializer's.
    static Scalar Loaded(Func<Scalar> make)
    {
        TorchRuntime.EnsureLoaded();
        return make();
    }

    /// <summary>a + b (element-wise, broadcasting).</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary>a += b in place.</summary>
    public static Tensor PlusInPlace(this Tensor a, Tensor b) => a.add_(b, One);

    /// <summary>a + value.</summary>
    public static Tensor Plus(this Tensor a, double value)
    {
        using var scalar = value.ToScalar();
        return a.add(scalar, One);
    }

    /// <summary>a · factor.</summary>
    public static Tensor Times(this Tensor a, double factor)
    {
        using var scalar = factor.ToScalar();
        return a.mul(scalar);
    }

    /// <summary>a ·= factor, in place.</summary>
    public static Tensor TimesInPlace(this Tensor a, double factor)
    {
        using var scalar = factor.ToScalar();
        return a.mul_(scalar);
    }

    /// <summary>Entries where <paramref name="mask"/> is true set to −∞.</summary>
    public static Tensor MaskedToNegativeInfinity(this Tensor a, Tensor mask) => a.masked_fill(mask, NegativeInfinity);

    /// <summary>a &gt; 0 as a bool tensor.</summary>
    public static Tensor Positive(this Tensor a) => a.gt(Zero);
}
