using Verification.Engine.Models;

namespace Verification.Engine.Loading;

/// <summary>Loads a model from a path, whatever its format: a Hugging Face folder, a llama2.c .bin, or a suite checkpoint.</summary>
public static class ModelLoader
{
    public static Transformer Load(string path)
    {
        var model = LoadAny(path);
        // Loading leaves large garbage (file buffers, split and transposed matrices: hundreds of MB for GPT-2 large) that
        // the GC may keep for a long while; one compacting collection gives it back before any run starts.
        System.Runtime.GCSettings.LargeObjectHeapCompactionMode = System.Runtime.GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect();
        return model;
    }

    static Transformer LoadAny(string path)
    {
        if (Directory.Exists(path))
        {
            if (File.Exists(Path.Combine(path, "config.json"))) return HuggingFace.Load(path);
            var bins = Directory.GetFiles(path, "*.bin").Where(f => !Path.GetFileName(f).StartsWith("tokenizer", StringComparison.Ordinal)
                                                                    && !Path.GetFileName(f).StartsWith("pytorch_model", StringComparison.Ordinal)).ToArray();
            if (bins.Length == 1) return Llama2c.Load(bins[0]);
            var checkpoints = Directory.GetFiles(path, "*.safetensors");
            if (checkpoints.Length == 1) return Checkpoint.Load(checkpoints[0]);
            throw new ModelFileException(path, "folder holds no model: expected config.json + model.safetensors, one llama2.c .bin, or one suite checkpoint");
        }
        if (!File.Exists(path)) throw new ModelFileException(path, "no such file or folder");
        ModelFileException.NeedFile(path);
        if (path.EndsWith(".bin", StringComparison.OrdinalIgnoreCase)) return Llama2c.Load(path);
        if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
        {
            var file = SafeTensors.Open(path);
            if (Checkpoint.IsCheckpoint(file)) return Checkpoint.Load(path);
            var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
            if (File.Exists(Path.Combine(directory, "config.json"))) return HuggingFace.Load(directory);
            throw new ModelFileException(path, "a safetensors file without config.json beside it and without suite metadata");
        }
        throw new ModelFileException(path, "unknown model format (expected a folder, .bin or .safetensors)");
    }
}
