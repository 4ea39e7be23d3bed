using Verification.Engine.Tensors;

namespace Verification.Engine.Models;

/// <summary>GPT-2: learned positions, pre-LayerNorm blocks, gelu (tanh form) MLP, unembedding tied to W_E.</summary>
public sealed record Gpt2Config : ModelConfig
{
    public override ModelFamily Family => ModelFamily.Gpt2;
    public required int MlpWidth { get; init; }
    public int HeadWidthOverride { get; init; }
    public override int HeadWidth => HeadWidthOverride > 0 ? HeadWidthOverride : ModelWidth / HeadCount;
    public float LayerNormEpsilon { get; init; } = 1e-5f;
    public GeluForm Activation { get; init; } = GeluForm.Tanh;
    public bool TiedEmbeddings { get; init; } = true;

    /// <summary>False builds blocks without LayerNorm (for circuits compiled by hand).</summary>
    public bool UseLayerNorm { get; init; } = true;

    public override string Describe() => base.Describe() + $", MLP width {MlpWidth}";
}

public sealed class Gpt2Model : Transformer
{
    readonly Gpt2Config config;
    readonly Tensor embed, positions;                 // W_E [vocab, dModel], W_pos [context, dModel]
    readonly Tensor? unembed, unembedBias;            // W_U [dModel, vocab] when untied, b_U [vocab]
    readonly Tensor? lnFinalW, lnFinalB;              // [dModel]
    readonly Layer[] layers;

    sealed record Layer(Tensor? Ln1W, Tensor? Ln1B, AttentionWeights Attention, Tensor? Ln2W, Tensor? Ln2B,
        Tensor WIn, Tensor BIn, Tensor WOut, Tensor BOut); // W_in [dModel, dMlp], W_out [dMlp, dModel]

    public Gpt2Model(Gpt2Config config, IReadOnlyDictionary<string, Tensor> parameters, string source) : base(config, parameters, source)
    {
        this.config = config;
        int d = config.ModelWidth, v = config.VocabularySize, m = config.MlpWidth;
        embed = Weights.Need(Parameters, source, "embed.W_E", v, d);
        positions = Weights.Need(Parameters, source, "pos_embed.W_pos", config.ContextLength, d);
        if (!config.TiedEmbeddings) unembed = Weights.Need(Parameters, source, "unembed.W_U", d, v);
        unembedBias = Weights.Maybe(Parameters, source, "unembed.b_U", v);
        if (config.UseLayerNorm)
        {
            lnFinalW = Weights.Need(Parameters, source, "ln_final.w", d);
            lnFinalB = Weights.Need(Parameters, source, "ln_final.b", d);
        }
        layers = [.. Enumerable.Range(0, config.LayerCount).Select(l =>
        {
            Tensor? Ln(string n) => config.UseLayerNorm ? Weights.Need(Parameters, source, $"blocks.{l}.{n}", d) : null;
            return new Layer(Ln("ln1.w"), Ln("ln1.b"),
                Attention.Load(Parameters, source, l, d, config.HeadCount, config.HeadCount, config.HeadWidth, biases: true),
                Ln("ln2.w"), Ln("ln2.b"),
                Weights.Need(Parameters, source, $"blocks.{l}.mlp.W_in", d, m), Weights.Need(Parameters, source, $"blocks.{l}.mlp.b_in", m),
                Weights.Need(Parameters, source, $"blocks.{l}.mlp.W_out", m, d), Weights.Need(Parameters, source, $"blocks.{l}.mlp.b_out", d));
        })];
    }

    public new Gpt2Config Config => config;

    AttentionSettings Settings => new(config.HeadCount, config.HeadCount, config.HeadWidth, Causal: true);

    protected internal override Tensor Forward(HookContext context, int[][] tokens, RunOptions options) =>
        Embeddings.Unembed(Encode(context, tokens), unembed, embed, unembedBias);                                           // [batch, pos, vocab]

    /// <summary>The final residual after ln_final [batch, pos, dModel], before the unembedding.</summary>
    public Tensor Encode(HookContext context, int[][] tokens)
    {
        int batch = tokens.Length, pos = tokens[0].Length;
        var tokenEmbedding = context.Hook(Hooks.Embed, Embeddings.Lookup(Flatten(tokens), embed, batch, pos));                  // [batch, pos, dModel]
        var positionEmbedding = context.Hook(Hooks.PosEmbed, Embeddings.Lookup(Embeddings.Positions(batch, pos), positions, batch, pos));
        var residual = Ops.Add(tokenEmbedding, positionEmbedding);
        for (var l = 0; l < layers.Length; l++)
        {
            var layer = layers[l];
            residual = context.Hook(Hooks.ResidPre(l), residual);
            var x = context.Hook(Hooks.Ln1(l), Norm(residual, layer.Ln1W, layer.Ln1B));
            var attention = Attention.Forward(context, l, x, layer.Attention, Settings);
            residual = context.Hook(Hooks.ResidMid(l), Ops.Add(residual, attention));
            x = context.Hook(Hooks.Ln2(l), Norm(residual, layer.Ln2W, layer.Ln2B));
            var pre = context.Hook(Hooks.MlpPre(l), Ops.MatMul(x, layer.WIn, bias: layer.BIn));                           // [batch, pos, dMlp]
            var post = context.Hook(Hooks.MlpPost(l), Ops.Gelu(pre, config.Activation));
            var mlp = context.Hook(Hooks.MlpOut(l), Ops.MatMul(post, layer.WOut, bias: layer.BOut));                      // [batch, pos, dModel]
            residual = context.Hook(Hooks.ResidPost(l), Ops.Add(residual, mlp));
        }
        return context.Hook(Hooks.LnFinal, Norm(residual, lnFinalW, lnFinalB));
    }

    /// <summary>
    /// Logits over a subset of the vocabulary only [..., candidates] (tied unembedding rows of <paramref name="candidates"/>):
    /// training on a small corpus with this softmax leaves every other embedding row untouched.
    /// </summary>
    public Tensor CandidateLogits(Tensor final, int[] candidates)
    {
        if (!config.TiedEmbeddings) throw new InvalidOperationException("Candidate logits need the tied unembedding.");
        return Ops.MatMul(final, Ops.SelectRows(embed, candidates), transposeW: true);
    }

    Tensor Norm(Tensor x, Tensor? w, Tensor? b) => config.UseLayerNorm ? Ops.LayerNorm(x, w, b, config.LayerNormEpsilon) : x;
}
