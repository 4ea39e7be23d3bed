using Verification.Engine.Tensors;

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
    readonly Tensor embed, positions, unembed;        // W_E [vocab, dModel], W_pos [context, dModel], W_U [dModel, vocab]
    readonly Tensor? unembedBias, lnFinalW, lnFinalB;
    readonly (Tensor? LnW, Tensor? LnB, AttentionWeights Attention)[] layers;

    public AttentionOnlyModel(AttentionOnlyConfig config, IReadOnlyDictionary<string, Tensor> parameters, string source)
        : base(config, parameters, source)
    {
        this.config = config;
        int d = config.ModelWidth, v = config.VocabularySize;
        embed = Weights.Need(Parameters, source, "embed.W_E", v, d);
        positions = Weights.Need(Parameters, source, "pos_embed.W_pos", config.ContextLength, d);
        unembed = Weights.Need(Parameters, source, "unembed.W_U", d, v);
        if (config.UnembedBias) unembedBias = Weights.Need(Parameters, source, "unembed.b_U", v);
        if (config.UseLayerNorm)
        {
            lnFinalW = Weights.Need(Parameters, source, "ln_final.w", d);
            lnFinalB = Weights.Need(Parameters, source, "ln_final.b", d);
        }
        layers = [.. Enumerable.Range(0, config.LayerCount).Select(l => (
            config.UseLayerNorm ? Weights.Need(Parameters, source, $"blocks.{l}.ln1.w", d) : null,
            config.UseLayerNorm ? Weights.Need(Parameters, source, $"blocks.{l}.ln1.b", d) : null,
            Attention.Load(Parameters, source, l, d, config.HeadCount, config.HeadCount, config.HeadWidth, config.AttentionBiases)))];
    }

    public new AttentionOnlyConfig Config => config;

    protected internal override Tensor Forward(HookContext context, int[][] tokens, RunOptions options)
    {
        int batch = tokens.Length, pos = tokens[0].Length;
        var settings = new AttentionSettings(config.HeadCount, config.HeadCount, config.HeadWidth, Causal: true);
        var tokenEmbedding = context.Hook(Hooks.Embed, Embeddings.Lookup(Flatten(tokens), embed, batch, pos));                  // [batch, pos, dModel]
        var positionEmbedding = context.Hook(Hooks.PosEmbed, Embeddings.Lookup(Embeddings.Positions(batch, pos), positions, batch, pos));
        var residual = Ops.Add(tokenEmbedding, positionEmbedding);
        for (var l = 0; l < layers.Length; l++)
        {
            residual = context.Hook(Hooks.ResidPre(l), residual);
            var x = residual;
            if (config.UseLayerNorm) x = context.Hook(Hooks.Ln1(l), Ops.LayerNorm(residual, layers[l].LnW, layers[l].LnB, config.LayerNormEpsilon));
            var attention = Attention.Forward(context, l, x, layers[l].Attention, settings);
            residual = context.Hook(Hooks.ResidPost(l), Ops.Add(residual, attention));
        }
        if (config.UseLayerNorm) residual = context.Hook(Hooks.LnFinal, Ops.LayerNorm(residual, lnFinalW, lnFinalB, config.LayerNormEpsilon));
        return Embeddings.Unembed(residual, unembed, embed, unembedBias);                                                     // [batch, pos, vocab]
    }
}
