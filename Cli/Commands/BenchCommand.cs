using System.Diagnostics;
using System.Globalization;
using System.Runtime.Intrinsics;
using Verification.Engine.Tensors;

namespace Verification.Cli.Commands;

/// <summary>
/// `bench gemm`: GFLOP/s of transformer-sized products through OpenBLAS and the managed kernel, as ratios against
/// OpenBLAS called from C directly (ci/bench/sgemm.c, compiled on the spot when a C compiler is present) and
/// against this machine's measured single-core FMA peak.
/// </summary>
public static class BenchCommand
{
    static readonly (int M, int N, int K, string What)[] Shapes =
    [
        (512, 3072, 768, "GPT-2 small MLP in: 512 tokens × 768 → 3072"),
        (512, 768, 3072, "GPT-2 small MLP out: 512 tokens × 3072 → 768"),
        (2048, 2048, 2048, "square 2048³"),
        (2048, 192, 64, "training the induction model: 2048 tokens × 64 → 192"),
    ];

    public static int Gemm(double seconds)
    {
        Console.WriteLine($"backend in use: {Engine.Tensors.Gemm.Description}");
        Console.WriteLine($"cores: {Environment.ProcessorCount}; managed kernel: {ManagedGemm.KernelName}");
        var peak = SingleCorePeak(seconds);
        Console.WriteLine($"single-core peak estimate (independent FMA chains, {(Vector512.IsHardwareAccelerated ? "Vector512" : "Vector256")}): {peak:F1} GFLOP/s");
        var cReference = BuildCReference();
        Console.WriteLine(cReference is null ? "C reference: not available (needs cc and libopenblas.so.0)" : $"C reference: {cReference}");
        Console.WriteLine();
        Console.WriteLine($"libtorch: {Engine.Torch.TorchRuntime.EnsureLoaded()}");
        Console.WriteLine();
        Console.WriteLine($"{"product",-52} {"C OpenBLAS",10} {"C# BLAS",10} {"managed",10} {"libtorch",10} {"BLAS/C",8} {"mgd/BLAS",9} {"mgd/peak",9} {"torch/BLAS",10}");
        foreach (var (m, n, k, what) in Shapes)
        {
            double? c = cReference is null ? null : RunC(cReference, m, n, k, seconds);
            double? blas = OpenBlas.IsAvailable ? Measure(GemmBackend.OpenBlas, m, n, k, seconds) : null;
            var managed = Measure(GemmBackend.Managed, m, n, k, seconds);
            var torch = MeasureTorch(m, n, k, seconds);
            Console.WriteLine($"{what,-52} {Show(c),10} {Show(blas),10} {Show(managed),10} {Show(torch),10} {Ratio(blas, c),8} {Ratio(managed, blas),9} " +
                              $"{Ratio(managed, peak * Environment.ProcessorCount),9} {Ratio(torch, blas),10}");
        }
        Console.WriteLine();
        Console.WriteLine("GFLOP/s = 2·m·n·k / time, best of five batches. mgd/peak compares with the single-core peak × cores.");
        Console.WriteLine("Targets: BLAS/C ≥ 0.80 (the P/Invoke path costs nothing); mgd/BLAS ≥ 0.25 on two cores.");
        return 0;
    }

    static string Show(double? v) => v is { } x ? x.ToString("F1", CultureInfo.InvariantCulture) : "—";

    static string Ratio(double? a, double? b) => a is { } x && b is { } y && y > 0 ? (x / y).ToString("F2", CultureInfo.InvariantCulture) : "—";

    static double Measure(GemmBackend backend, int m, int n, int k, double seconds)
    {
        using var _ = Engine.Tensors.Gemm.Use(backend);
        var random = new Random(1);
        var a = Tensor.RandomUniform(random, 0, 1, m, k).Data;
        var b = Tensor.RandomUniform(random, 0, 1, k, n).Data;
        var c = new float[m * n];
        for (var w = 0; w < 3; w++) Engine.Tensors.Gemm.Multiply(false, false, m, n, k, 1, a, k, b, n, 0, c, n);
        double best = 0;
        for (var batch = 0; batch < 5; batch++)
        {
            var reps = 0;
            var watch = Stopwatch.StartNew();
            do
            {
                Engine.Tensors.Gemm.Multiply(false, false, m, n, k, 1, a, k, b, n, 0, c, n);
                reps++;
            } while (watch.Elapsed.TotalSeconds < seconds / 5);
            best = Math.Max(best, 2.0 * m * n * k * reps / watch.Elapsed.TotalSeconds / 1e9);
        }
        return best;
    }

    /// <summary>libtorch's float32 matmul (MKL here) on tensors made once: the engine port's matmul throughput.</summary>
    static double MeasureTorch(int m, int n, int k, double seconds)
    {
        using var scope = TorchSharp.torch.NewDisposeScope();
        TorchSharp.torch.manual_seed(1);
        var a = TorchSharp.torch.rand(m, k);
        var b = TorchSharp.torch.rand(k, n);
        for (var w = 0; w < 3; w++) a.mm(b).Dispose();
        double best = 0;
        for (var batch = 0; batch < 5; batch++)
        {
            var reps = 0;
            var watch = Stopwatch.StartNew();
            do
            {
                a.mm(b).Dispose();
                reps++;
            } while (watch.Elapsed.TotalSeconds < seconds / 5);
            best = Math.Max(best, 2.0 * m * n * k * reps / watch.Elapsed.TotalSeconds / 1e9);
        }
        return best;
    }

    /// <summary>Eight independent FMA chains on one thread: the most the core can do, as a yardstick.</summary>
    static double SingleCorePeak(double seconds)
    {
        double best = 0;
        for (var batch = 0; batch < 5; batch++)
        {
            var watch = Stopwatch.StartNew();
            long iterations = 0;
            do
            {
                FmaChains(1 << 20);
                iterations += 1 << 20;
            } while (watch.Elapsed.TotalSeconds < seconds / 10);
            var lanes = Vector512.IsHardwareAccelerated ? 16 : 8;
            best = Math.Max(best, 2.0 * 8 * lanes * iterations / watch.Elapsed.TotalSeconds / 1e9);
        }
        return best;
    }

    static float sink;

    static void FmaChains(int count)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            var m = Vector512.Create(0.999f);
            var s = Vector512.Create(1e-3f);
            Vector512<float> a0 = m, a1 = m, a2 = m, a3 = m, a4 = m, a5 = m, a6 = m, a7 = m;
            for (var i = 0; i < count; i++)
            {
                a0 = Vector512.FusedMultiplyAdd(a0, m, s); a1 = Vector512.FusedMultiplyAdd(a1, m, s);
                a2 = Vector512.FusedMultiplyAdd(a2, m, s); a3 = Vector512.FusedMultiplyAdd(a3, m, s);
                a4 = Vector512.FusedMultiplyAdd(a4, m, s); a5 = Vector512.FusedMultiplyAdd(a5, m, s);
                a6 = Vector512.FusedMultiplyAdd(a6, m, s); a7 = Vector512.FusedMultiplyAdd(a7, m, s);
            }
            sink = (a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7).GetElement(0);
        }
        else
        {
            var m = Vector256.Create(0.999f);
            var s = Vector256.Create(1e-3f);
            Vector256<float> a0 = m, a1 = m, a2 = m, a3 = m, a4 = m, a5 = m, a6 = m, a7 = m;
            for (var i = 0; i < count; i++)
            {
                a0 = Vector256.FusedMultiplyAdd(a0, m, s); a1 = Vector256.FusedMultiplyAdd(a1, m, s);
                a2 = Vector256.FusedMultiplyAdd(a2, m, s); a3 = Vector256.FusedMultiplyAdd(a3, m, s);
                a4 = Vector256.FusedMultiplyAdd(a4, m, s); a5 = Vector256.FusedMultiplyAdd(a5, m, s);
                a6 = Vector256.FusedMultiplyAdd(a6, m, s); a7 = Vector256.FusedMultiplyAdd(a7, m, s);
            }
            sink = (a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7).GetElement(0);
        }
    }

    static string? BuildCReference()
    {
        var source = FindSource();
        if (source is null || !OpenBlas.IsAvailable) return null;
        var output = Path.Combine(Path.GetTempPath(), "verification-sgemm-" + Environment.ProcessId);
        try
        {
            using var cc = Process.Start(new ProcessStartInfo("cc", $"-O2 -o \"{output}\" \"{source}\" -ldl")
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
            });
            if (cc is null) return null;
            cc.WaitForExit();
            return cc.ExitCode == 0 ? output : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    static double? RunC(string binary, int m, int n, int k, double seconds)
    {
        using var process = Process.Start(new ProcessStartInfo(binary, $"{m} {n} {k} {seconds.ToString(CultureInfo.InvariantCulture)}")
        {
            RedirectStandardOutput = true,
        });
        if (process is null) return null;
        var text = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0 && double.TryParse(text.Trim(), CultureInfo.InvariantCulture, out var v) ? v : null;
    }

    static string? FindSource()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "ci", "bench", "sgemm.c");
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }
}
