using TorchSharp;
using Verification.Engine.Torch;
using static TorchSharp.torch;
using HostTensor = Verification.Engine.Tensors.Tensor;

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

    public Gpt2Model(Gpt2Config config, IReadOnlyDictionary<string, HostTensor> parameters, string source) : base(config, parameters, source)
    {
        this.config = config;
        int d = config.ModelWidth, v = config.VocabularySize, m = config.MlpWidth;
        // Every tensor the forward pass reads, checked against the config here, before any run.
        Weights.Need(Parameters, source, "embed.W_E", v, d);                                    // [vocab, dModel]
        Weights.Need(Parameters, source, "pos_embed.W_pos", config.ContextLength, d);           // [context, dModel]
        if (!config.TiedEmbeddings) Weights.Need(Parameters, source, "unembed.W_U", d, v);      // [dModel, vocab]
        Weights.Maybe(Parameters, source, "unembed.b_U", v);
        if (config.UseLayerNorm)
        {
            Weights.Need(Parameters, source, "ln_final.w", d);
            Weights.Need(Parameters, source, "ln_final.b", d);
        }
        for (var l = 0; l < config.LayerCount; l++)
        {
            if (config.UseLayerNorm)
                foreach (var n in new[] { "ln1.w", "ln1.b", "ln2.w", "ln2.b" }) Weights.Need(Parameters, source, $"blocks.{l}.{n}", d);
            Attention.Check(Parameters, source, l, d, config.HeadCount, config.HeadCount, config.HeadWidth, biases: true);
            Weights.Need(Parameters, source, $"blocks.{l}.mlp.W_in", d, m);                     // [dModel, dMlp]
            Weights.Need(Parameters, source, $"blocks.{l}.mlp.b_in", m);
            Weights.Need(Parameters, source, $"blocks.{l}.mlp.W_out", m, d);                    // [dMlp, dModel]
            Weights.Need(Parameters, source, $"blocks.{l}.mlp.b_out", d);
        }
    }

    public new Gpt2Config Config => config;

    AttentionSettings Settings => new(config.HeadCount, config.HeadCount, config.HeadWidth, Causal: true);

    protected internal override Tensor? Forward(HookContext context, WeightSet w, Tensor ids, RunOptions options) =>
        Encode(context, w, ids) is { } final
            ? Embeddings.Unembed(context, final, w.Maybe("unembed.W_U"), w["embed.W_E"], w.Maybe("unembed.b_U"))   // [batch, pos, vocab]
            : null;

    /// <summary>The final residual after ln_final [batch, pos, dModel] on the live weights, before the unembedding.</summary>
    public Tensor Encode(HookContext context, int[][] tokens) => Encode(context, Live, TorchRuntime.Ids(tokens, Live.Device))!;

    /// <summary>The final residual, or null when the run stops after an earlier block (nothing later is read).</summary>
    Tensor? Encode(HookContext context, WeightSet w, Tensor ids)
    {
        var tokenEmbedding = context.Hook(Hooks.Embed, Embeddings.Lookup(ids, w["embed.W_E"]));                          // [batch, pos, dModel]
        var positionEmbedding = context.Hook(Hooks.PosEmbed, Embeddings.Positions(ids, w["pos_embed.W_pos"]));
        var residual = tokenEmbedding.Plus(positionEmbedding);
        for (var l = 0; l < config.LayerCount; l++)
        {
            // A layer's intermediates are freed when it ends (autograd keeps what backward needs): memory stays flat over depth.
            using var layerScope = torch.NewDisposeScope();
            string B(string n) => $"blocks.{l}.{n}";
            residual = context.Hook(Hooks.ResidPre(l), residual);
            var x = context.Hook(Hooks.Ln1(l), Norm(residual, w, B("ln1")));
            var attention = Attention.Forward(context, l, x, w, Settings);
            residual = context.Hook(Hooks.ResidMid(l), residual.Plus(attention));
            x = context.Hook(Hooks.Ln2(l), Norm(residual, w, B("ln2")));
            var pre = context.Hook(Hooks.MlpPre(l), Linear.Apply(x, w[B("mlp.W_in")], w[B("mlp.b_in")]));                   // [batch, pos, dMlp]
            var post = context.Hook(Hooks.MlpPost(l), Layers.Gelu(pre, config.Activation));
            var mlp = context.Hook(Hooks.MlpOut(l), Linear.Apply(post, w[B("mlp.W_out")], w[B("mlp.b_out")]));              // [batch, pos, dModel]
            residual = context.Hook(Hooks.ResidPost(l), residual.Plus(mlp)).MoveToOuterDisposeScope();
            if (context.StopsAfter(l)) return null;
        }
        return context.Hook(Hooks.LnFinal, Norm(residual, w, "ln_final"));
    }

    /// <summary>
    /// Logits over a subset of the vocabulary only [..., candidates] (tied unembedding rows of <paramref name="candidates"/>):
    /// training on a small corpus with this softmax leaves every other embedding row untouched.
    /// </summary>
    public Tensor CandidateLogits(Tensor final, int[] candidates)
    {
        if (!config.TiedEmbeddings) throw new InvalidOperationException("Candidate logits need the tied unembedding.");
        var rows = Live["embed.W_E"].index_select(0, torch.tensor(candidates.Select(c => (long)c).ToArray(), device: final.device)); // [candidates, dModel]
        return final.matmul(rows.t());
    }

    Tensor Norm(Tensor x, WeightSet w, string name) =>
        config.UseLayerNorm ? Layers.LayerNorm(x, w[$"{name}.w"], w[$"{name}.b"], config.LayerNormEpsilon) : x;
}
