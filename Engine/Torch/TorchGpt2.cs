using TorchSharp;
using Verification.Engine.Models;
using static TorchSharp.torch;
using HostTensor = Verification.Engine.Tensors.Tensor;

namespace Verification.Engine.Torch;

/// <summary>
/// GPT-2's forward pass on libtorch tensors, from a <see cref="Gpt2Model"/>'s TransformerLens-named weights, on any
/// device and in float32 or float64: the first model of the port onto TorchSharp. Hooks are TransformerLens's names, as
/// in the engine; a cached hook leaves as a host tensor, so what the caller gets is what <see cref="Transformer.Run"/>
/// returns. Interventions stay with the engine's own path until the port moves them.
/// </summary>
public sealed class TorchGpt2 : IDisposable
{
    readonly Gpt2Config config;
    readonly Device device;
    readonly ScalarType dtype;
    readonly Dictionary<string, torch.Tensor> weights = []; // TransformerLens names, our [in, out] layout

    public TorchGpt2(Gpt2Model model, string device = "cpu", ScalarType dtype = ScalarType.Float32)
    {
        TorchRuntime.EnsureLoaded();
        config = model.Config;
        this.device = torch.device(device);
        this.dtype = dtype;
        foreach (var (name, p) in model.Parameters)
            weights[name] = torch.tensor(p.Data, [.. p.Shape.Select(d => (long)d)], ScalarType.Float32).to(dtype).to(this.device);
    }

    public Gpt2Config Config => config;

    torch.Tensor W(string name) => weights[name];

    torch.Tensor? Maybe(string name) => weights.TryGetValue(name, out var w) ? w : null;

    /// <summary>Logits [batch, pos, vocab] for equal-length token rows, with the named hooks copied to the host.</summary>
    public (HostTensor Logits, ActivationCache Cache) Run(int[][] tokens, IReadOnlyCollection<string>? cache = null)
    {
        if (tokens.Length == 0 || tokens.Any(t => t.Length != tokens[0].Length || t.Length == 0))
            throw new ArgumentException("tokens: one or more rows of the same, non-zero length.", nameof(tokens));
        if (tokens[0].Length > config.ContextLength)
            throw new ArgumentException($"tokens: {tokens[0].Length} positions; the context holds {config.ContextLength}.", nameof(tokens));
        var wanted = cache is null ? new HashSet<string>() : [.. cache];
        var all = wanted.Contains("*");
        var cached = new Dictionary<string, HostTensor>();
        torch.Tensor Hook(string name, torch.Tensor x)
        {
            if (all || wanted.Contains(name)) cached[name] = TorchRuntime.ToHost(x, name);
            return x;
        }

        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        int batch = tokens.Length, pos = tokens[0].Length, d = config.ModelWidth, heads = config.HeadCount, dHead = config.HeadWidth;
        var ids = torch.tensor(tokens.SelectMany(t => t).Select(i => (long)i).ToArray(), [batch, pos], ScalarType.Int64).to(device);
        var residual = Hook(Hooks.Embed, W("embed.W_E").index_select(0, ids.flatten()).view(batch, pos, d))           // [batch, pos, d]
            + Hook(Hooks.PosEmbed, W("pos_embed.W_pos")[..pos].unsqueeze(0).expand(batch, pos, d));
        // Key positions after the query are −∞ before the softmax (0 after it), as the engine's hook_attn_scores holds them.
        var future = torch.ones(pos, pos, ScalarType.Bool, device).triu(1);
        for (var l = 0; l < config.LayerCount; l++)
        {
            string B(string n) => $"blocks.{l}.{n}";
            residual = Hook(Hooks.ResidPre(l), residual);
            var x = Hook(Hooks.Ln1(l), Norm(residual, B("ln1.w"), B("ln1.b")));
            torch.Tensor Project(string w, string b) => (x.matmul(W(B($"attn.{w}"))) + W(B($"attn.{b}"))).view(batch, pos, heads, dHead);
            var q = Hook(Hooks.Q(l), Project("W_Q", "b_Q"));                                                                // [batch, pos, head, dHead]
            var k = Hook(Hooks.K(l), Project("W_K", "b_K"));
            var v = Hook(Hooks.V(l), Project("W_V", "b_V"));
            var scores = q.permute(0, 2, 1, 3).matmul(k.permute(0, 2, 3, 1)) / Math.Sqrt(dHead);                        // [batch, head, query, key]
            scores = Hook(Hooks.AttnScores(l), scores.masked_fill(future, double.NegativeInfinity));
            var pattern = Hook(Hooks.Pattern(l), scores.softmax(-1));
            var z = Hook(Hooks.Z(l), pattern.matmul(v.permute(0, 2, 1, 3)).permute(0, 2, 1, 3));                        // [batch, pos, head, dHead]
            var attention = Hook(Hooks.AttnOut(l), z.reshape(batch, pos, heads * dHead).matmul(W(B("attn.W_O"))) + W(B("attn.b_O")));
            residual = Hook(Hooks.ResidMid(l), residual + attention);
            x = Hook(Hooks.Ln2(l), Norm(residual, B("ln2.w"), B("ln2.b")));
            var pre = Hook(Hooks.MlpPre(l), x.matmul(W(B("mlp.W_in"))) + W(B("mlp.b_in")));                               // [batch, pos, dMlp]
            var post = Hook(Hooks.MlpPost(l), Gelu(pre));
            var mlp = Hook(Hooks.MlpOut(l), post.matmul(W(B("mlp.W_out"))) + W(B("mlp.b_out")));
            residual = Hook(Hooks.ResidPost(l), residual + mlp);
        }
        var final = Hook(Hooks.LnFinal, Norm(residual, "ln_final.w", "ln_final.b"));
        var logits = config.TiedEmbeddings ? final.matmul(W("embed.W_E").t()) : final.matmul(W("unembed.W_U"));         // [batch, pos, vocab]
        if (Maybe("unembed.b_U") is { } bias) logits += bias;
        Hook(Hooks.Logits, logits);
        return (cached.TryGetValue(Hooks.Logits, out var copied) ? copied : TorchRuntime.ToHost(logits, Hooks.Logits), new ActivationCache(cached));
    }

    torch.Tensor Norm(torch.Tensor x, string w, string b) =>
        config.UseLayerNorm ? nn.functional.layer_norm(x, [config.ModelWidth], W(w), W(b), config.LayerNormEpsilon) : x;

    torch.Tensor Gelu(torch.Tensor x) => config.Activation switch
    {
        Tensors.GeluForm.Tanh => nn.functional.gelu(x, TorchSharp.Modules.GELU.Approximate.tanh),
        _ => nn.functional.gelu(x),
    };

    public void Dispose()
    {
        foreach (var w in weights.Values) w.Dispose();
        weights.Clear();
    }
}
