using TorchSharp;
using HostTensor = Verification.Engine.Tensors.Tensor;

namespace Verification.Engine.Torch;

/// <summary>Products of host arrays computed by libtorch, for analyses that multiply weight matrices (W_out·W_U, W_E·W_Q…).</summary>
public static class HostMath
{
    /// <summary>a [m, k] · b [k, n] → [m, n], in float32 on the default device.</summary>
    public static HostTensor MatMul(HostTensor a, HostTensor b)
    {
        if (a.Rank != 2 || b.Rank != 2 || a.Shape[1] != b.Shape[0])
            throw new ArgumentException($"A product needs [m, k] · [k, n]; got {a.ShapeString} · {b.ShapeString}.");
        using var scope = torch.NewDisposeScope();
        var device = Devices.Default;
        return TorchRuntime.ToHost(TorchRuntime.FromHost(a, device).matmul(TorchRuntime.FromHost(b, device)), $"{a.Name}·{b.Name}");
    }
}
