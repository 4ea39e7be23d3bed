using Verification.Engine.Loading;
using Verification.Engine.Models;

namespace Verification.Fixtures.Zoo;

/// <summary>Where the trained zoo's committed checkpoints live, and how to read them.</summary>
public static class TrainedZoo
{
    public static string Folder => Path.Combine(Repository.Root, "Fixtures", "Zoo", "Checkpoints");

    public static string PathOf(string model, string file) => Path.Combine(Folder, model, file);

    public static Transformer Load(string model, string file = "final.safetensors")
    {
        var path = PathOf(model, file);
        if (!File.Exists(path))
            throw new FileNotFoundException($"The zoo checkpoint {path} is missing: run `dotnet run -c Release --project Cli -- train {model}` to create it.", path);
        return Checkpoint.Load(path);
    }

    /// <summary>A fresh generator for one training step, so step s sees the same batch in every run.</summary>
    public static Random StepRandom(int seed, int step) => new(unchecked(seed * 1_000_003 + step * 7919));
}
