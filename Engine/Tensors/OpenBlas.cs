using System.Runtime.InteropServices;

namespace Verification.Engine.Tensors;

/// <summary>
/// OpenBLAS's <c>cblas_sgemm</c>, found at run time with <see cref="NativeLibrary"/>. Only a library that also
/// exports <c>openblas_get_config</c> is accepted, so netlib's reference <c>libblas.so.3</c> (slower than the
/// managed kernel) is never bound by accident.
/// </summary>
public static unsafe class OpenBlas
{
    const int RowMajor = 101, NoTrans = 111, Trans = 112;

    static readonly delegate* unmanaged[Cdecl]<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void> sgemm;

    static OpenBlas()
    {
        foreach (var candidate in Candidates())
        {
            if (!NativeLibrary.TryLoad(candidate, out var handle)) continue;
            if (!NativeLibrary.TryGetExport(handle, "openblas_get_config", out var config) ||
                !NativeLibrary.TryGetExport(handle, "cblas_sgemm", out var gemm))
            {
                Rejected.Add($"{candidate}: not OpenBLAS (no openblas_get_config)");
                continue;
            }
            sgemm = (delegate* unmanaged[Cdecl]<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)gemm;
            Library = candidate;
            Config = Marshal.PtrToStringAnsi(((delegate* unmanaged[Cdecl]<nint>)config)()) ?? "";
            if (NativeLibrary.TryGetExport(handle, "openblas_get_num_threads", out var threads))
                Threads = ((delegate* unmanaged[Cdecl]<int>)threads)();
            return;
        }
    }

    /// <summary>The library that was loaded, or null when OpenBLAS is not installed.</summary>
    public static string? Library { get; }

    /// <summary>OpenBLAS's own description of its build (version, kernel, threading).</summary>
    public static string Config { get; } = "";

    public static int Threads { get; }

    public static bool IsAvailable => Library is not null;

    /// <summary>Libraries that were found but refused (e.g. netlib BLAS).</summary>
    public static List<string> Rejected { get; } = [];

    static IEnumerable<string> Candidates()
    {
        if (Settings.Current.OpenBlasLibrary is { } explicitPath) yield return explicitPath;
        if (OperatingSystem.IsWindows()) { yield return "libopenblas.dll"; yield return "openblas.dll"; yield break; }
        if (OperatingSystem.IsMacOS()) { yield return "libopenblas.dylib"; yield return "/opt/homebrew/opt/openblas/lib/libopenblas.dylib"; yield break; }
        yield return "libopenblas.so.0";
        yield return "libopenblas.so";
        yield return "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0";
        yield return "/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0";
    }

    /// <summary>Row-major C = alpha·op(A)·op(B) + beta·C.</summary>
    public static void Sgemm(bool transposeA, bool transposeB, int m, int n, int k, float alpha, float* a, int lda, float* b, int ldb,
        float beta, float* c, int ldc)
    {
        if (!IsAvailable) throw new InvalidOperationException("OpenBLAS is not loaded.");
        sgemm(RowMajor, transposeA ? Trans : NoTrans, transposeB ? Trans : NoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }
}
