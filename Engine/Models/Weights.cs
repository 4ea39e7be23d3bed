using Verification.Engine.Loading;
using Verification.Engine.Tensors;

namespace Verification.Engine.Models;

/// <summary>Looking up a model's named tensors with their shapes checked against the config.</summary>
public static class Weights
{
    /// <summary>The tensor; a missing name or a shape the config disagrees with names the source and tensor.</summary>
    public static Tensor Need(IReadOnlyDictionary<string, Tensor> parameters, string source, string name, params int[] shape)
    {
        if (!parameters.TryGetValue(name, out var t))
            throw new ModelFileException(source, $"missing (expected shape {Tensor.Format(shape)})", name);
        if (!t.Shape.AsSpan().SequenceEqual(shape))
            throw new ModelFileException(source, $"has shape {t.ShapeString} but the config needs {Tensor.Format(shape)}", name);
        t.Name ??= name;
        return t;
    }

    public static Tensor? Maybe(IReadOnlyDictionary<string, Tensor> parameters, string source, string name, params int[] shape) =>
        parameters.ContainsKey(name) ? Need(parameters, source, name, shape) : null;

}

/// <summary>A model's named tensors, remembering which names the model looked up.</summary>
public sealed class ParameterSet(IReadOnlyDictionary<string, Tensor> tensors) : IReadOnlyDictionary<string, Tensor>
{
    readonly HashSet<string> read = [];

    /// <summary>Tensors present but never looked up while building the model: a sign of a wrong mapping.</summary>
    public IReadOnlyList<string> Unread => [.. tensors.Keys.Where(k => !read.Contains(k)).Order(StringComparer.Ordinal)];

    public Tensor this[string key] => TryGetValue(key, out var t) ? t : throw new KeyNotFoundException($"No tensor '{key}'.");
    public IEnumerable<string> Keys => tensors.Keys;
    public IEnumerable<Tensor> Values => tensors.Values;
    public int Count => tensors.Count;

    public bool ContainsKey(string key)
    {
        read.Add(key);
        return tensors.ContainsKey(key);
    }

    public bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out Tensor value)
    {
        read.Add(key);
        return tensors.TryGetValue(key, out value);
    }

    public IEnumerator<KeyValuePair<string, Tensor>> GetEnumerator() => tensors.GetEnumerator();
    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
