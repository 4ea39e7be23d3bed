using TorchSharp;
using Verification.Engine.Torch;
using static TorchSharp.torch;
using HostTensor = Verification.Engine.Tensors.Tensor;

namespace Verification.Engine.Models;

/// <summary>
/// An attention-only transformer (Elhage et al.'s toy models; the induction-head zoo): token and learned
/// position embeddings, attention blocks without MLPs, an untied unembedding. LayerNorm is optional.
/// </summary>
public sealed record AttentionOnlyConfig : ModelConfig
{
    public override ModelFamily Family => ModelFamily.AttentionOnly;
    public int HeadWidthOverride { get; init; }
    public override int HeadWidth => HeadWidthOverride > 0 ? HeadWidthOverride : ModelWidth / HeadCount;
    public bool UseLayerNorm { get; init; }
    public float LayerNormEpsilon { get; init; } = 1e-5f;
    public bool AttentionBiases { get; init; }
    public bool UnembedBias { get; init; }
}

public sealed class AttentionOnlyModel : Transformer
{
    readonly AttentionOnlyConfig config;

    public AttentionOnlyModel(AttentionOnlyConfig config, IReadOnlyDictionary<string, HostTensor> parameters, string source)
        : base(config, parameters, source)
    {
        this.config = config;
        int d = config.ModelWidth, v = config.VocabularySize;
        Weights.Need(Parameters, source, "embed.W_E", v, d);                            // [vocab, dModel]
        Weights.Need(Parameters, source, "pos_embed.W_pos", config.ContextLength, d);   // [context, dModel]
        Weights.Need(Parameters, source, "unembed.W_U", d, v);                          // [dModel, vocab]
        if (config.UnembedBias) Weights.Need(Parameters, source, "unembed.b_U", v);
        if (config.UseLayerNorm)
        {
            Weights.Need(Parameters, source, "ln_final.w", d);
            Weights.Need(Parameters, source, "ln_final.b", d);
        }
        for (var l = 0; l < config.LayerCount; l++)
        {
            if (config.UseLayerNorm)
            {
                Weights.Need(Parameters, source, $"blocks.{l}.ln1.w", d);
                Weights.Need(Parameters, source, $"blocks.{l}.ln1.b", d);
            }
            Attention.Check(Parameters, source, l, d, config.HeadCount, config.HeadCount, config.HeadWidth, config.AttentionBiases);
        }
    }

    public new AttentionOnlyConfig Config => config;

    protected internal override Tensor? Forward(HookContext context, WeightSet w, Tensor ids, RunOptions options)
    {
        var settings = new AttentionSettings(config.HeadCount, config.HeadCount, config.HeadWidth, Causal: true);
        var tokenEmbedding = context.Hook(Hooks.Embed, Embeddings.Lookup(ids, w["embed.W_E"]));                   // [batch, pos, dModel]
        var positionEmbedding = context.Hook(Hooks.PosEmbed, Embeddings.Positions(ids, w["pos_embed.W_pos"]));
        var residual = tokenEmbedding.Plus(positionEmbedding);
        for (var l = 0; l < config.LayerCount; l++)
        {
            // A layer's intermediates are freed when it ends (autograd keeps what backward needs): memory stays flat over depth.
            using var layerScope = torch.NewDisposeScope();
            residual = context.Hook(Hooks.ResidPre(l), residual);
            var x = residual;
            if (config.UseLayerNorm)
                x = context.Hook(Hooks.Ln1(l), Layers.LayerNorm(residual, w[$"blocks.{l}.ln1.w"], w[$"blocks.{l}.ln1.b"], config.LayerNormEpsilon));
            var attention = Attention.Forward(context, l, x, w, settings);
            residual = context.Hook(Hooks.ResidPost(l), residual.Plus(attention)).MoveToOuterDisposeScope();
            if (context.StopsAfter(l)) return null;
        }
        if (config.UseLayerNorm)
            residual = context.Hook(Hooks.LnFinal, Layers.LayerNorm(residual, w["ln_final.w"], w["ln_final.b"], config.LayerNormEpsilon));
        return Embeddings.Unembed(context, residual, w["unembed.W_U"], w["embed.W_E"], w.Maybe("unembed.b_U"));            // [batch, pos, vocab]
    }
}
