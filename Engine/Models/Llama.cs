using TorchSharp;
using Verification.Engine.Torch;
using static TorchSharp.torch;
using HostTensor = Verification.Engine.Tensors.Tensor;

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

    public LlamaModel(LlamaConfig config, IReadOnlyDictionary<string, HostTensor> parameters, string source) : base(config, parameters, source)
    {
        this.config = config;
        int d = config.ModelWidth, v = config.VocabularySize, m = config.MlpWidth;
        Weights.Need(Parameters, source, "embed.W_E", v, d);                                    // [vocab, dModel]
        Weights.Need(Parameters, source, "ln_final.w", d);
        if (!config.TiedEmbeddings) Weights.Need(Parameters, source, "unembed.W_U", d, v);      // [dModel, vocab]
        for (var l = 0; l < config.LayerCount; l++)
        {
            Weights.Need(Parameters, source, $"blocks.{l}.ln1.w", d);
            Attention.Check(Parameters, source, l, d, config.HeadCount, config.KeyValueHeadCount, config.HeadWidth, biases: false);
            Weights.Need(Parameters, source, $"blocks.{l}.ln2.w", d);
            if (config.GatedMlp) Weights.Need(Parameters, source, $"blocks.{l}.mlp.W_gate", d, m);  // [dModel, dMlp]
            Weights.Need(Parameters, source, $"blocks.{l}.mlp.W_in", d, m);                     // [dModel, dMlp]
            Weights.Need(Parameters, source, $"blocks.{l}.mlp.W_out", m, d);                    // [dMlp, dModel]
        }
    }

    public new LlamaConfig Config => config;

    protected internal override Tensor? Forward(HookContext context, WeightSet w, Tensor ids, RunOptions options)
    {
        var settings = new AttentionSettings(config.HeadCount, config.KeyValueHeadCount, config.HeadWidth, Causal: true,
            RotaryDim: config.HeadWidth, RotaryTheta: config.RopeTheta, RotaryLayout: config.RotaryLayout);
        var residual = context.Hook(Hooks.Embed, Embeddings.Lookup(ids, w["embed.W_E"]));                                // [batch, pos, dModel]
        for (var l = 0; l < config.LayerCount; l++)
        {
            // A layer's intermediates are freed when it ends (autograd keeps what backward needs): memory stays flat over depth.
            using var layerScope = torch.NewDisposeScope();
            string B(string n) => $"blocks.{l}.{n}";
            residual = context.Hook(Hooks.ResidPre(l), residual);
            var x = context.Hook(Hooks.Ln1(l), Layers.RmsNorm(residual, w[B("ln1.w")], config.RmsNormEpsilon));
            var attention = Attention.Forward(context, l, x, w, settings);
            residual = context.Hook(Hooks.ResidMid(l), residual.Plus(attention));
            x = context.Hook(Hooks.Ln2(l), Layers.RmsNorm(residual, w[B("ln2.w")], config.RmsNormEpsilon));
            Tensor post;
            if (config.GatedMlp)
            {
                var gate = context.Hook(Hooks.MlpPre(l), x.matmul(w[B("mlp.W_gate")]));                                 // [batch, pos, dMlp]
                var linear = context.Hook(Hooks.MlpPreLinear(l), x.matmul(w[B("mlp.W_in")]));                            // [batch, pos, dMlp]
                post = context.Hook(Hooks.MlpPost(l), Layers.Silu(gate) * linear);
            }
            else
            {
                var pre = context.Hook(Hooks.MlpPre(l), x.matmul(w[B("mlp.W_in")]));                                     // [batch, pos, dMlp]
                post = context.Hook(Hooks.MlpPost(l), Layers.Gelu(pre, config.PlainActivation));
            }
            var mlp = context.Hook(Hooks.MlpOut(l), post.matmul(w[B("mlp.W_out")]));                                      // [batch, pos, dModel]
            residual = context.Hook(Hooks.ResidPost(l), residual.Plus(mlp)).MoveToOuterDisposeScope();
            if (context.StopsAfter(l)) return null;
        }
        var final = context.Hook(Hooks.LnFinal, Layers.RmsNorm(residual, w["ln_final.w"], config.RmsNormEpsilon));
        return Embeddings.Unembed(context, final, w.Maybe("unembed.W_U"), w["embed.W_E"], null);                                    // [batch, pos, vocab]
    }
}
