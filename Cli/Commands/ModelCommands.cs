using System.Diagnostics;
using Verification.Engine.Loading;
using Verification.Engine.Models;
using Verification.Engine.Tensors;
using Verification.Fixtures;

namespace Verification.Cli.Commands;

/// <summary>`cache` writes every hook of one run to safetensors; `generate` decodes greedily.</summary>
public static class ModelCommands
{
    public static int Cache(string model, string? ids, string? text, string output)
    {
        var choice = ModelCatalog.Load(model);
        var tokens = Inputs.Tokens(choice, ids, text);
        Console.Error.WriteLine($"{choice.Name}: {choice.Model.Config.Describe()}");
        Console.Error.WriteLine($"matrix products: {Gemm.Description}");
        var watch = Stopwatch.StartNew();
        var result = choice.Model.Run([tokens], RunOptions.CacheAll with { ComputeResult = true });
        var tensors = choice.Model.HookNames.Select(name => new KeyValuePair<string, Tensor>(name, result.Cache[name])).ToList();
        SafeTensors.Write(output, tensors, new Dictionary<string, string>
        {
            ["model"] = choice.Name,
            ["source"] = choice.Where,
            ["tokens"] = string.Join(",", tokens),
        });
        Console.WriteLine($"wrote {tensors.Count} tensors ({tokens.Length} tokens, batch dimension kept) to {output} in {watch.Elapsed.TotalSeconds:F2} s");
        return 0;
    }

    public static int Generate(string model, string? ids, string? text, int steps)
    {
        if (steps < 1) throw new ArgumentException("--steps must be at least 1.");
        var choice = ModelCatalog.Load(model);
        if (!choice.Model.Config.Causal) throw new ArgumentException($"{choice.Name} is an encoder (bidirectional attention): it does not generate text.");
        var prompt = Inputs.Tokens(choice, ids, text);
        var context = choice.Model.Config.ContextLength;
        if (prompt.Length >= context)
            throw new ArgumentException($"The prompt has {prompt.Length} tokens and {choice.Name}'s context holds {context}: no room to generate. Shorten the prompt.");
        var generated = choice.Model.Generate(prompt, steps);
        Console.WriteLine(string.Join(",", generated));
        if (choice.Tokenizer is { } tokenizer) Console.Error.WriteLine(tokenizer.Decode(generated));
        if (generated.Length < steps)
            Console.Error.WriteLine($"stopped after {generated.Length} of {steps} tokens: the context of {context} tokens is full.");
        return 0;
    }

    /// <summary>Forward-pass tokens/s of a randomly initialised GPT-2-small-sized model, BLAS on and off.</summary>
    public static int BenchForward(int tokens, double seconds)
    {
        var config = new Gpt2Config
        {
            VocabularySize = 50257, ContextLength = 1024, ModelWidth = 768, LayerCount = 12, HeadCount = 12, MlpWidth = 3072,
        };
        Console.WriteLine($"model: {config.Describe()} (random weights, seed 0)");
        var model = ParameterLayout.Create(config, seed: 0);
        var random = new Random(1);
        var input = new[] { Enumerable.Range(0, tokens).Select(_ => random.Next(config.VocabularySize)).ToArray() };
        Console.WriteLine($"{"backend",-44} {"tokens/s",10} {"ms/run",10}");
        var results = new Dictionary<GemmBackend, double>();
        foreach (var backend in new[] { GemmBackend.OpenBlas, GemmBackend.Managed })
        {
            if (backend == GemmBackend.OpenBlas && !OpenBlas.IsAvailable) continue;
            using var _ = Gemm.Use(backend);
            model.Run(input);
            var runs = 0;
            var watch = Stopwatch.StartNew();
            do
            {
                model.Run(input);
                runs++;
            } while (watch.Elapsed.TotalSeconds < seconds);
            var perRun = watch.Elapsed.TotalSeconds / runs;
            results[backend] = tokens / perRun;
            Console.WriteLine($"{(backend == GemmBackend.OpenBlas ? "OpenBLAS" : "managed SIMD " + ManagedGemm.KernelName),-44} {tokens / perRun,10:F0} {perRun * 1000,10:F1}");
        }
        if (results.Count == 2) Console.WriteLine($"managed / OpenBLAS: {results[GemmBackend.Managed] / results[GemmBackend.OpenBlas]:F2}");

        // The same model on libtorch tensors (Engine/Torch/TorchGpt2.cs), at batch 1 and 8, against the GEMM-bound
        // limit: the tokens/s the forward pass would reach if it did nothing but its matrix products, each timed alone
        // with libtorch on the same shapes in this run.
        Console.WriteLine();
        Console.WriteLine($"libtorch: {Engine.Torch.TorchRuntime.EnsureLoaded()}");
        using var torchModel = new Engine.Torch.TorchGpt2((Gpt2Model)model);
        Console.WriteLine($"{"libtorch, float32",-20} {"batch",6} {"tokens/s",10} {"ms/run",10} {"GEMM-bound tokens/s",20} {"ratio",7}");
        foreach (var batch in new[] { 1, 8 })
        {
            var rows = Enumerable.Range(0, batch).Select(_ => Enumerable.Range(0, tokens).Select(_ => random.Next(config.VocabularySize)).ToArray()).ToArray();
            torchModel.Run(rows);
            var runs = 0;
            var watch = Stopwatch.StartNew();
            do
            {
                torchModel.Run(rows);
                runs++;
            } while (watch.Elapsed.TotalSeconds < seconds);
            var perRun = watch.Elapsed.TotalSeconds / runs;
            var limit = batch * tokens / GemmSeconds(config, batch, tokens, seconds);
            Console.WriteLine($"{"",-20} {batch,6} {batch * tokens / perRun,10:F0} {perRun * 1000,10:F1} {limit,20:F0} {batch * tokens / perRun / limit,7:F2}");
        }
        Console.WriteLine("ratio = tokens/s ÷ GEMM-bound tokens/s (1.00: the forward pass is its matrix products and nothing else). Target at batch 8: ≥ 0.85.");
        return 0;
    }

    /// <summary>
    /// Seconds one GPT-2 forward pass spends in its matrix products alone: Q, K, V and O, the MLP's two, the attention
    /// scores and their weighted sum per head, and the unembedding, each timed with libtorch on its own shape.
    /// </summary>
    static double GemmSeconds(Gpt2Config c, int batch, int tokens, double seconds)
    {
        int n = batch * tokens, d = c.ModelWidth, m = c.MlpWidth, v = c.VocabularySize, heads = c.HeadCount, dHead = c.HeadWidth;
        using var scope = TorchSharp.torch.NewDisposeScope();
        double Time(Func<TorchSharp.torch.Tensor> product)
        {
            product().Dispose();
            var reps = 0;
            var watch = Stopwatch.StartNew();
            do
            {
                product().Dispose();
                reps++;
            } while (watch.Elapsed.TotalSeconds < seconds / 10);
            return watch.Elapsed.TotalSeconds / reps;
        }
        TorchSharp.torch.Tensor R(params long[] shape) => TorchSharp.torch.rand(shape);
        var x = R(n, d);
        var (wq, wo, wIn, wOut, wU) = (R(d, d), R(d, d), R(d, m), R(m, d), R(d, v));
        var h = R(n, m);
        var (q, k, p, vh) = (R(batch * heads, tokens, dHead), R(batch * heads, dHead, tokens), R(batch * heads, tokens, tokens), R(batch * heads, tokens, dHead));
        var perLayer = 3 * Time(() => x.mm(wq)) + Time(() => x.mm(wo)) + Time(() => x.mm(wIn)) + Time(() => h.mm(wOut))
                       + Time(() => q.bmm(k)) + Time(() => p.bmm(vh));
        return c.LayerCount * perLayer + Time(() => x.mm(wU));
    }
}
