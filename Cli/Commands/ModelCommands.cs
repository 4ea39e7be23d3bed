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
        Console.Error.WriteLine($"device: {Engine.Torch.Devices.Default}");
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
        Console.Error.WriteLine(PeakMemory.Describe());
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
}
