using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using HostTensor = Verification.Engine.Tensors.Tensor;

namespace Verification.Engine.Torch;

/// <summary>Whether a run computes in float32 (the engine's precision) or float64 (its slow reference).</summary>
public enum Precision
{
    Float32,
    Float64,
}

/// <summary>
/// A model's named tensors on one device in one dtype, copied from the host parameters: what a forward pass reads.
/// The float32 set on the training device is the live one that training updates (<see cref="Models.Transformer.Train"/>).
/// </summary>
public sealed class WeightSet : IDisposable
{
    readonly Dictionary<string, Parameter> tensors = [];

    public WeightSet(IEnumerable<KeyValuePair<string, HostTensor>> parameters, string device, Precision precision)
    {
        TorchRuntime.EnsureLoaded();
        Device = device;
        Precision = precision;
        // Parameters (leaf tensors), so the optimizer can take the live set as it is; no gradients until training asks.
        // They outlive whatever dispose scope is open when a run first asks for them (a training step's, a run's).
        foreach (var (name, p) in parameters)
        {
            // On the CPU in float32 the weights are the host arrays themselves (held once, not twice); elsewhere a copy.
            // The Parameter takes the tensor's handle; disposing the emptied wrapper keeps it from the finalizer.
            using var values = SharesHostMemory ? TorchRuntime.Share(p) : TorchRuntime.FromHost(p, device, precision);
            var parameter = new Parameter(values, requires_grad: false);
            parameter.DetachFromDisposeScope();
            tensors[name] = parameter;
        }
    }

    public string Device { get; }

    /// <summary>Whether these tensors are the host parameters' own memory (float32 on the CPU): then nothing is copied back.</summary>
    public bool SharesHostMemory => Device == "cpu" && Precision == Precision.Float32;

    public Precision Precision { get; }

    public ScalarType DType => TorchRuntime.DType(Precision);

    public Tensor this[string name] => tensors.TryGetValue(name, out var t) ? t : throw new KeyNotFoundException($"No tensor '{name}' on {Device}.");

    public Tensor? Maybe(string name) => tensors.GetValueOrDefault(name);

    public IReadOnlyDictionary<string, Parameter> Tensors => tensors;

    public void Dispose()
    {
        foreach (var t in tensors.Values) t.Dispose();
        tensors.Clear();
    }
}
