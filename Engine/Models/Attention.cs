using TorchSharp;
using Verification.Engine.Torch;
using static TorchSharp.torch;

namespace Verification.Engine.Models;

/// <summary>How the rotary embedding pairs a head's dimensions.</summary>
public enum RotaryLayout
{
    /// <summary>Rotates pairs (0,1), (2,3), …: Meta's Llama and llama2.c.</summary>
    Interleaved,

    /// <summary>Rotates pairs (i, i + d/2): Hugging Face Llama and GPT-NeoX.</summary>
    HalfSplit,
}

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
/// Weights are read under TransformerLens's names: W_Q [dModel, head·dHead], W_K and W_V [dModel, kvHead·dHead],
/// W_O [head·dHead, dModel], biases optional (Llama has none).
/// </summary>
public static class Attention
{
    /// <param name="keyMask">[batch, key] bool, false for padding no query may attend to (BERT); null for none.</param>
    public static Tensor Forward(HookContext context, int layer, Tensor x, WeightSet w, AttentionSettings s, Tensor? keyMask = null)
    {
        // x [batch, pos, dModel]
        long batch = x.shape[0], pos = x.shape[1];
        int heads = s.HeadCount, kvHeads = s.KeyValueHeadCount, dHead = s.HeadWidth;
        string Name(string n) => $"blocks.{layer}.attn.{n}";
        Tensor Project(string weight, string bias, int count) => Linear.Apply(x, w[Name(weight)], w.Maybe(Name(bias))).view(batch, pos, count, dHead);

        var q = context.Hook(Hooks.Q(layer), Project("W_Q", "b_Q", heads));       // [batch, pos, head, dHead]
        var k = context.Hook(Hooks.K(layer), Project("W_K", "b_K", kvHeads));     // [batch, pos, kvHead, dHead]
        var v = context.Hook(Hooks.V(layer), Project("W_V", "b_V", kvHeads));     // [batch, pos, kvHead, dHead]
        if (s.RotaryDim > 0)
        {
            q = context.Hook(Hooks.RotQ(layer), Rotary.Apply(q, s.RotaryDim, s.RotaryTheta, s.RotaryLayout));
            k = context.Hook(Hooks.RotK(layer), Rotary.Apply(k, s.RotaryDim, s.RotaryTheta, s.RotaryLayout));
        }
        var groups = heads / kvHeads;
        // Contiguous, so the kernels below see one memory layout whether or not an intervention replaced q, k or v.
        var qh = q.permute(0, 2, 1, 3).contiguous();                             // [batch, head, pos, dHead]
        var kh = RepeatKeyValues(k, groups).permute(0, 2, 1, 3).contiguous();     // [batch, head, pos, dHead]
        var vh = RepeatKeyValues(v, groups).permute(0, 2, 1, 3).contiguous();     // [batch, head, pos, dHead]

        Tensor weighted;                                                          // [batch, head, pos, dHead]
        if (context.Needs(Hooks.AttnScores(layer)) || context.Needs(Hooks.Pattern(layer)))
        {
            // Scaled and masked in place: a head × pos² buffer is the largest a block makes, so it is made twice (scores,
            // pattern), not four times, and each is freed as soon as the next step has read it.
            var scores = qh.matmul(kh.transpose(-1, -2)).TimesInPlace(1.0 / Math.Sqrt(dHead)); // [batch, head, query, key]
            scores = context.Hook(Hooks.AttnScores(layer), MaskScores(scores, s.Causal, keyMask, inPlace: true));
            var pattern = scores.softmax(-1);
            scores.Dispose();
            // A row with every key masked is all −∞; its softmax is NaN in libtorch, and no weight at all here.
            // (In place when nothing records gradients: softmax's backward reads its output.)
            if (keyMask is not null) pattern = pattern.requires_grad ? pattern.nan_to_num(0.0) : pattern.nan_to_num_(0.0);
            pattern = context.Hook(Hooks.Pattern(layer), pattern);              // [batch, head, query, key]
            weighted = pattern.matmul(vh);
            pattern.Dispose();
        }
        else
        {
            // Nobody looks at the scores or the pattern: libtorch's fused attention computes the same softmax(q·kᵀ/√d)·v
            // without materialising them (EngineParity compares the two paths).
            context.Pass(Hooks.AttnScores(layer));
            context.Pass(Hooks.Pattern(layer));
            using var allowed = keyMask?.view(keyMask.shape[0], 1, 1, keyMask.shape[1]);
            weighted = nn.functional.scaled_dot_product_attention(qh, kh, vh, allowed, 0.0, s.Causal && keyMask is null);
            if (keyMask is not null) weighted = weighted.nan_to_num(0.0);
        }
        var z = context.Hook(Hooks.Z(layer), weighted.permute(0, 2, 1, 3));    // [batch, pos, head, dHead]
        Tensor output;
        var wO = w[Name("W_O")];
        if (context.WantsResult(layer))
        {
            var perHead = wO.view(heads, dHead, wO.shape[1]);                     // [head, dHead, dModel]
            var result = context.Hook(Hooks.Result(layer), torch.einsum("bphd,hdm->bphm", z, perHead)); // [batch, pos, head, dModel]
            output = result.sum(2);
            if (w.Maybe(Name("b_O")) is { } bias) output = output.Plus(bias);
        }
        else
        {
            output = Linear.Apply(z.reshape(batch, pos, heads * dHead), wO, w.Maybe(Name("b_O")));     // [batch, pos, dModel]
        }
        return context.Hook(Hooks.AttnOut(layer), output);
    }

    /// <summary>
    /// Scores [batch, head, query, key] with disallowed entries set to −∞: keys after the query when causal, keys whose
    /// <paramref name="keyMask"/>[batch, key] is false. Gradients flow only through allowed entries.
    /// </summary>
    public static Tensor MaskScores(Tensor scores, bool causal, Tensor? keyMask, bool inPlace = false)
    {
        long queries = scores.shape[2], keys = scores.shape[3];
        if (causal)
        {
            // Queries are the last positions of the keys: key k is allowed for query q when k ≤ q + (keys − queries).
            using var future = torch.ones(queries, keys, ScalarType.Bool, scores.device).triu(keys - queries + 1);
            scores = inPlace ? scores.masked_fill_(future, Scalars.NegativeInfinity) : scores.MaskedToNegativeInfinity(future);
        }
        if (keyMask is not null)
        {
            if (keyMask.shape[0] != scores.shape[0] || keyMask.shape[1] != keys)
                throw new ArgumentException($"Key mask [{keyMask.shape[0]}, {keyMask.shape[1]}] does not match scores [{string.Join(", ", scores.shape)}].");
            using var masked = keyMask.logical_not().view(scores.shape[0], 1, 1, keys);
            scores = inPlace ? scores.masked_fill_(masked, Scalars.NegativeInfinity) : scores.MaskedToNegativeInfinity(masked);
        }
        return scores;
    }

    /// <summary>x [batch, pos, kvHead, dHead] → [batch, pos, kvHead·groups, dHead]: query head h reads key/value head h / groups.</summary>
    static Tensor RepeatKeyValues(Tensor x, int groups) => groups == 1 ? x : x.repeat_interleave(groups, dim: 2);

    /// <summary>Checks that a layer's attention weights are there with the shapes the config gives (host parameters).</summary>
    public static void Check(IReadOnlyDictionary<string, Tensors.Tensor> p, string source, int layer, int dModel, int heads, int kvHeads,
        int dHead, bool biases)
    {
        void Need(string n, params int[] shape) => Weights.Need(p, source, $"blocks.{layer}.attn.{n}", shape);
        Need("W_Q", dModel, heads * dHead);
        Need("W_K", dModel, kvHeads * dHead);
        Need("W_V", dModel, kvHeads * dHead);
        Need("W_O", heads * dHead, dModel);
        if (!biases) return;
        Need("b_Q", heads * dHead);
        Need("b_K", kvHeads * dHead);
        Need("b_V", kvHeads * dHead);
        Need("b_O", dModel);
    }
}

/// <summary>x·W + b with W laid out [in, out], as TransformerLens stores it.</summary>
public static class Linear
{
    public static Tensor Apply(Tensor x, Tensor w, Tensor? bias = null) => bias is null ? x.matmul(w) : torch.addmm(bias, x.flatten(0, -2), w, beta: 1, alpha: 1).view(Shape(x, w));

    static long[] Shape(Tensor x, Tensor w)
    {
        var shape = x.shape.ToArray();
        shape[^1] = w.shape[1];
        return shape;
    }
}

/// <summary>Rotary position embedding on x [batch, pos, head, dHead].</summary>
public static class Rotary
{
    /// <summary>
    /// Rotates the first <paramref name="rotaryDim"/> dimensions of each head by angle (position + offset)·theta^(−2i/rotaryDim)
    /// for pair i; the rest pass through.
    /// </summary>
    public static Tensor Apply(Tensor x, int rotaryDim, float theta, RotaryLayout layout, int positionOffset = 0)
    {
        if (x.dim() != 4) throw new ArgumentException($"Rotary needs x [batch, pos, head, dHead]; got [{string.Join(", ", x.shape)}].");
        long batch = x.shape[0], pos = x.shape[1], heads = x.shape[2], dHead = x.shape[3];
        if (rotaryDim <= 0 || rotaryDim > dHead || rotaryDim % 2 != 0)
            throw new ArgumentException($"Rotary dimension {rotaryDim} must be even and in 2..{dHead} for heads of width {dHead}.");
        var half = rotaryDim / 2;
        var (cosTable, sinTable) = Tables((int)pos, rotaryDim, theta, positionOffset);
        var cos = torch.tensor(cosTable, [1, pos, 1, half]).to(x.dtype, x.device);
        var sin = torch.tensor(sinTable, [1, pos, 1, half]).to(x.dtype, x.device);
        var rotated = x[.., .., .., ..rotaryDim];
        Tensor x0, x1;
        if (layout == RotaryLayout.Interleaved)
        {
            var pairs = rotated.reshape(batch, pos, heads, half, 2);
            (x0, x1) = (pairs[.., .., .., .., 0], pairs[.., .., .., .., 1]);
        }
        else (x0, x1) = (rotated[.., .., .., ..half], rotated[.., .., .., half..]);
        var y0 = (x0 * cos).sub(x1 * sin);
        var y1 = (x0 * sin).Plus(x1 * cos);
        var y = layout == RotaryLayout.Interleaved
            ? torch.stack([y0, y1], -1).reshape(batch, pos, heads, rotaryDim)
            : torch.cat([y0, y1], -1);
        return rotaryDim == dHead ? y : torch.cat([y, x[.., .., .., rotaryDim..]], -1);
    }

    /// <summary>cos and sin [pos, rotaryDim/2] of angle (p + offset)·theta^(−2i/rotaryDim), computed in double.</summary>
    public static (float[] Cos, float[] Sin) Tables(int positions, int rotaryDim, float theta, int positionOffset = 0)
    {
        var half = rotaryDim / 2;
        var cos = new float[positions * half];
        var sin = new float[positions * half];
        for (var p = 0; p < positions; p++)
            for (var i = 0; i < half; i++)
            {
                // Frequencies in float32 as PyTorch computes them (1/theta^(2i/d) as a float tensor), angles in double.
                var frequency = 1f / MathF.Pow(theta, 2f * i / rotaryDim);
                var angle = (double)(p + positionOffset) * frequency;
                cos[p * half + i] = (float)Math.Cos(angle);
                sin[p * half + i] = (float)Math.Sin(angle);
            }
        return (cos, sin);
    }
}
