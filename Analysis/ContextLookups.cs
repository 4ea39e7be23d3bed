using Verification.Engine.Models;
using Verification.Engine.Tensors;

namespace Verification.Analysis;

/// <summary>An MLP neuron whose output weight points at one token's unembedding.</summary>
public sealed record NextTokenNeuron(int Layer, int Neuron, int Token, double Congruence);

/// <summary>A neuron's activation at the last position of a prompt.</summary>
public sealed record Activation(int[] Tokens, float Value);

/// <summary>One head's part in a neuron's activation at one position.</summary>
public sealed record HeadContribution(int Layer, int Head, double Projection, bool Flagged, double DoublingEffect);

/// <summary>
/// Context look-ups (Neo, Cohen, Barez 2024): next-token neurons, their max-activating examples with trimmed left
/// contexts, and the attention heads responsible for their activation.
/// </summary>
public static class ContextLookups
{
    /// <summary>W_out of layer L: [dMlp, dModel].</summary>
    static Tensor OutputWeights(Transformer model, int layer) => model.Parameter($"blocks.{layer}.mlp.W_out");

    /// <summary>W_in of layer L: [dModel, dMlp] (the input of the activation that hook_post reports).</summary>
    static Tensor InputWeights(Transformer model, int layer) =>
        model.Parameters.TryGetValue($"blocks.{layer}.mlp.W_gate", out var gate) ? gate : model.Parameter($"blocks.{layer}.mlp.W_in");

    /// <summary>
    /// Congruence of every neuron of a layer with every candidate token: W_out[L, n] · W_U[:, t]; each neuron's best token.
    /// <paramref name="tokens"/> restricts the candidates (the source's filter: drop tokens that are not words, or outside
    /// a corpus); all tokens by default.
    /// </summary>
    public static IReadOnlyList<NextTokenNeuron> Congruence(Transformer model, int layer, IReadOnlyList<int>? tokens = null)
    {
        var wOut = OutputWeights(model, layer);            // [dMlp, dModel]
        var wU = Circuits.Unembedding(model);                // [dModel, vocab]
        var candidates = tokens ?? [.. Enumerable.Range(0, wU.Shape[1])];
        var product = Engine.Torch.HostMath.MatMul(wOut, wU);                 // [dMlp, vocab]
        var vocab = wU.Shape[1];
        var neurons = new List<NextTokenNeuron>();
        for (var n = 0; n < wOut.Shape[0]; n++)
        {
            var bestToken = candidates[0];
            var best = double.NegativeInfinity;
            foreach (var t in candidates)
            {
                var c = product.Data[n * vocab + t];
                if (c > best) { best = c; bestToken = t; }
            }
            neurons.Add(new NextTokenNeuron(layer, n, bestToken, best));
        }
        return neurons;
    }

    /// <summary>The top <paramref name="perLayer"/> neurons of every layer by congruence, at least <paramref name="minimum"/>.</summary>
    public static IReadOnlyList<NextTokenNeuron> NextTokenNeurons(Transformer model, int perLayer = 20, IReadOnlyList<int>? tokens = null, double minimum = double.NegativeInfinity) =>
        [.. Enumerable.Range(0, model.Config.LayerCount)
            .SelectMany(l => Congruence(model, l, tokens).OrderByDescending(n => n.Congruence).ThenBy(n => n.Neuron).Take(perLayer))
            .Where(n => n.Congruence >= minimum)];

    /// <summary>An intervention multiplying one neuron's activation (hook_post) at one position by a factor (0 removes it).</summary>
    public static Intervention ScaleNeuron(int layer, int neuron, int position, float factor) =>
        Intervention.Custom(Hooks.MlpPost(layer), post =>
        {
            var scaled = post.Clone();
            int batch = post.Shape[0], pos = post.Shape[1], width = post.Shape[2];
            for (var b = 0; b < batch; b++) scaled.Data[(b * pos + position) * width + neuron] *= factor;
            return scaled;
        });

    /// <summary>The neuron's activation (hook_post) at every position of a prompt.</summary>
    public static float[] Activations(Transformer model, int[] tokens, int layer, int neuron, IReadOnlyList<Intervention>? interventions = null)
    {
        var post = model.Run(tokens, new RunOptions { Cache = [Hooks.MlpPost(layer)], Interventions = interventions }).Cache[Hooks.MlpPost(layer)];
        var width = post.Shape[2];
        return [.. Enumerable.Range(0, tokens.Length).Select(p => post.Data[p * width + neuron])];
    }

    /// <summary>
    /// The <paramref name="count"/> prompts (prefixes of the corpus's sequences, ending where the neuron fires) with the
    /// highest activation.
    /// </summary>
    public static IReadOnlyList<Activation> MaxActivating(Transformer model, IEnumerable<int[]> corpus, int layer, int neuron, int count = 10)
    {
        var found = new List<Activation>();
        foreach (var sequence in corpus)
        {
            var acts = Activations(model, sequence, layer, neuron);
            for (var p = 0; p < sequence.Length; p++) found.Add(new Activation(sequence[..(p + 1)], acts[p]));
        }
        return [.. found.OrderByDescending(a => a.Value).ThenBy(a => a.Tokens.Length).Take(count)];
    }

    /// <summary>
    /// The shortest left context (a suffix of the prompt, optionally after a kept first token such as BOS) whose activation
    /// at the last position stays above <paramref name="keep"/> × the original, found by binary search as the source did.
    /// </summary>
    public static Activation TrimLeftContext(Transformer model, Activation example, int layer, int neuron, double keep = 0.8, int? firstToken = null)
    {
        var tokens = example.Tokens;
        var target = keep * example.Value;
        float ActivationFrom(int start)
        {
            int[] trimmed = firstToken is { } first ? [first, .. tokens[start..]] : tokens[start..];
            return Activations(model, trimmed, layer, neuron)[^1];
        }
        // The largest start that still keeps the activation (start 0 is the whole prompt).
        int lo = firstToken is null ? 0 : 1, hi = tokens.Length - 1;
        while (lo < hi)
        {
            var mid = (lo + hi + 1) / 2;
            if (ActivationFrom(mid) >= target) lo = mid;
            else hi = mid - 1;
        }
        int[] result = firstToken is { } f && lo > 0 ? [f, .. tokens[lo..]] : tokens[lo..];
        return new Activation(result, Activations(model, result, layer, neuron)[^1]);
    }

    /// <summary>
    /// Responsible heads for a neuron at the last position of a prompt: each head of layers ≤ L, its output there
    /// (hook_result) projected on the neuron's input weight W_in[L][:, n]; flagged above mean + 2σ over heads; and the
    /// change in the neuron's activation when that head's output is doubled.
    /// </summary>
    public static IReadOnlyList<HeadContribution> ResponsibleHeads(Transformer model, int[] tokens, int layer, int neuron)
    {
        var c = model.Config;
        var position = tokens.Length - 1;
        var hooks = Enumerable.Range(0, layer + 1).Select(Hooks.Result).ToArray();
        var cache = model.Run(tokens, new RunOptions { Cache = hooks }).Cache;
        var wIn = InputWeights(model, layer);          // [dModel, dMlp]
        var dMlp = wIn.Shape[1];
        var projections = new List<(int L, int H, double P)>();
        for (var l = 0; l <= layer; l++)
        {
            var result = cache[Hooks.Result(l)];      // [batch, pos, head, dModel]
            var d = result.Shape[3];
            for (var h = 0; h < c.HeadCount; h++)
            {
                double dot = 0;
                for (var i = 0; i < d; i++) dot += result.Data[((position * c.HeadCount) + h) * d + i] * wIn.Data[i * dMlp + neuron];
                projections.Add((l, h, dot));
            }
        }
        var mean = projections.Average(p => p.P);
        var std = Math.Sqrt(projections.Average(p => (p.P - mean) * (p.P - mean)));
        var baseline = Activations(model, tokens, layer, neuron)[position];
        return [.. projections.Select(p =>
        {
            var doubled = Activations(model, tokens, layer, neuron,
                [Intervention.Scale(Hooks.Z(p.L), 2f, heads: [p.H], positions: [position])])[position];
            return new HeadContribution(p.L, p.H, p.P, p.P > mean + 2 * std, doubled - baseline);
        })];
    }

    /// <summary>
    /// How well an explanation (a rule over a prompt's tokens) predicts where the neuron is active: (TPR + TNR) / 2 over
    /// prompts where it is active and prompts where it is not. 0.5 is chance.
    /// </summary>
    public static double ExplanationScore(Func<int[], bool> rule, IReadOnlyCollection<int[]> active, IReadOnlyCollection<int[]> inactive)
    {
        if (active.Count == 0 || inactive.Count == 0) throw new ArgumentException("The explanation score needs active and inactive prompts.");
        var tpr = active.Count(rule) / (double)active.Count;
        var tnr = inactive.Count(p => !rule(p)) / (double)inactive.Count;
        return (tpr + tnr) / 2;
    }
}
