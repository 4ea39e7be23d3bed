using Verification.Engine.Models;
using Verification.Engine.Tensors;

namespace Verification.Analysis;

/// <summary>The model's output at one position under an ablation, compared with a reference run.</summary>
public sealed record AblationEffect(string Condition, string Against, double NormalizedInnerProduct, double Cosine, double Top1Changed, double MeanKl)
{
    /// <summary>‖ablated − reference‖ / ‖reference‖, averaged.</summary>
    public double RelativeChange { get; init; }
}

public sealed record OffsetSweepPoint(int Offset, double RelativeChange, double MeanKl);

/// <summary>The ablation experiments of CLAIMS.md §2 (SPD PR #403; Olsson et al. 2022).</summary>
public static class Ablations
{
    /// <summary>Induction scores of every head on the protocol's repeated random tokens, under optional interventions.</summary>
    public static HeadScores InductionScores(Transformer model, InductionProtocol protocol, IReadOnlyList<Intervention>? interventions = null,
        IProgress<int>? progress = null)
    {
        if (2 * protocol.HalfLength + protocol.PrefixLength > model.Config.ContextLength)
            throw new ArgumentException($"The induction protocol needs {protocol.PrefixLength} + 2·{protocol.HalfLength} tokens; the model's context is {model.Config.ContextLength}.");
        // Reduced on the device: only per-head sums leave it. Interventions that depend on the batch (a mean ablation) get
        // the protocol's batches exactly; without them batches are sized by the memory budget (the scores are per sequence).
        using var detector = new DeviceInductionDetector(model.Config.LayerCount, protocol.PrefixLength);
        PatternPass.Run(model, [.. protocol.Prompts(model.Config.VocabularySize)], id => id.ToString(System.Globalization.CultureInfo.InvariantCulture),
            [detector], progress, interventions, fixedBatchSize: interventions is { Count: > 0 } ? protocol.BatchSize : null);
        return detector.Result();
    }

    /// <summary>
    /// K-composition: the induction scores with each head of <paramref name="sourceLayer"/> mean-ablated in turn
    /// (hook_z replaced by its mean over batch and positions), and without ablation.
    /// </summary>
    public static IReadOnlyList<(string Ablated, HeadScores Scores)> KComposition(Transformer model, int sourceLayer, InductionProtocol protocol,
        InterventionKind ablation = InterventionKind.Mean)
    {
        var results = new List<(string, HeadScores)> { ("none", InductionScores(model, protocol)) };
        for (var h = 0; h < model.Config.HeadCount; h++)
        {
            var intervention = new Intervention { Hook = Hooks.Z(sourceLayer), Kind = ablation, Heads = [h] };
            results.Add((HeadScores.Name(sourceLayer, h), InductionScores(model, protocol, [intervention])));
        }
        return results;
    }

    /// <summary>
    /// The previous-token redundancy test at a random position t of each sequence, on layer <paramref name="layer"/>'s
    /// attention output: (A) zero head h's output (hook_z) at t, (B) zero the values at t−1 (of <paramref name="valueHeads"/>,
    /// or the whole layer), and A+B. Each is compared with the clean run, and A+B also with A: for a previous-token
    /// head, B after A changes little.
    /// </summary>
    public static IReadOnlyList<AblationEffect> PreviousTokenRedundancy(Transformer model, int[][] sequences, int layer, int head,
        int[]? valueHeads = null, int seed = 0)
    {
        var random = new Random(seed);
        var positions = sequences.Select(s => random.Next(2, s.Length)).ToArray();
        var a = new Intervention { Hook = Hooks.Z(layer), Kind = InterventionKind.Zero, Heads = [head], PositionsPerItem = [.. positions.Select(t => new[] { t })] };
        var b = new Intervention { Hook = Hooks.V(layer), Kind = InterventionKind.Zero, Heads = valueHeads, PositionsPerItem = [.. positions.Select(t => new[] { t - 1 })] };
        var clean = Outputs(model, sequences, layer, positions, []);
        var onlyA = Outputs(model, sequences, layer, positions, [a]);
        var onlyB = Outputs(model, sequences, layer, positions, [b]);
        var both = Outputs(model, sequences, layer, positions, [a, b]);
        return
        [
            Compare("A: head output at t zeroed", "clean", clean, onlyA),
            Compare("B: values at t−1 zeroed", "clean", clean, onlyB),
            Compare("A+B", "clean", clean, both),
            Compare("A+B", "A", onlyA, both),
        ];
    }

    /// <summary>
    /// Offset sweep: the change in layer <paramref name="layer"/>'s attention output at t when the values at t−d are
    /// zeroed (of <paramref name="valueHeads"/>, or the whole layer), for d = 1..maxOffset; with <paramref name="applyA"/>,
    /// head <paramref name="head"/>'s output at t is zeroed in both runs, so the sweep measures what the other heads read.
    /// </summary>
    public static IReadOnlyList<OffsetSweepPoint> OffsetSweep(Transformer model, int[][] sequences, int layer, int head, int maxOffset,
        int[]? valueHeads = null, bool applyA = false, int seed = 0)
    {
        var random = new Random(seed);
        var positions = sequences.Select(s =>
            s.Length > maxOffset + 1 ? random.Next(maxOffset, s.Length) : throw new ArgumentException($"Sequences of {s.Length} tokens are too short for offsets up to {maxOffset}.")).ToArray();
        List<Intervention> baseInterventions = applyA
            ? [new Intervention { Hook = Hooks.Z(layer), Kind = InterventionKind.Zero, Heads = [head], PositionsPerItem = [.. positions.Select(t => new[] { t })] }]
            : [];
        var reference = Outputs(model, sequences, layer, positions, baseInterventions);
        var points = new List<OffsetSweepPoint>();
        for (var d = 1; d <= maxOffset; d++)
        {
            var offset = d;
            var zeroValues = new Intervention
            {
                Hook = Hooks.V(layer), Kind = InterventionKind.Zero, Heads = valueHeads, PositionsPerItem = [.. positions.Select(t => new[] { t - offset })],
            };
            var effect = Compare($"d={d}", "reference", reference, Outputs(model, sequences, layer, positions, [.. baseInterventions, zeroValues]));
            points.Add(new OffsetSweepPoint(d, effect.RelativeChange, effect.MeanKl));
        }
        return points;
    }

    /// <summary>Per sequence: the attention output of <paramref name="layer"/> at t [dModel] and the logits at t [vocab].</summary>
    sealed record Output(float[][] AttentionOut, float[][] Logits);

    static Output Outputs(Transformer model, int[][] sequences, int layer, int[] positions, List<Intervention> interventions)
    {
        var attention = new float[sequences.Length][];
        var logits = new float[sequences.Length][];
        var batch = 0;
        foreach (var group in sequences.Select((s, i) => (s, i)).GroupBy(x => x.s.Length))
        {
            var items = group.ToArray();
            var tokens = items.Select(x => x.s).ToArray();
            // Per-item interventions are re-indexed to this group's batch items.
            var local = interventions.Select(i => i.PositionsPerItem is null ? i : i with { PositionsPerItem = [.. items.Select(x => i.PositionsPerItem[x.i])] }).ToList();
            var run = model.Run(tokens, new RunOptions { Cache = [Hooks.AttnOut(layer)], Interventions = local });
            var attnOut = run.Cache[Hooks.AttnOut(layer)];
            int length = tokens[0].Length, width = attnOut.Shape[2], vocab = run.Logits.Shape[2];
            for (var b = 0; b < items.Length; b++)
            {
                var t = positions[items[b].i];
                attention[items[b].i] = attnOut.Data.AsSpan((b * length + t) * width, width).ToArray();
                logits[items[b].i] = run.Logits.Data.AsSpan((b * length + t) * vocab, vocab).ToArray();
            }
            batch++;
        }
        return new Output(attention, logits);
    }

    static AblationEffect Compare(string condition, string against, Output reference, Output ablated)
    {
        var n = reference.AttentionOut.Length;
        double nip = 0, cosine = 0, changed = 0, kl = 0, relative = 0;
        for (var i = 0; i < n; i++)
        {
            var r = reference.AttentionOut[i];
            var a = ablated.AttentionOut[i];
            double dot = 0, rr = 0, aa = 0, diff = 0;
            for (var j = 0; j < r.Length; j++)
            {
                dot += (double)r[j] * a[j];
                rr += (double)r[j] * r[j];
                aa += (double)a[j] * a[j];
                diff += ((double)r[j] - a[j]) * (r[j] - a[j]);
            }
            nip += rr > 0 ? dot / rr : 1;
            cosine += rr > 0 && aa > 0 ? dot / Math.Sqrt(rr * aa) : rr == aa ? 1 : 0;
            relative += rr > 0 ? Math.Sqrt(diff / rr) : 0;
            changed += System.Numerics.Tensors.TensorPrimitives.IndexOfMax(reference.Logits[i]) != System.Numerics.Tensors.TensorPrimitives.IndexOfMax(ablated.Logits[i]) ? 1 : 0;
            kl += KlDivergence(reference.Logits[i], ablated.Logits[i]);
        }
        return new AblationEffect(condition, against, nip / n, cosine / n, changed / n, kl / n) { RelativeChange = relative / n };
    }

    /// <summary>KL(softmax(p) ‖ softmax(q)) of two logit vectors, in nats.</summary>
    public static double KlDivergence(float[] p, float[] q)
    {
        var lp = LogSoftmax(p);
        var lq = LogSoftmax(q);
        double kl = 0;
        for (var i = 0; i < p.Length; i++) kl += Math.Exp(lp[i]) * (lp[i] - lq[i]);
        return Math.Max(0, kl);
    }

    static double[] LogSoftmax(float[] x)
    {
        var max = x.Max();
        var log = Math.Log(x.Sum(v => Math.Exp(v - max))) + max;
        return [.. x.Select(v => v - log)];
    }

    /// <summary>Mean next-token loss at each position over the sequences: loss[p] = −log P(token p+1 | ≤ p).</summary>
    public static double[] PositionLosses(Transformer model, IEnumerable<int[]> sequences, int batchSize = 32)
    {
        double[]? sums = null;
        var count = 0;
        foreach (var batch in AttentionPatterns.Batches(sequences, batchSize))
        {
            var logits = model.Run(batch).Logits; // [batch, pos, vocab]
            int length = batch[0].Length, vocab = logits.Shape[2];
            sums ??= new double[length - 1];
            for (var b = 0; b < batch.Length; b++)
                for (var p = 0; p < length - 1; p++)
                    sums[p] -= Engine.Training.Losses.LogSoftmaxAt(logits.Data.AsSpan((b * length + p) * vocab, vocab), batch[b][p + 1]);
            count += batch.Length;
        }
        if (sums is null) throw new ArgumentException("No sequences given.");
        return [.. sums.Select(s => s / count)];
    }

    /// <summary>Olsson et al.'s in-context-learning score: loss at a late token minus loss at an early token.</summary>
    public static double InContextLearningScore(double[] positionLosses, int early, int late) =>
        late < positionLosses.Length && early >= 0
            ? positionLosses[late] - positionLosses[early]
            : throw new ArgumentException($"Positions {early} and {late} must be inside the {positionLosses.Length} loss positions.");

    /// <summary>
    /// A sentence embedding's sensitivity to each head: the mean over tokens of the final hidden state (the mean pooling
    /// of sentence-transformers), with one head's hook_z replaced by its mean over every position of every sentence.
    /// Returns 1 − cos(pooled, pooled with the head ablated) per sentence and head: [sentence, layer·heads + head]. The
    /// sentences run as one batch padded with <paramref name="padding"/> and masked, so padding changes nothing.
    /// </summary>
    public static double[,] PooledEmbeddingChange(Transformer model, IReadOnlyList<int[]> sentences, int padding)
    {
        int layers = model.Config.LayerCount, heads = model.Config.HeadCount, dHead = model.Config.HeadWidth;
        var length = sentences.Max(s => s.Length);
        var tokens = sentences.Select(s => s.Concat(Enumerable.Repeat(padding, length - s.Length)).ToArray()).ToArray(); // [batch][pos]
        var mask = sentences.Select(s => Enumerable.Range(0, length).Select(p => p < s.Length).ToArray()).ToArray();
        var zHooks = Enumerable.Range(0, layers).Select(Hooks.Z).ToArray();
        var run = model.Run(tokens, new RunOptions { Cache = zHooks, AttentionMask = mask });
        // The mean of hook_z [1, 1, head, dHead] per layer, over the real positions of all sentences.
        var means = zHooks.Select(_ => new Tensor(1, 1, heads, dHead)).ToArray();
        var positions = sentences.Sum(s => s.Length);
        for (var l = 0; l < layers; l++)
        {
            var z = run.Cache[zHooks[l]].Data; // [batch, pos, head, dHead]
            for (var b = 0; b < sentences.Count; b++)
                for (var p = 0; p < sentences[b].Length; p++)
                    for (var i = 0; i < heads * dHead; i++) means[l].Data[i] += z[(b * length + p) * heads * dHead + i] / positions;
        }
        var reference = Pooled(run.Logits, sentences);
        var change = new double[sentences.Count, layers * heads];
        for (var l = 0; l < layers; l++)
            for (var h = 0; h < heads; h++)
            {
                var ablation = new RunOptions { AttentionMask = mask, Interventions = [Intervention.Mean(zHooks[l], [h], mean: means[l])] };
                var ablated = Pooled(model.Run(tokens, ablation).Logits, sentences);
                for (var b = 0; b < sentences.Count; b++) change[b, l * heads + h] = 1 - Cosine(reference[b], ablated[b]);
            }
        return change;
    }

    /// <summary>Each sentence's mean over its real positions of hidden states [batch, pos, width].</summary>
    static double[][] Pooled(Tensor hidden, IReadOnlyList<int[]> sentences)
    {
        int pos = hidden.Shape[1], width = hidden.Shape[2];
        var pooled = new double[sentences.Count][];
        for (var b = 0; b < sentences.Count; b++)
        {
            pooled[b] = new double[width];
            for (var p = 0; p < sentences[b].Length; p++)
                for (var i = 0; i < width; i++) pooled[b][i] += hidden.Data[(b * pos + p) * width + i] / sentences[b].Length;
        }
        return pooled;
    }

    static double Cosine(double[] a, double[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (var i = 0; i < a.Length; i++)
        {
            dot += a[i] * b[i];
            na += a[i] * a[i];
            nb += b[i] * b[i];
        }
        return dot / Math.Sqrt(na * nb);
    }
}
