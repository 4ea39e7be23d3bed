using TorchSharp;
using Verification.Engine.Torch;
using static TorchSharp.torch;

namespace Verification.Engine.Models;

/// <summary>Which gelu a family uses.</summary>
public enum GeluForm
{
    /// <summary>0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))): GPT-2's "gelu_new".</summary>
    Tanh,

    /// <summary>0.5·x·(1 + erf(x/√2)): BERT's exact gelu.</summary>
    Erf,
}

/// <summary>Token and position embeddings and the unembedding, shared by the families.</summary>
internal static class Embeddings
{
    /// <summary>Rows of table [rows, dModel] for ids [batch, pos] → [batch, pos, dModel].</summary>
    public static Tensor Lookup(Tensor ids, Tensor table) =>
        table.index_select(0, ids.flatten()).view(ids.shape[0], ids.shape[1], table.shape[1]);

    /// <summary>The first pos rows of a position table [context, dModel], repeated per batch item: [batch, pos, dModel].</summary>
    public static Tensor Positions(Tensor ids, Tensor table) =>
        table[..(int)ids.shape[1]].unsqueeze(0).expand(ids.shape[0], ids.shape[1], table.shape[1]);

    /// <summary>
    /// x [batch, pos, dModel] → logits [batch, pos, vocab], through W_U [dModel, vocab] or tied W_E [vocab, dModel]; only
    /// the last position's [batch, 1, vocab] when that is all the run wants, and nothing (null) when it wants none. When
    /// the run will hand the logits to the host (float32 on the CPU), the product is written straight into the host array:
    /// at GPT-2's vocabulary and batch 8 that array is 411 MB, and copying it out cost more than the product itself.
    /// </summary>
    public static Tensor? Unembed(HookContext context, Tensor x, Tensor? unembed, Tensor embed, Tensor? bias)
    {
        if (context.Output == LogitsOutput.None) return null;
        if (context.Output == LogitsOutput.LastPosition) x = x[.., ^1.., ..];                     // [batch, 1, dModel]
        var w = unembed ?? embed.t();                                                           // [dModel, vocab]
        if (!context.LogitsToHost || x.device_type != DeviceType.CPU || x.dtype != ScalarType.Float32 || x.requires_grad)
            return Linear.Apply(x, w, bias);
        var shape = x.shape.ToArray();
        shape[^1] = w.shape[1];
        int[] dims = [.. shape.Select(d => checked((int)d))];
        var host = new Tensors.Tensor(GC.AllocateUninitializedArray<float>(Tensors.Tensor.SizeOf(dims)), dims) { Name = Hooks.Logits };
        var logits = torch.from_array(host.Data).view(shape);                                  // shares the host array
        logits.view(-1, w.shape[1]).addmm_(x.reshape(-1, x.shape[^1]), w, beta: 0, alpha: 1);
        if (bias is not null) logits.PlusInPlace(bias);
        context.HostLogits = host;
        return logits;
    }
}

/// <summary>The normalisations and activations of the families, on libtorch.</summary>
public static class Layers
{
    public static Tensor LayerNorm(Tensor x, Tensor? gamma, Tensor? beta, float eps) =>
        nn.functional.layer_norm(x, [x.shape[^1]], gamma, beta, eps);

    /// <summary>x / √(mean(x²) + eps) · gamma over the last axis (Llama).</summary>
    public static Tensor RmsNorm(Tensor x, Tensor? gamma, float eps)
    {
        var y = x * torch.rsqrt((x * x).mean([-1], keepdim: true).Plus(eps));
        return gamma is null ? y : y * gamma;
    }

    public static Tensor Gelu(Tensor x, GeluForm form) => form == GeluForm.Tanh
        ? nn.functional.gelu(x, TorchSharp.Modules.GELU.Approximate.tanh)
        : nn.functional.gelu(x);

    public static Tensor Silu(Tensor x) => nn.functional.silu(x);
}
