using System.Diagnostics;
using System.Globalization;
using System.Runtime.Intrinsics;
using TorchSharp;
using Verification.Engine.Models;
using Verification.Engine.Torch;
using Verification.Engine.Training;
using Verification.Fixtures.Zoo;

namespace Verification.Cli.Commands;

/// <summary>
/// `bench gemm`, `bench forward`, `bench train`: throughput as ratios against a reference measured in the same run —
/// the machine's FMA peak for products, the GEMM-bound limit (the model's matrix products alone, each timed with
/// libtorch on its shape) for the forward pass and for a training step.
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

    /// <summary>The retired hand-written engine's training rate (commit bd47277, `train induction --steps 300`, idle, two cores).</summary>
    const double RetiredEngineStepsPerSecond = 10.0;

    public static int Gemm(double seconds)
    {
        Console.WriteLine($"libtorch: {TorchRuntime.EnsureLoaded()}; device {Devices.Default}");
        var peak = SingleCorePeak(seconds) * Environment.ProcessorCount;
        Console.WriteLine($"FMA peak estimate (independent FMA chains, {(Vector512.IsHardwareAccelerated ? "Vector512" : "Vector256")}, × {Environment.ProcessorCount} cores): {peak:F1} GFLOP/s");
        Console.WriteLine();
        Console.WriteLine($"{"product",-52} {"float32",10} {"float64",10} {"f32/peak",9} {"f64/f32",8}");
        foreach (var (m, n, k, what) in Shapes)
        {
            var single = Time(() => Product(m, n, k, torch.ScalarType.Float32), seconds, 2.0 * m * n * k);
            var dbl = Time(() => Product(m, n, k, torch.ScalarType.Float64), seconds, 2.0 * m * n * k);
            Console.WriteLine($"{what,-52} {single,10:F1} {dbl,10:F1} {single / peak,9:F2} {dbl / single,8:F2}");
        }
        Console.WriteLine();
        Console.WriteLine("GFLOP/s = 2·m·n·k / time, best of five batches; f32/peak compares with the FMA peak of all cores.");
        return 0;
    }

    /// <summary>A matmul of random [m, k] · [k, n] tensors made once; the returned action runs it once.</summary>
    static Action Product(int m, int n, int k, torch.ScalarType type)
    {
        torch.manual_seed(1);
        var a = torch.rand(m, k, type, torch.device(Devices.Default));
        var b = torch.rand(k, n, type, torch.device(Devices.Default));
        return () => a.mm(b).Dispose();
    }

    /// <summary>The best rate (work per second, in units of 1e9) of an action over five batches, after warm-up.</summary>
    static double Time(Func<Action> make, double seconds, double work)
    {
        var run = make();
        for (var w = 0; w < 3; w++) run();
        double best = 0;
        for (var batch = 0; batch < 5; batch++)
        {
            var reps = 0;
            var watch = Stopwatch.StartNew();
            do
            {
                run();
                reps++;
            } while (watch.Elapsed.TotalSeconds < seconds / 5);
            best = Math.Max(best, work * reps / watch.Elapsed.TotalSeconds / 1e9);
        }
        return best;
    }

    /// <summary>Forward-pass tokens/s of a randomly initialised GPT-2-small-sized model at batch 1 and 8, against its GEMM-bound limit.</summary>
    public static int Forward(int tokens, double seconds)
    {
        var config = new Gpt2Config
        {
            VocabularySize = 50257, ContextLength = 1024, ModelWidth = 768, LayerCount = 12, HeadCount = 12, MlpWidth = 3072,
        };
        Console.WriteLine($"model: {config.Describe()} (random weights, seed 0)");
        Console.WriteLine($"libtorch: {TorchRuntime.EnsureLoaded()}; device {Devices.Default}");
        var model = ParameterLayout.Create(config, seed: 0);
        var random = new Random(1);
        Console.WriteLine($"{"precision",-10} {"batch",6} {"tokens/s",10} {"ms/run",10} {"GEMM-bound tokens/s",20} {"ratio",7}");
        foreach (var (precision, batch) in new[] { (Precision.Float32, 1), (Precision.Float32, 8), (Precision.Float64, 1) })
        {
            var rows = Enumerable.Range(0, batch).Select(_ => Enumerable.Range(0, tokens).Select(_ => random.Next(config.VocabularySize)).ToArray()).ToArray();
            var options = new RunOptions { Precision = precision };
            model.Run(rows, options);
            // The fastest of at least three runs, as the products below are timed: on a shared machine the slowest runs
            // measure the neighbours.
            var perRun = double.MaxValue;
            var total = Stopwatch.StartNew();
            for (var runs = 0; runs < 3 || total.Elapsed.TotalSeconds < seconds; runs++)
            {
                var watch = Stopwatch.StartNew();
                model.Run(rows, options);
                perRun = Math.Min(perRun, watch.Elapsed.TotalSeconds);
            }
            var limit = batch * tokens / GemmSeconds(config, batch, tokens, seconds, TorchRuntime.DType(precision));
            Console.WriteLine($"{precision,-10} {batch,6} {batch * tokens / perRun,10:F0} {perRun * 1000,10:F1} {limit,20:F0} {batch * tokens / perRun / limit,7:F2}");
        }
        Console.WriteLine("ratio = tokens/s ÷ GEMM-bound tokens/s (1.00: the forward pass is its matrix products and nothing else). Target at batch 8: ≥ 0.85.");
        return 0;
    }

    /// <summary>
    /// Seconds one GPT-2 forward pass spends in its matrix products alone: Q, K, V and O, the MLP's two, the attention
    /// scores and their weighted sum per head, and the unembedding, each timed with libtorch on its own shape.
    /// </summary>
    static double GemmSeconds(Gpt2Config c, int batch, int tokens, double seconds, torch.ScalarType type)
    {
        int n = batch * tokens, d = c.ModelWidth, m = c.MlpWidth, v = c.VocabularySize, heads = c.HeadCount, dHead = c.HeadWidth;
        using var scope = torch.NewDisposeScope();
        var device = torch.device(Devices.Default);
        torch.Tensor R(params long[] shape) => torch.rand(shape, type, device);
        var x = R(n, d);
        var (wq, wo, wIn, wOut, wU) = (R(d, d), R(d, d), R(d, m), R(m, d), R(d, v));
        var h = R(n, m);
        var (q, k, p, vh) = (R(batch * heads, tokens, dHead), R(batch * heads, dHead, tokens), R(batch * heads, tokens, tokens), R(batch * heads, tokens, dHead));
        var perLayer = 3 * Seconds(() => x.mm(wq), seconds) + Seconds(() => x.mm(wo), seconds) + Seconds(() => x.mm(wIn), seconds)
                       + Seconds(() => h.mm(wOut), seconds) + Seconds(() => q.bmm(k), seconds) + Seconds(() => p.bmm(vh), seconds);
        return c.LayerCount * perLayer + Seconds(() => x.mm(wU), seconds);
    }

    /// <summary>Seconds per call of a product: the best of three windows of a thirtieth of the budget each, after a warm-up call.</summary>
    static double Seconds(Func<torch.Tensor> product, double seconds)
    {
        product().Dispose();
        var best = double.MaxValue;
        for (var window = 0; window < 3; window++)
        {
            var reps = 0;
            var watch = Stopwatch.StartNew();
            do
            {
                product().Dispose();
                reps++;
            } while (watch.Elapsed.TotalSeconds < seconds / 30);
            best = Math.Min(best, watch.Elapsed.TotalSeconds / reps);
        }
        return best;
    }

    /// <summary>
    /// Steps/s of the induction model's training recipe (batch 32 × 64 tokens, AdamW), against the GEMM-bound limit of one
    /// step (its forward products and the two backward products of each, timed with libtorch) and the retired engine's rate.
    /// </summary>
    public static int Train(int steps)
    {
        Console.WriteLine($"model: induction, {InductionModel.Config.Describe()}; {steps} steps of its recipe");
        Console.WriteLine($"libtorch: {TorchRuntime.EnsureLoaded()}; device {Devices.Default}");
        var settings = InductionModel.Settings with { Steps = steps };
        var model = new AttentionOnlyModel(InductionModel.Config, ParameterLayout.InitialiseLikePyTorch(InductionModel.Config, settings.Seed), "bench");
        (torch.Tensor Loss, int Tokens) LossAt(int seed, int step)
        {
            var batch = InductionModel.Batch(seed, step);
            return (Losses.NextToken(model.Logits(batch), batch), batch.Length * batch[0].Length);
        }
        model.Train(step => LossAt(99, step), InductionModel.Settings with { Steps = 5 }); // warm-up, on other batches
        var watch = Stopwatch.StartNew();
        model.Train(step => LossAt(settings.Seed, step), settings);
        var rate = steps / watch.Elapsed.TotalSeconds;
        var limit = 1 / TrainingGemmSeconds(InductionModel.Config, InductionModel.BatchSize, InductionModel.SequenceLength);
        Console.WriteLine($"{"steps/s",10} {"GEMM-bound steps/s",20} {"ratio",7} {"retired engine",15} {"speed-up",9}");
        Console.WriteLine($"{rate,10:F1} {limit,20:F1} {rate / limit,7:F2} {RetiredEngineStepsPerSecond,15:F1} {rate / RetiredEngineStepsPerSecond,9:F2}");
        Console.WriteLine("ratio = steps/s ÷ GEMM-bound steps/s; the retired engine's rate was measured at commit bd47277 on this machine (two cores, idle).");
        Console.WriteLine("Target: speed-up ≥ 3.");
        return 0;
    }

    /// <summary>Seconds of one training step's matrix products: each forward product once and twice more for its gradients.</summary>
    static double TrainingGemmSeconds(AttentionOnlyConfig c, int batch, int tokens)
    {
        int n = batch * tokens, d = c.ModelWidth, v = c.VocabularySize, heads = c.HeadCount, dHead = c.HeadWidth;
        using var scope = torch.NewDisposeScope();
        var device = torch.device(Devices.Default);
        torch.Tensor R(params long[] shape) => torch.rand(shape, torch.ScalarType.Float32, device);
        var x = R(n, d);
        var (wqkv, wo, wU) = (R(d, 3 * heads * dHead), R(heads * dHead, d), R(d, v));
        var z = R(n, heads * dHead);
        var (q, k, p, vh) = (R(batch * heads, tokens, dHead), R(batch * heads, dHead, tokens), R(batch * heads, tokens, tokens), R(batch * heads, tokens, dHead));
        const double budget = 0.5;
        var perLayer = Seconds(() => x.mm(wqkv), budget) + Seconds(() => z.mm(wo), budget) + Seconds(() => q.bmm(k), budget) + Seconds(() => p.bmm(vh), budget);
        return 3 * (c.LayerCount * perLayer + Seconds(() => x.mm(wU), budget));
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
}
