using Verification.Engine.Tensors;

namespace Verification.Engine.Models;

/// <summary>One layer's attention weights, laid out for x·W. Biases are optional (Llama has none).</summary>
public sealed record AttentionWeights(
    Tensor WQ, Tensor? BQ,   // [dModel, head·dHead], [head·dHead]
    Tensor WK, Tensor? BK,   // [dModel, kvHead·dHead], [kvHead·dHead]
    Tensor WV, Tensor? BV,   // [dModel, kvHead·dHead], [kvHead·dHead]
    Tensor WO, Tensor? BO);  // [head·dHead, dModel], [dModel]

/// <summary>How a family's attention differs: masking, rotary embeddings, grouped key/value heads.</summary>
public sealed record AttentionSettings(
    int HeadCount,
    int KeyValueHeadCount,
    int HeadWidth,
    bool Causal,
    int RotaryDim = 0,
    float RotaryTheta = 10000f,
    RotaryLayout RotaryLayout = RotaryLayout.HalfSplit);

/// <summary>
/// Multi-head attention with every TransformerLens hook, shared by all families:
/// hook_q, hook_k, hook_v [batch, pos, head, dHead] → (rotary: hook_rot_q, hook_rot_k) →
/// hook_attn_scores [batch, head, query, key] (masked entries −∞) → hook_pattern (masked entries 0) →
/// hook_z [batch, pos, head, dHead] → (on request) hook_result [batch, pos, head, dModel] → hook_attn_out.
/// </summary>
public static class Attention
{
    public static Tensor Forward(HookContext context, int layer, Tensor x, AttentionWeights w, AttentionSettings s, bool[,]? keyMask = null)
    {
        // x [batch, pos, dModel]
        int batch = x.Shape[0], pos = x.Shape[1];
        int heads = s.HeadCount, kvHeads = s.KeyValueHeadCount, dHead = s.HeadWidth;

        var q = context.Hook(Hooks.Q(layer), Ops.Reshape(Ops.MatMul(x, w.WQ, bias: w.BQ), batch, pos, heads, dHead));     // [batch, pos, head, dHead]
        var k = context.Hook(Hooks.K(layer), Ops.Reshape(Ops.MatMul(x, w.WK, bias: w.BK), batch, pos, kvHeads, dHead));   // [batch, pos, kvHead, dHead]
        var v = context.Hook(Hooks.V(layer), Ops.Reshape(Ops.MatMul(x, w.WV, bias: w.BV), batch, pos, kvHeads, dHead));   // [batch, pos, kvHead, dHead]
        if (s.RotaryDim > 0)
        {
            q = context.Hook(Hooks.RotQ(layer), Ops.Rotary(q, s.RotaryDim, s.RotaryTheta, s.RotaryLayout));
            k = context.Hook(Hooks.RotK(layer), Ops.Rotary(k, s.RotaryDim, s.RotaryTheta, s.RotaryLayout));
        }
        var groups = heads / kvHeads;
        var qh = Ops.Permute(q, 0, 2, 1, 3);                           // [batch, head, pos, dHead]
        var kh = Ops.Permute(Ops.RepeatKv(k, groups), 0, 2, 1, 3);     // [batch, head, pos, dHead]
        var vh = Ops.Permute(Ops.RepeatKv(v, groups), 0, 2, 1, 3);     // [batch, head, pos, dHead]

        var scores = Ops.Scale(Ops.BatchedMatMul(qh, kh, transposeB: true), 1f / MathF.Sqrt(dHead)); // [batch, head, query, key]
        scores = context.Hook(Hooks.AttnScores(layer), Ops.MaskScores(scores, s.Causal, keyMask));
        var pattern = context.Hook(Hooks.Pattern(layer), Ops.Softmax(scores));                       // [batch, head, query, key]

        var z = context.Hook(Hooks.Z(layer), Ops.Permute(Ops.BatchedMatMul(pattern, vh), 0, 2, 1, 3)); // [batch, pos, head, dHead]
        Tensor output;
        if (context.WantsResult(layer))
        {
            var result = context.Hook(Hooks.Result(layer), Ops.PerHeadOutput(z, w.WO));               // [batch, pos, head, dModel]
            output = Ops.SumHeads(result);
            if (w.BO is not null) output = Ops.AddBroadcast(output, w.BO);
        }
        else
        {
            output = Ops.MatMul(Ops.Reshape(z, batch, pos, heads * dHead), w.WO, bias: w.BO);            // [batch, pos, dModel]
        }
        return context.Hook(Hooks.AttnOut(layer), output);
    }

    /// <summary>The attention weights of layer <paramref name="layer"/> under TransformerLens's names.</summary>
    public static AttentionWeights Load(IReadOnlyDictionary<string, Tensor> p, string source, int layer, int dModel, int heads, int kvHeads,
        int dHead, bool biases)
    {
        Tensor Need(string n, params int[] shape) => Weights.Need(p, source, $"blocks.{layer}.attn.{n}", shape);
        Tensor? Maybe(string n, params int[] shape) => biases ? Need(n, shape) : null;
        return new AttentionWeights(
            Need("W_Q", dModel, heads * dHead), Maybe("b_Q", heads * dHead),
            Need("W_K", dModel, kvHeads * dHead), Maybe("b_K", kvHeads * dHead),
            Need("W_V", dModel, kvHeads * dHead), Maybe("b_V", kvHeads * dHead),
            Need("W_O", heads * dHead, dModel), Maybe("b_O", dModel));
    }
}
