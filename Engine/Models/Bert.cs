using Verification.Engine.Tensors;

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
    readonly Tensor embed, positions, tokenTypes, embedLnW, embedLnB;            // [vocab|context|types, dModel], [dModel]
    readonly Tensor? mlmW, mlmB, mlmLnW, mlmLnB, decoderBias;                    // [dModel, dModel], [dModel]…, [vocab]
    readonly Layer[] layers;

    sealed record Layer(AttentionWeights Attention, Tensor Ln1W, Tensor Ln1B, Tensor WIn, Tensor BIn, Tensor WOut, Tensor BOut,
        Tensor Ln2W, Tensor Ln2B);

    public BertModel(BertConfig config, IReadOnlyDictionary<string, Tensor> parameters, string source) : base(config, parameters, source)
    {
        this.config = config;
        int d = config.ModelWidth, v = config.VocabularySize, m = config.MlpWidth;
        Tensor Need(string n, params int[] shape) => Weights.Need(Parameters, source, n, shape);
        embed = Need("embed.W_E", v, d);
        positions = Need("pos_embed.W_pos", config.ContextLength, d);
        tokenTypes = Need("token_type_embed.W_token_type", config.TypeVocabularySize, d);
        embedLnW = Need("embed_ln.w", d);
        embedLnB = Need("embed_ln.b", d);
        if (config.LanguageModelHead)
        {
            mlmW = Need("mlm_head.W", d, d);
            mlmB = Need("mlm_head.b", d);
            mlmLnW = Need("mlm_head.ln.w", d);
            mlmLnB = Need("mlm_head.ln.b", d);
            decoderBias = Need("unembed.b_U", v);
        }
        layers = [.. Enumerable.Range(0, config.LayerCount).Select(l => new Layer(
            Attention.Load(Parameters, source, l, d, config.HeadCount, config.HeadCount, config.HeadWidth, biases: true),
            Need($"blocks.{l}.ln1.w", d), Need($"blocks.{l}.ln1.b", d),
            Need($"blocks.{l}.mlp.W_in", d, m), Need($"blocks.{l}.mlp.b_in", m),
            Need($"blocks.{l}.mlp.W_out", m, d), Need($"blocks.{l}.mlp.b_out", d),
            Need($"blocks.{l}.ln2.w", d), Need($"blocks.{l}.ln2.b", d)))];
    }

    public new BertConfig Config => config;

    protected internal override Tensor Forward(HookContext context, int[][] tokens, RunOptions options) =>
        config.LanguageModelHead ? MaskedLanguageModelHead(context, Encode(context, tokens, options)) : Encode(context, tokens, options);

    /// <summary>The encoder's output [batch, pos, dModel] (after the last block's LayerNorm).</summary>
    public Tensor Encode(HookContext context, int[][] tokens, RunOptions options)
    {
        int batch = tokens.Length, pos = tokens[0].Length;
        var types = options.TokenTypes is { } t ? Flatten(t) : new int[batch * pos];
        bool[,]? keyMask = null;
        if (options.AttentionMask is { } mask)
        {
            keyMask = new bool[batch, pos];
            for (var b = 0; b < batch; b++)
                for (var p = 0; p < pos; p++) keyMask[b, p] = mask[b][p];
        }
        var settings = new AttentionSettings(config.HeadCount, config.HeadCount, config.HeadWidth, Causal: false);
        var word = context.Hook(Hooks.Embed, Embeddings.Lookup(Flatten(tokens), embed, batch, pos));                       // [batch, pos, dModel]
        var position = context.Hook(Hooks.PosEmbed, Embeddings.Lookup(Embeddings.Positions(batch, pos), positions, batch, pos));
        var type = context.Hook(TokenTypeEmbedHook, Embeddings.Lookup(types, tokenTypes, batch, pos));
        var x = context.Hook(EmbedNormHook, Ops.LayerNorm(Ops.Add(Ops.Add(word, position), type), embedLnW, embedLnB, config.LayerNormEpsilon));
        for (var l = 0; l < layers.Length; l++)
        {
            var layer = layers[l];
            var residual = context.Hook(Hooks.ResidPre(l), x);
            var attention = Attention.Forward(context, l, residual, layer.Attention, settings, keyMask);
            residual = context.Hook(Hooks.ResidMid(l), Ops.Add(residual, attention));
            x = context.Hook(Hooks.Ln1(l), Ops.LayerNorm(residual, layer.Ln1W, layer.Ln1B, config.LayerNormEpsilon));
            var pre = context.Hook(Hooks.MlpPre(l), Ops.MatMul(x, layer.WIn, bias: layer.BIn));                             // [batch, pos, dMlp]
            var post = context.Hook(Hooks.MlpPost(l), Ops.Gelu(pre, config.Activation));
            var mlp = context.Hook(Hooks.MlpOut(l), Ops.MatMul(post, layer.WOut, bias: layer.BOut));
            residual = context.Hook(Hooks.ResidPost(l), Ops.Add(x, mlp));
            x = context.Hook(Hooks.Ln2(l), Ops.LayerNorm(residual, layer.Ln2W, layer.Ln2B, config.LayerNormEpsilon));
        }
        return x;
    }

    /// <summary>Masked-language-model logits [..., vocab] of encoder outputs [..., dModel].</summary>
    public Tensor MaskedLanguageModelHead(HookContext context, Tensor hidden) =>
        Embeddings.Unembed(MaskedLanguageModelTransform(context, hidden), null, embed, decoderBias);

    /// <summary>The MLM head before its decoder: LayerNorm(gelu(hidden·W + b)) [..., dModel].</summary>
    public Tensor MaskedLanguageModelTransform(HookContext context, Tensor hidden)
    {
        if (mlmW is null) throw new InvalidOperationException($"{Source} has no masked-language-model head.");
        var h = Ops.Gelu(Ops.MatMul(hidden, mlmW, bias: mlmB), config.Activation);
        return context.Hook(MlmNormHook, Ops.LayerNorm(h, mlmLnW, mlmLnB, config.LayerNormEpsilon));
    }

    /// <summary>
    /// MLM logits over a subset of the vocabulary only [..., candidates]: the decoder rows and biases of
    /// <paramref name="candidates"/>. Training on a small corpus with this softmax leaves every other row untouched.
    /// </summary>
    public Tensor MaskedLanguageModelLogits(HookContext context, Tensor hidden, int[] candidates)
    {
        var h = MaskedLanguageModelTransform(context, hidden);
        var rows = Ops.SelectRows(embed, candidates);                                                  // [candidates, dModel]
        var bias = Ops.Reshape(Ops.SelectRows(Ops.Reshape(decoderBias!, decoderBias!.Size, 1), candidates), candidates.Length);
        return Ops.AddBroadcast(Ops.MatMul(h, rows, transposeW: true), bias);
    }
}
