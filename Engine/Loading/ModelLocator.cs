namespace Verification.Engine.Loading;

/// <summary>A real checkpoint that is not on this machine; the message says where we looked and what to download.</summary>
public sealed class ModelNotFoundException(string model, IReadOnlyList<string> looked, string download)
    : Exception($"Model '{model}' was not found. Looked in:\n  " + string.Join("\n  ", looked) + "\n" + download)
{
    public string Model { get; } = model;
    public IReadOnlyList<string> Looked { get; } = looked;
    public string Download { get; } = download;
}

/// <summary>
/// Finds real checkpoints, in order: the folder in <c>VERIFICATION_MODELS</c>, the Hugging Face cache
/// (<c>$HF_HUB_CACHE</c>, <c>$HF_HOME/hub</c>, <c>~/.cache/huggingface/hub</c>: models--org--name/snapshots/*), and
/// extra folders the caller names (the suite passes <c>../shared/models</c>).
/// </summary>
/// <param name="modelsFolder">The folder searched first (the suite passes <see cref="Settings.ModelsFolder"/>).</param>
public sealed class ModelLocator(string? modelsFolder, IEnumerable<string>? extraRoots = null)
{
    readonly string[] extraRoots = [.. extraRoots ?? []];

    /// <summary>Hugging Face repository and files to download for the checkpoints the specs know.</summary>
    public static readonly IReadOnlyDictionary<string, (string Repository, string Files)> Known = new Dictionary<string, (string, string)>
    {
        ["gpt2"] = ("openai-community/gpt2", "config.json model.safetensors vocab.json merges.txt"),
        ["gpt2-medium"] = ("openai-community/gpt2-medium", "config.json model.safetensors vocab.json merges.txt"),
        ["gpt2-large"] = ("openai-community/gpt2-large", "config.json model.safetensors vocab.json merges.txt"),
        // prajjwal1/bert-tiny ships pytorch_model.bin (no safetensors) and a config.json without model_type.
        ["bert-tiny"] = ("prajjwal1/bert-tiny", "config.json pytorch_model.bin vocab.txt"),
    };

    public string Find(string model) => TryFind(model, out var path, out var looked)
        ? path
        : throw new ModelNotFoundException(model, looked, DownloadHint(model));

    public bool TryFind(string model, out string path, out List<string> looked)
    {
        looked = [];
        path = "";
        if (Directory.Exists(model) || File.Exists(model))
        {
            path = Path.GetFullPath(model);
            return true;
        }
        var names = Names(model).ToList();
        var roots = new List<string>();
        if (modelsFolder is { Length: > 0 }) roots.Add(modelsFolder);
        foreach (var root in roots)
            foreach (var name in names)
                if (Check(Path.Combine(root, name), looked, out path)) return true;
        foreach (var hub in HubCaches())
            foreach (var repo in Repositories(model))
            {
                var snapshots = Path.Combine(hub, "models--" + repo.Replace("/", "--", StringComparison.Ordinal), "snapshots");
                looked.Add(snapshots + "/*");
                if (!Directory.Exists(snapshots)) continue;
                foreach (var snapshot in Directory.GetDirectories(snapshots).OrderByDescending(Directory.GetLastWriteTimeUtc))
                    if (HasModel(snapshot))
                    {
                        path = snapshot;
                        return true;
                    }
            }
        foreach (var root in extraRoots)
            foreach (var name in names)
                if (Check(Path.Combine(root, name), looked, out path)) return true;
        if (roots.Count == 0) looked.Insert(0, "$VERIFICATION_MODELS (not set)");
        return false;
    }

    static bool Check(string candidate, List<string> looked, out string path)
    {
        looked.Add(candidate);
        path = candidate;
        return Directory.Exists(candidate) && HasModel(candidate);
    }

    static bool HasModel(string folder) =>
        (File.Exists(Path.Combine(folder, "config.json")) && File.Exists(Path.Combine(folder, "model.safetensors"))) ||
        Directory.GetFiles(folder, "*.bin").Any(f => !Path.GetFileName(f).StartsWith("tokenizer", StringComparison.Ordinal));

    static IEnumerable<string> Names(string model)
    {
        yield return model;
        if (model.Contains('/', StringComparison.Ordinal))
        {
            yield return model.Replace("/", "--", StringComparison.Ordinal);
            yield return model[(model.LastIndexOf('/') + 1)..];
        }
        else if (Known.TryGetValue(model, out var known))
        {
            yield return known.Repository.Replace("/", "--", StringComparison.Ordinal);
        }
    }

    static IEnumerable<string> Repositories(string model)
    {
        if (model.Contains('/', StringComparison.Ordinal)) yield return model;
        else if (Known.TryGetValue(model, out var known)) yield return known.Repository;
        else yield return model;
    }

    static IEnumerable<string> HubCaches()
    {
        if (Environment.GetEnvironmentVariable("HF_HUB_CACHE") is { Length: > 0 } hubCache) yield return hubCache;
        if (Environment.GetEnvironmentVariable("HF_HOME") is { Length: > 0 } home) yield return Path.Combine(home, "hub");
        yield return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "huggingface", "hub");
    }

    public static string DownloadHint(string model)
    {
        var (repo, files) = Known.TryGetValue(model, out var k) ? k : (model, "config.json model.safetensors");
        return $"To run specs on it, download it where the locator looks, e.g.:\n" +
               $"  huggingface-cli download {repo} {files}\n" +
               $"or put config.json + model.safetensors in $VERIFICATION_MODELS/{model}/.";
    }
}
