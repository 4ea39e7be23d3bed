using Verification.Engine.Tensors;

namespace Verification.Engine.Loading;

/// <summary>The named tensors of one checkpoint file, whatever its format (safetensors, a PyTorch pickle).</summary>
public interface ITensorFile
{
    string Path { get; }

    IEnumerable<string> Names { get; }

    bool Contains(string name);

    /// <summary>A floating-point tensor as float32.</summary>
    Tensor Read(string name);
}
