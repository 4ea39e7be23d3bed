using System.Collections;
using TorchSharp;
using Verification.Engine.Tensors;
using Tensor = Verification.Engine.Tensors.Tensor;

namespace Verification.Engine.Loading;

/// <summary>
/// A state dict saved by <c>torch.save</c> (pytorch_model.bin, the zip format PyTorch writes since 1.6), read through
/// TorchSharp.PyBridge's unpickler: no Python, and no code from the pickle is run (PyBridge rebuilds tensors only).
/// </summary>
public sealed class PyTorchPickle : ITensorFile
{
    // name → [shape, float32 values]; the whole file is read once (a Hugging Face .bin is one state dict).
    readonly Dictionary<string, Tensor> tensors;

    PyTorchPickle(string path, Dictionary<string, Tensor> tensors)
    {
        Path = path;
        this.tensors = tensors;
    }

    public string Path { get; }

    public IEnumerable<string> Names => tensors.Keys;

    public bool Contains(string name) => tensors.ContainsKey(name);

    public Tensor Read(string name) =>
        tensors.TryGetValue(name, out var t) ? t : throw new ModelFileException(Path, $"no such tensor (the file has {tensors.Count})", name);

    public static PyTorchPickle Open(string path) => ModelFileException.Guard(path, () =>
    {
        ModelFileException.NeedFile(path);
        // Everything the unpickler makes (PyBridge leaves the storage behind each strided view) is freed with this scope.
        using var scope = torch.NewDisposeScope();
        Hashtable dict;
        try
        {
            dict = TorchSharp.PyBridge.PyTorchUnpickler.UnpickleStateDict(path);
        }
        catch (Exception e) when (e is not ModelFileException and not OutOfMemoryException)
        {
            throw new ModelFileException(path, $"not a PyTorch state dict that TorchSharp.PyBridge reads ({e.Message}); " +
                "PyTorch's legacy (pre-1.6, non-zip) format is not read: re-save it with torch.save in a current PyTorch", inner: e);
        }
        var host = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in dict)
        {
            if (entry.Key is not string name || entry.Value is not torch.Tensor value) continue;
            host[name] = Torch.TorchRuntime.ToHost(value, name);
        }
        return new PyTorchPickle(path, host);
    });

    /// <summary>Writes host tensors as torch.save does (for stand-in folders laid out as a Hugging Face repository).</summary>
    public static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors)
    {
        using var scope = torch.NewDisposeScope();
        var dict = new Hashtable();
        foreach (var (name, t) in tensors)
            dict[name] = torch.tensor(t.Data, [.. t.Shape.Select(d => (long)d)], torch.ScalarType.Float32);
        TorchSharp.PyBridge.PyTorchPickler.PickleStateDict(path, dict);
    }
}
