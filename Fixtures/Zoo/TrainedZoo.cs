using Verification.Engine.Loading;
using Verification.Engine.Models;
using Verification.Engine.Tensors;

namespace Verification.Fixtures.Zoo;

/// <summary>Where the trained zoo's committed checkpoints live, and how to read them.</summary>
public static class TrainedZoo
{
    public static string Folder => Path.Combine(Repository.Root, "Fixtures", "Zoo", "Checkpoints");

    public static string PathOf(string model, string file) => Path.Combine(Folder, model, file);

    public static Transformer Load(string model, string file = "final.safetensors") => Checkpoint.Load(Need(model, file));

    /// <summary>The path of a committed zoo file, or an error that says how to rebuild it.</summary>
    public static string Need(string model, string file)
    {
        var path = PathOf(model, file);
        if (!File.Exists(path))
            throw new FileNotFoundException($"The zoo file {path} is missing: run `dotnet run -c Release --project Cli -- train {model}` to create it.", path);
        return path;
    }

    /// <summary>
    /// Initial parameters for a zoo model trained on a real tokenizer's vocabulary: embedding rows of tokens outside the
    /// corpus start at zero (and, never receiving gradient, stay there), so the checkpoint can store them sparsely.
    /// </summary>
    public static Dictionary<string, Tensor> InitialiseForCorpus(ModelConfig config, int seed, IEnumerable<int> corpusVocabulary)
    {
        var parameters = ParameterLayout.Initialise(config, seed, std: 0.02f);
        var used = corpusVocabulary.ToHashSet();
        var embed = parameters["embed.W_E"]; // [vocab, dModel]
        for (var t = 0; t < config.VocabularySize; t++)
            if (!used.Contains(t)) embed.Data.AsSpan(t * config.ModelWidth, config.ModelWidth).Clear();
        return parameters;
    }

    /// <summary>A fresh generator for one training step, so step s sees the same batch in every run.</summary>
    public static Random StepRandom(int seed, int step) => new(unchecked(seed * 1_000_003 + step * 7919));
}
