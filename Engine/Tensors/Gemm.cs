namespace Verification.Engine.Tensors;

public enum GemmBackend
{
    OpenBlas,
    Managed,
}

/// <summary>
/// Row-major matrix products, C = alpha·op(A)·op(B) + beta·C, through OpenBLAS when it is installed and a
/// managed SIMD kernel otherwise. <c>VERIFICATION_BLAS=off</c> forces the managed kernel.
/// </summary>
public static unsafe class Gemm
{
    static readonly Ambient<GemmBackend?> forced = new();

    static Gemm() =>
        (DefaultBackend, Reason) = Choose(Settings.Current.Blas, OpenBlas.IsAvailable,
            OpenBlas.Library, OpenBlas.Rejected);

    /// <summary>
    /// The backend for a VERIFICATION_BLAS setting and whether OpenBLAS was found, with the reason in words:
    /// "off" (or "0", "managed") forces the managed kernel; otherwise OpenBLAS when present.
    /// </summary>
    public static (GemmBackend Backend, string Reason) Choose(string? setting, bool openBlasAvailable, string? library = null,
        IReadOnlyList<string>? rejected = null)
    {
        if (setting is "off" or "0" or "managed") return (GemmBackend.Managed, "VERIFICATION_BLAS=" + setting);
        if (openBlasAvailable) return (GemmBackend.OpenBlas, "found " + (library ?? "OpenBLAS"));
        return (GemmBackend.Managed, "OpenBLAS not found (apt-get install libopenblas0-pthread)" +
                                     (rejected is { Count: > 0 } ? "; rejected " + string.Join("; ", rejected) : ""));
    }

    public static GemmBackend DefaultBackend { get; }

    /// <summary>Why the default backend was chosen.</summary>
    public static string Reason { get; }

    /// <summary>The backend products use now (the default, unless <see cref="Use"/> forced another).</summary>
    public static GemmBackend Backend => forced.Value ?? DefaultBackend;

    /// <summary>One line for logs: which backend, and why.</summary>
    public static string Description => Backend switch
    {
        GemmBackend.OpenBlas => $"OpenBLAS ({OpenBlas.Library}; {OpenBlas.Config.Trim()}; {OpenBlas.Threads} threads)",
        _ => $"managed SIMD ({ManagedGemm.KernelName}, {Environment.ProcessorCount} threads; {Reason})",
    };

    /// <summary>Forces a backend for the current flow until disposed (for parity specs and benchmarks).</summary>
    public static IDisposable Use(GemmBackend backend)
    {
        if (backend == GemmBackend.OpenBlas && !OpenBlas.IsAvailable)
            throw new InvalidOperationException("OpenBLAS is not available on this machine: " + Reason);
        return forced.Set(backend);
    }

    /// <summary>
    /// C[m×n] = alpha·op(A)·op(B) + beta·C with op(A) m×k and op(B) k×n; row-major with leading dimensions.
    /// </summary>
    public static void Multiply(bool transposeA, bool transposeB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        Check(transposeA, transposeB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        fixed (float* pa = a)
        fixed (float* pb = b)
        fixed (float* pc = c)
        {
            if (Backend == GemmBackend.OpenBlas && m > 0 && n > 0)
                OpenBlas.Sgemm(transposeA, transposeB, m, n, k, alpha, pa, Math.Max(lda, 1), pb, Math.Max(ldb, 1), beta, pc, Math.Max(ldc, 1));
            else
                ManagedGemm.Sgemm(transposeA, transposeB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
        }
    }

    static void Check(bool ta, bool tb, int m, int n, int k, int aLength, int lda, int bLength, int ldb, int cLength, int ldc)
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentException($"Negative matrix size m={m}, n={n}, k={k}.");
        var (aRows, aCols) = ta ? (k, m) : (m, k);
        var (bRows, bCols) = tb ? (n, k) : (k, n);
        if (aRows > 0 && (lda < aCols || (long)(aRows - 1) * lda + aCols > aLength))
            throw new ArgumentException($"A ({aRows}×{aCols}, lda {lda}) does not fit its buffer of {aLength} values.");
        if (bRows > 0 && (ldb < bCols || (long)(bRows - 1) * ldb + bCols > bLength))
            throw new ArgumentException($"B ({bRows}×{bCols}, ldb {ldb}) does not fit its buffer of {bLength} values.");
        if (m > 0 && (ldc < n || (long)(m - 1) * ldc + n > cLength))
            throw new ArgumentException($"C ({m}×{n}, ldc {ldc}) does not fit its buffer of {cLength} values.");
    }
}
