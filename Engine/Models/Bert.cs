using TorchSharp;
using Verification.Engine.Torch;
using static TorchSharp.torch;
using HostTensor = Verification.Engine.Tensors.Tensor;

namespace Verification.Engine.Models;

/// <summary>
/// BERT: word + position + token-type embeddings with LayerNorm, post-LayerNorm encoder blocks, exact (erf) gelu,
/// and the masked-language-model head (dense, gelu, LayerNorm, decoder tied to the word embeddings).
/// </summary>
public sealed record BertConfig : ModelConfig
{
    public override ModelFamily Family => ModelFamily.Bert;
    public override bool Causal => false;
    public required int MlpWidth { get; init; }
    public int TypeVocabularySize { get; init; } = 2;
    public float LayerNormEpsilon { get; init; } = 1e-12f;
    public GeluForm Activation { get; init; } = GeluForm.Erf;

    /// <summary>
    /// False for checkpoints saved without the masked-language-model head (BertModel rather than BertForMaskedLM):
    /// then a run returns the encoder's output [batch, pos, dModel] in place of logits.
    /// </summary>
    public bool LanguageModelHead { get; init; } = true;

    public override string Describe() => base.Describe() + $", MLP width {MlpWidth}, bidirectional" + (LanguageModelHead ? "" : ", no MLM head");
}

public sealed class BertModel : Transformer
{
    public const string TokenTypeEmbedHook = "hook_token_type_embed";
    public const string EmbedNormHook = "embed_ln.hook_normalized";
    public const string MlmNormHook = "mlm_head.ln.hook_normalized";

    readonly BertConfig config;

    public BertModel(BertConfig config, IReadOnlyDictionary<string, HostTensor> parameters, string source) : base(config, parameters, source)
    {
        this.config = config;
        int d = config.ModelWidth, v = config.VocabularySize, m = config.MlpWidth;
        void Need(string n, params int[] shape) => Weights.Need(Parameters, source, n, shape);
        Need("embed.W_E", v, d);                                    // [vocab, dModel]
        Need("pos_embed.W_pos", config.ContextLength, d);           // [context, dModel]
        Need("token_type_embed.W_token_type", config.TypeVocabularySize, d);
        Need("embed_ln.w", d);
        Need("embed_ln.b", d);
        if (config.LanguageModelHead)
        {
            Need("mlm_head.W", d, d);
            Need("mlm_head.b", d);
            Need("mlm_head.ln.w", d);
            Need("mlm_head.ln.b", d);
            Need("unembed.b_U", v);
        }
        for (var l = 0; l < config.LayerCount; l++)
        {
            Attention.Check(Parameters, source, l, d, config.HeadCount, config.HeadCount, config.HeadWidth, biases: true);
            Need($"blocks.{l}.ln1.w", d); Need($"blocks.{l}.ln1.b", d);
            Need($"blocks.{l}.mlp.W_in", d, m); Need($"blocks.{l}.mlp.b_in", m);      // [dModel, dMlp]
            Need($"blocks.{l}.mlp.W_out", m, d); Need($"blocks.{l}.mlp.b_out", d);    // [dMlp, dModel]
            Need($"blocks.{l}.ln2.w", d); Need($"blocks.{l}.ln2.b", d);
        }
    }

    public new BertConfig Config => config;

    /// <summary>MLM logits with a head; without one the "logits" are the encoder's output [batch, pos, dModel], as Hugging Face's last_hidden_state.</summary>
    protected internal override Tensor? Forward(HookContext context, WeightSet w, Tensor ids, RunOptions options)
    {
        if (Encode(context, w, ids, options) is not { } hidden || context.Output == LogitsOutput.None) return null;
        if (config.LanguageModelHead) return MaskedLanguageModelHead(context, w, hidden);
        return context.Output == LogitsOutput.LastPosition ? hidden[.., ^1.., ..] : hidden;
    }

    /// <summary>The encoder's output [batch, pos, dModel] (after the last block's LayerNorm), on the live weights.</summary>
    public Tensor Encode(HookContext context, int[][] tokens, RunOptions options) =>
        Encode(context, Live, TorchRuntime.Ids(tokens, Live.Device), options)!;

    /// <summary>The encoder's output, or null when the run stops after an earlier block (nothing later is read).</summary>
    Tensor? Encode(HookContext context, WeightSet w, Tensor ids, RunOptions options)
    {
        long batch = ids.shape[0], pos = ids.shape[1];
        var device = ids.device.ToString();
        var types = options.TokenTypes is { } t ? TorchRuntime.Ids(t, device) : torch.zeros(batch, pos, ScalarType.Int64, ids.device);
        Tensor? keyMask = null;                                                                  // [batch, key]
        if (options.AttentionMask is { } mask)
            keyMask = torch.tensor(mask.SelectMany(m => m).ToArray(), [batch, pos], device: ids.device);
        var settings = new AttentionSettings(config.HeadCount, config.HeadCount, config.HeadWidth, Causal: false);
        var word = context.Hook(Hooks.Embed, Embeddings.Lookup(ids, w["embed.W_E"]));            // [batch, pos, dModel]
        var position = context.Hook(Hooks.PosEmbed, Embeddings.Positions(ids, w["pos_embed.W_pos"]));
        var type = context.Hook(TokenTypeEmbedHook, Embeddings.Lookup(types, w["token_type_embed.W_token_type"]));
        var x = context.Hook(EmbedNormHook, Layers.LayerNorm(word.Plus(position).Plus(type), w["embed_ln.w"], w["embed_ln.b"], config.LayerNormEpsilon));
        for (var l = 0; l < config.LayerCount; l++)
        {
            // A layer's intermediates are freed when it ends (autograd keeps what backward needs): memory stays flat over depth.
            using var layerScope = torch.NewDisposeScope();
            string B(string n) => $"blocks.{l}.{n}";
            var residual = context.Hook(Hooks.ResidPre(l), x);
            var attention = Attention.Forward(context, l, residual, w, settings, keyMask);
            residual = context.Hook(Hooks.ResidMid(l), residual.Plus(attention));
            x = context.Hook(Hooks.Ln1(l), Layers.LayerNorm(residual, w[B("ln1.w")], w[B("ln1.b")], config.LayerNormEpsilon));
            var pre = context.Hook(Hooks.MlpPre(l), Linear.Apply(x, w[B("mlp.W_in")], w[B("mlp.b_in")]));       // [batch, pos, dMlp]
            var post = context.Hook(Hooks.MlpPost(l), Layers.Gelu(pre, config.Activation));
            var mlp = context.Hook(Hooks.MlpOut(l), Linear.Apply(post, w[B("mlp.W_out")], w[B("mlp.b_out")]));
            residual = context.Hook(Hooks.ResidPost(l), x.Plus(mlp));
            x = context.Hook(Hooks.Ln2(l), Layers.LayerNorm(residual, w[B("ln2.w")], w[B("ln2.b")], config.LayerNormEpsilon)).MoveToOuterDisposeScope();
            if (context.StopsAfter(l)) return null;
        }
        return x;
    }

    Tensor? MaskedLanguageModelHead(HookContext context, WeightSet w, Tensor hidden) =>
        Embeddings.Unembed(context, MaskedLanguageModelTransform(context, w, hidden), null, w["embed.W_E"], w["unembed.b_U"]);

    /// <summary>The MLM head before its decoder: LayerNorm(gelu(hidden·W + b)) [..., dModel].</summary>
    Tensor MaskedLanguageModelTransform(HookContext context, WeightSet w, Tensor hidden)
    {
        if (!config.LanguageModelHead) throw new InvalidOperationException($"{Source} has no masked-language-model head.");
        var h = Layers.Gelu(Linear.Apply(hidden, w["mlm_head.W"], w["mlm_head.b"]), config.Activation);
        return context.Hook(MlmNormHook, Layers.LayerNorm(h, w["mlm_head.ln.w"], w["mlm_head.ln.b"], config.LayerNormEpsilon));
    }

    /// <summary>
    /// MLM logits over a subset of the vocabulary only [..., candidates] on the live weights: the decoder rows and biases of
    /// <paramref name="candidates"/>. Training on a small corpus with this softmax leaves every other row untouched.
    /// </summary>
    public Tensor MaskedLanguageModelLogits(HookContext context, Tensor hidden, int[] candidates)
    {
        var w = Live;
        var h = MaskedLanguageModelTransform(context, w, hidden);
        var index = torch.tensor(candidates.Select(c => (long)c).ToArray(), device: hidden.device);
        var rows = w["embed.W_E"].index_select(0, index);                                      // [candidates, dModel]
        return h.matmul(rows.t()).Plus(w["unembed.b_U"].index_select(0, index));
    }
}
