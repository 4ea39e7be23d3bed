using Verification.Engine.Torch;
using static TorchSharp.torch;
using HostTensor = Verification.Engine.Tensors.Tensor;

namespace Verification.Engine.Models;

/// <summary>
/// One run's cached activations and logits, kept where they were computed (torch tensors on the run's device) until
/// this is disposed. Copying to the host is explicit and chunked (<see cref="ToHost"/>), so nothing leaves the device
/// that nobody reads. The tensors are read-only views of the run's values: change a copy, not them.
/// </summary>
public sealed class Trace : IDisposable
{
    readonly Dictionary<string, Tensor> activations;
    Tensor? logits;
    bool disposed;

    internal Trace(Tensor? logits, Dictionary<string, Tensor> activations, string device)
    {
        this.logits = logits;
        this.activations = activations;
        Device = device;
    }

    /// <summary>The device the run computed on (cpu, cuda, cuda:N).</summary>
    public string Device { get; }

    /// <summary>The logits [batch, pos, vocab] ([batch, 1, vocab] for the last position) on the device.</summary>
    public Tensor Logits
    {
        get
        {
            ThrowIfDisposed();
            return logits ?? throw new InvalidOperationException("This run computed no logits (RunOptions.Logits = None).");
        }
    }

    /// <summary>The cached hooks' names.</summary>
    public IReadOnlyCollection<string> Names => activations.Keys;

    public bool Contains(string hook) => activations.ContainsKey(hook);

    /// <summary>A cached activation on the device, with the shape TransformerLens gives it (batch first).</summary>
    public Tensor this[string hook]
    {
        get
        {
            ThrowIfDisposed();
            return activations.TryGetValue(hook, out var t)
                ? t
                : throw new KeyNotFoundException($"Hook '{hook}' was not cached in this run (cached: {string.Join(", ", activations.Keys.Take(8))}{(activations.Count > 8 ? ", …" : "")}).");
        }
    }

    /// <summary>Layer <paramref name="layer"/>'s attention pattern [batch, head, query, key]: <c>trace.Pattern(0)[b, h, q, k]</c>.</summary>
    public Tensor Pattern(int layer) => this[Hooks.Pattern(layer)];

    /// <summary>A host copy of one cached activation (chunked; through a reused pinned buffer from a GPU).</summary>
    public HostTensor ToHost(string hook) => TorchRuntime.ToHost(this[hook], hook);

    /// <summary>Host copies of every cached activation (and the logits when cached), as a <see cref="Transformer.Run(int[][], RunOptions?)"/> returns them.</summary>
    public ActivationCache ToHostCache() => new(activations.Keys.ToDictionary(name => name, ToHost));

    void ThrowIfDisposed()
    {
        if (disposed) throw new ObjectDisposedException(nameof(Trace), "This trace was disposed: its tensors are freed.");
    }

    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        // The names stay, so a late read says "disposed", not "never cached".
        foreach (var t in activations.Values) t.Dispose();
        logits?.Dispose();
        logits = null;
    }
}
