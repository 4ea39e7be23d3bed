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
        return 0;
    }
}
