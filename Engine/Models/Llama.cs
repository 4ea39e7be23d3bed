using Verification.Engine.Tensors;

namespace Verification.Engine.Models;

/// <summary>Llama: RMSNorm, rotary positions, grouped-query attention, SwiGLU MLP, tied or untied classifier.</summary>
public sealed record LlamaConfig : ModelConfig
{
    public override ModelFamily Family => ModelFamily.Llama;
    public required int MlpWidth { get; init; }
    public int KeyValueHeads { get; init; }
    public override int KeyValueHeadCount => KeyValueHeads > 0 ? KeyValueHeads : HeadCount;
    public int HeadWidthOverride { get; init; }
    public override int HeadWidth => HeadWidthOverride > 0 ? HeadWidthOverride : ModelWidth / HeadCount;
    public float RmsNormEpsilon { get; init; } = 1e-5f;
    public float RopeTheta { get; init; } = 10000f;
    public bool TiedEmbeddings { get; init; }

    /// <summary>
    /// Interleaved for Meta/llama2.c weights; half-split for Hugging Face weights, whose q/k rows HF's converter
    /// permuted so that rotate_half gives the same result.
    /// </summary>
    public RotaryLayout RotaryLayout { get; init; } = RotaryLayout.HalfSplit;

    /// <summary>False for a plain MLP, activation(x·W_in)·W_out, as in SPD's LlamaSimpleMLP.</summary>
    public bool GatedMlp { get; init; } = true;

    /// <summary>The plain MLP's activation (the gated one always uses SiLU).</summary>
    public GeluForm PlainActivation { get; init; } = GeluForm.Erf;

    public override string Describe() =>
        base.Describe() + $", {KeyValueHeadCount} key/value heads, SwiGLU width {MlpWidth}, {(TiedEmbeddings ? "tied" : "untied")} classifier";
}

public sealed class LlamaModel : Transformer
{
    readonly LlamaConfig config;
    readonly Tensor embed, lnFinal;                   // W_E [vocab, dModel], [dModel]
    readonly Tensor? unembed;                         // W_U [dModel, vocab] when untied
    readonly Layer[] layers;

    sealed record Layer(Tensor Ln1, AttentionWeights Attention, Tensor Ln2, Tensor? WGate, Tensor WIn, Tensor WOut);
    // W_gate, W_in [dModel, dMlp]; W_out [dMlp, dModel]

    public LlamaModel(LlamaConfig config, IReadOnlyDictionary<string, Tensor> parameters, string source) : base(config, parameters, source)
    {
        this.config = config;
        int d = config.ModelWidth, v = config.VocabularySize, m = config.MlpWidth;
        embed = Weights.Need(Parameters, source, "embed.W_E", v, d);
        lnFinal = Weights.Need(Parameters, source, "ln_final.w", d);
        if (!config.TiedEmbeddings) unembed = Weights.Need(Parameters, source, "unembed.W_U", d, v);
        layers = [.. Enumerable.Range(0, config.LayerCount).Select(l => new Layer(
            Weights.Need(Parameters, source, $"blocks.{l}.ln1.w", d),
            Attention.Load(Parameters, source, l, d, config.HeadCount, config.KeyValueHeadCount, config.HeadWidth, biases: false),
            Weights.Need(Parameters, source, $"blocks.{l}.ln2.w", d),
            config.GatedMlp ? Weights.Need(Parameters, source, $"blocks.{l}.mlp.W_gate", d, m) : null,
            Weights.Need(Parameters, source, $"blocks.{l}.mlp.W_in", d, m),
            Weights.Need(Parameters, source, $"blocks.{l}.mlp.W_out", m, d)))];
    }

    public new LlamaConfig Config => config;

    protected internal override Tensor Forward(HookContext context, int[][] tokens, RunOptions options)
    {
        int batch = tokens.Length, pos = tokens[0].Length;
        var settings = new AttentionSettings(config.HeadCount, config.KeyValueHeadCount, config.HeadWidth, Causal: true,
            RotaryDim: config.HeadWidth, RotaryTheta: config.RopeTheta, RotaryLayout: config.RotaryLayout);
        var residual = context.Hook(Hooks.Embed, Embeddings.Lookup(Flatten(tokens), embed, batch, pos));                     // [batch, pos, dModel]
        for (var l = 0; l < layers.Length; l++)
        {
            var layer = layers[l];
            residual = context.Hook(Hooks.ResidPre(l), residual);
            var x = context.Hook(Hooks.Ln1(l), Ops.RmsNorm(residual, layer.Ln1, config.RmsNormEpsilon));
            var attention = Attention.Forward(context, l, x, layer.Attention, settings);
            residual = context.Hook(Hooks.ResidMid(l), Ops.Add(residual, attention));
            x = context.Hook(Hooks.Ln2(l), Ops.RmsNorm(residual, layer.Ln2, config.RmsNormEpsilon));
            Tensor post;
            if (layer.WGate is not null)
            {
                var gate = context.Hook(Hooks.MlpPre(l), Ops.MatMul(x, layer.WGate));                                  // [batch, pos, dMlp]
                var linear = context.Hook(Hooks.MlpPreLinear(l), Ops.MatMul(x, layer.WIn));                             // [batch, pos, dMlp]
                post = context.Hook(Hooks.MlpPost(l), Ops.Mul(Ops.Silu(gate), linear));
            }
            else
            {
                var pre = context.Hook(Hooks.MlpPre(l), Ops.MatMul(x, layer.WIn));                                     // [batch, pos, dMlp]
                post = context.Hook(Hooks.MlpPost(l), Ops.Gelu(pre, config.PlainActivation));
            }
            var mlp = context.Hook(Hooks.MlpOut(l), Ops.MatMul(post, layer.WOut));                                       // [batch, pos, dModel]
            residual = context.Hook(Hooks.ResidPost(l), Ops.Add(residual, mlp));
        }
        var final = context.Hook(Hooks.LnFinal, Ops.RmsNorm(residual, lnFinal, config.RmsNormEpsilon));
        return Embeddings.Unembed(final, unembed, embed, null);                                                              // [batch, pos, vocab]
    }
}
