using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Verification.Engine.Tensors;

/// <summary>
/// A blocked, packed SIMD matrix product in managed code (the Goto/BLIS scheme): B is packed in panels of
/// KC × NR, A in strips of MR × KC, and an MR × NR micro-kernel keeps its accumulators in registers.
/// Vector512 with MR=8, NR=32 where AVX-512 is available, Vector256 with MR=6, NR=16 otherwise.
/// Row-major C = alpha·op(A)·op(B) + beta·C, the same contract as cblas_sgemm.
/// </summary>
public static unsafe class ManagedGemm
{
    const int KC = 256;
    const int NC = 2048;

    public static bool UsesVector512 => Vector512.IsHardwareAccelerated;

    static int MR => UsesVector512 ? 8 : 6;
    static int NR => UsesVector512 ? 32 : 16;
    static int MC => UsesVector512 ? 128 : 120;

    public static string KernelName => UsesVector512 ? "Vector512 8×32" : Vector256.IsHardwareAccelerated ? "Vector256 6×16" : "scalar-emulated Vector256 6×16";

    public static void Sgemm(bool transposeA, bool transposeB, int m, int n, int k, float alpha, float* a, int lda, float* b, int ldb,
        float beta, float* c, int ldc)
    {
        ScaleC(m, n, beta, c, ldc);
        if (m == 0 || n == 0 || k == 0 || alpha == 0) return;

        int mr = MR, nr = NR, mc = MC;
        var procs = Environment.ProcessorCount;
        var bPacked = new float[KC * RoundUp(Math.Min(NC, n), nr)];
        fixed (float* bp = bPacked)
        {
            var bpAddress = (nint)bp;
            for (var jc = 0; jc < n; jc += NC)
            {
                var nc = Math.Min(NC, n - jc);
                for (var pc = 0; pc < k; pc += KC)
                {
                    var kc = Math.Min(KC, k - pc);
                    PackB(transposeB, b, ldb, pc, kc, jc, nc, nr, bp);
                    var icBlocks = (m + mc - 1) / mc;
                    var strips = (nc + nr - 1) / nr;
                    var chunks = Math.Clamp(2 * procs / icBlocks, 1, strips);
                    var tasks = icBlocks * chunks;
                    var work = (long)m * nc * kc;
                    void Task(int task)
                    {
                        var ib = task / chunks;
                        var chunk = task % chunks;
                        var ic = ib * mc;
                        var mcHere = Math.Min(mc, m - ic);
                        var stripStart = chunk * strips / chunks;
                        var stripEnd = (chunk + 1) * strips / chunks;
                        var aPacked = new float[RoundUp(mcHere, mr) * kc];
                        fixed (float* ap = aPacked)
                        {
                            PackA(transposeA, a, lda, ic, mcHere, pc, kc, mr, ap);
                            var tile = stackalloc float[8 * 32];
                            for (var s = stripStart; s < stripEnd; s++)
                            {
                                var jr = s * nr;
                                var nrHere = Math.Min(nr, nc - jr);
                                var bStrip = (float*)bpAddress + (long)s * nr * kc;
                                for (var ir = 0; ir < mcHere; ir += mr)
                                {
                                    var mrHere = Math.Min(mr, mcHere - ir);
                                    var cTile = c + (long)(ic + ir) * ldc + jc + jr;
                                    var aStrip = ap + (long)ir * kc;
                                    if (mrHere == mr && nrHere == nr)
                                        Kernel(kc, aStrip, bStrip, alpha, cTile, ldc);
                                    else
                                    {
                                        new Span<float>(tile, mr * nr).Clear();
                                        Kernel(kc, aStrip, bStrip, 1f, tile, nr);
                                        for (var i = 0; i < mrHere; i++)
                                            for (var j = 0; j < nrHere; j++)
                                                cTile[(long)i * ldc + j] += alpha * tile[i * nr + j];
                                    }
                                }
                            }
                        }
                    }
                    if (tasks == 1 || work < 1 << 18) for (var t = 0; t < tasks; t++) Task(t);
                    else Parallel.For(0, tasks, Task);
                }
            }
        }
    }

    static void ScaleC(int m, int n, float beta, float* c, int ldc)
    {
        if (beta == 1) return;
        for (var i = 0; i < m; i++)
        {
            var row = new Span<float>(c + (long)i * ldc, n);
            if (beta == 0) row.Clear();
            else System.Numerics.Tensors.TensorPrimitives.Multiply(row, beta, row);
        }
    }

    static int RoundUp(int x, int multiple) => (x + multiple - 1) / multiple * multiple;

    /// <summary>Bp[strip][p][j] = op(B)[pc + p, jc + strip·NR + j], zero beyond n.</summary>
    static void PackB(bool transposeB, float* b, int ldb, int pc, int kc, int jc, int nc, int nr, float* bp)
    {
        var strips = (nc + nr - 1) / nr;
        for (var s = 0; s < strips; s++)
        {
            var dst = bp + (long)s * nr * kc;
            var j0 = jc + s * nr;
            var width = Math.Min(nr, nc - s * nr);
            for (var p = 0; p < kc; p++)
            {
                var row = dst + (long)p * nr;
                if (!transposeB)
                {
                    var src = b + (long)(pc + p) * ldb + j0;
                    for (var j = 0; j < width; j++) row[j] = src[j];
                }
                else
                {
                    for (var j = 0; j < width; j++) row[j] = b[(long)(j0 + j) * ldb + pc + p];
                }
                for (var j = width; j < nr; j++) row[j] = 0;
            }
        }
    }

    /// <summary>Ap[strip][p][i] = op(A)[ic + strip·MR + i, pc + p], zero beyond m.</summary>
    static void PackA(bool transposeA, float* a, int lda, int ic, int mc, int pc, int kc, int mr, float* ap)
    {
        for (var ir = 0; ir < mc; ir += mr)
        {
            var dst = ap + (long)ir * kc;
            var height = Math.Min(mr, mc - ir);
            for (var p = 0; p < kc; p++)
            {
                var col = dst + (long)p * mr;
                if (!transposeA)
                    for (var i = 0; i < height; i++) col[i] = a[(long)(ic + ir + i) * lda + pc + p];
                else
                {
                    var src = a + (long)(pc + p) * lda + ic + ir;
                    for (var i = 0; i < height; i++) col[i] = src[i];
                }
                for (var i = height; i < mr; i++) col[i] = 0;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Kernel(int kc, float* a, float* b, float alpha, float* c, int ldc)
    {
        if (UsesVector512) Kernel8x32(kc, a, b, alpha, c, ldc);
        else Kernel6x16(kc, a, b, alpha, c, ldc);
    }

    /// <summary>C[8×32] += alpha · Σ_p A[:,p] ⊗ B[p,:], sixteen Vector512 accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Kernel8x32(int kc, float* a, float* b, float alpha, float* c, int ldc)
    {
        Vector512<float> c0a = default, c0b = default, c1a = default, c1b = default, c2a = default, c2b = default, c3a = default, c3b = default;
        Vector512<float> c4a = default, c4b = default, c5a = default, c5b = default, c6a = default, c6b = default, c7a = default, c7b = default;
        for (var p = 0; p < kc; p++)
        {
            var ba = Vector512.Load(b);
            var bb = Vector512.Load(b + 16);
            var x = Vector512.Create(a[0]); c0a = Vector512.FusedMultiplyAdd(x, ba, c0a); c0b = Vector512.FusedMultiplyAdd(x, bb, c0b);
            x = Vector512.Create(a[1]); c1a = Vector512.FusedMultiplyAdd(x, ba, c1a); c1b = Vector512.FusedMultiplyAdd(x, bb, c1b);
            x = Vector512.Create(a[2]); c2a = Vector512.FusedMultiplyAdd(x, ba, c2a); c2b = Vector512.FusedMultiplyAdd(x, bb, c2b);
            x = Vector512.Create(a[3]); c3a = Vector512.FusedMultiplyAdd(x, ba, c3a); c3b = Vector512.FusedMultiplyAdd(x, bb, c3b);
            x = Vector512.Create(a[4]); c4a = Vector512.FusedMultiplyAdd(x, ba, c4a); c4b = Vector512.FusedMultiplyAdd(x, bb, c4b);
            x = Vector512.Create(a[5]); c5a = Vector512.FusedMultiplyAdd(x, ba, c5a); c5b = Vector512.FusedMultiplyAdd(x, bb, c5b);
            x = Vector512.Create(a[6]); c6a = Vector512.FusedMultiplyAdd(x, ba, c6a); c6b = Vector512.FusedMultiplyAdd(x, bb, c6b);
            x = Vector512.Create(a[7]); c7a = Vector512.FusedMultiplyAdd(x, ba, c7a); c7b = Vector512.FusedMultiplyAdd(x, bb, c7b);
            a += 8;
            b += 32;
        }
        var s = Vector512.Create(alpha);
        Store(c, s, c0a, c0b); c += ldc;
        Store(c, s, c1a, c1b); c += ldc;
        Store(c, s, c2a, c2b); c += ldc;
        Store(c, s, c3a, c3b); c += ldc;
        Store(c, s, c4a, c4b); c += ldc;
        Store(c, s, c5a, c5b); c += ldc;
        Store(c, s, c6a, c6b); c += ldc;
        Store(c, s, c7a, c7b);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(float* c, Vector512<float> alpha, Vector512<float> lo, Vector512<float> hi)
    {
        Vector512.FusedMultiplyAdd(alpha, lo, Vector512.Load(c)).Store(c);
        Vector512.FusedMultiplyAdd(alpha, hi, Vector512.Load(c + 16)).Store(c + 16);
    }

    /// <summary>C[6×16] += alpha · Σ_p A[:,p] ⊗ B[p,:], twelve Vector256 accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Kernel6x16(int kc, float* a, float* b, float alpha, float* c, int ldc)
    {
        Vector256<float> c0a = default, c0b = default, c1a = default, c1b = default, c2a = default, c2b = default;
        Vector256<float> c3a = default, c3b = default, c4a = default, c4b = default, c5a = default, c5b = default;
        for (var p = 0; p < kc; p++)
        {
            var ba = Vector256.Load(b);
            var bb = Vector256.Load(b + 8);
            var x = Vector256.Create(a[0]); c0a = Vector256.FusedMultiplyAdd(x, ba, c0a); c0b = Vector256.FusedMultiplyAdd(x, bb, c0b);
            x = Vector256.Create(a[1]); c1a = Vector256.FusedMultiplyAdd(x, ba, c1a); c1b = Vector256.FusedMultiplyAdd(x, bb, c1b);
            x = Vector256.Create(a[2]); c2a = Vector256.FusedMultiplyAdd(x, ba, c2a); c2b = Vector256.FusedMultiplyAdd(x, bb, c2b);
            x = Vector256.Create(a[3]); c3a = Vector256.FusedMultiplyAdd(x, ba, c3a); c3b = Vector256.FusedMultiplyAdd(x, bb, c3b);
            x = Vector256.Create(a[4]); c4a = Vector256.FusedMultiplyAdd(x, ba, c4a); c4b = Vector256.FusedMultiplyAdd(x, bb, c4b);
            x = Vector256.Create(a[5]); c5a = Vector256.FusedMultiplyAdd(x, ba, c5a); c5b = Vector256.FusedMultiplyAdd(x, bb, c5b);
            a += 6;
            b += 16;
        }
        var s = Vector256.Create(alpha);
        Store(c, s, c0a, c0b); c += ldc;
        Store(c, s, c1a, c1b); c += ldc;
        Store(c, s, c2a, c2b); c += ldc;
        Store(c, s, c3a, c3b); c += ldc;
        Store(c, s, c4a, c4b); c += ldc;
        Store(c, s, c5a, c5b);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(float* c, Vector256<float> alpha, Vector256<float> lo, Vector256<float> hi)
    {
        Vector256.FusedMultiplyAdd(alpha, lo, Vector256.Load(c)).Store(c);
        Vector256.FusedMultiplyAdd(alpha, hi, Vector256.Load(c + 8)).Store(c + 8);
    }
}
