using Verification.Engine;
using Verification.Engine.Models;
using Verification.Engine.Tensors;
using Verification.Engine.Tokenizers;

namespace Verification.Analysis;

/// <summary>"Key feature anywhere before, query feature here ⇒ output feature": its scores and rule score exp(attn)·value.</summary>
public sealed record SkipGramRule(int Query, int Key, double AttentionScore, double ValueScore)
{
    public double Score => Math.Exp(AttentionScore) * ValueScore;
}

/// <summary>A position of a corpus window and the output feature's activation there.</summary>
public sealed record Exemplar(int Window, int Position, float Activation);

/// <summary>The source's distractor search for one feature: its best rule, and the first negative-value key for that query.</summary>
public sealed record DistractorRule(SkipGramRule Positive, int PositiveRank, SkipGramRule? Distractor, int DistractorRank)
{
    /// <summary>An absence rule: the distractor wins the query's attention over the positive key.</summary>
    public bool OutranksPositive => Distractor is not null && DistractorRank < PositiveRank;
}

/// <summary>
/// A distractor inserted before the query: the feature's mean activation before, with the distractor, and with a control
/// token in the same place; how many of the cases fell to half or less.
/// </summary>
public sealed record DistractorEffect(int Cases, double MeanBefore, double MeanWithDistractor, double MeanWithControl, int SwitchedOff, int SwitchedOffByControl);

/// <summary>One output feature's rules (best first), their validation scores at each k, and its distractor search.</summary>
public sealed record FeatureRules(int Feature, int ActiveWindows, IReadOnlyList<SkipGramRule> Rules, IReadOnlyList<RuleEvaluation> Validation,
    DistractorRule Distractor, ExemplarSplit Exemplars);

public sealed record ExemplarSplit(IReadOnlyList<Exemplar> Train, IReadOnlyList<Exemplar> Validation, IReadOnlyList<Exemplar> Test);

/// <summary>Precision, recall, F1 and Spearman correlation of the top <see cref="K"/> rules on a set of exemplars.</summary>
public sealed record RuleEvaluation(int K, double Precision, double Recall, double F1, double Spearman);

/// <summary>The input features rules are written in: their directions in the residual stream and where they are active.</summary>
public interface IInputFeatures
{
    int Count { get; }

    string Name(int feature);

    /// <summary>[features, dModel]: each feature's direction in the head's input.</summary>
    Tensor Directions { get; }

    /// <summary>For each position of a window, the features active there with their activations.</summary>
    IReadOnlyList<(int Feature, float Activation)>[] Active(int[] tokens);
}

/// <summary>Token identity as features (where no input SAE exists): feature k is token k, direction W_E[k], activation 1.</summary>
public sealed class TokenFeatures(Transformer model, ITokenizer tokenizer) : IInputFeatures
{
    public int Count => model.Config.VocabularySize;
    public string Name(int feature) => tokenizer.TokenText(feature);
    public Tensor Directions => model.Parameter("embed.W_E");
    public IReadOnlyList<(int, float)>[] Active(int[] tokens) => [.. tokens.Select(t => (IReadOnlyList<(int, float)>)[(t, 1f)])];
}

/// <summary>A residual-stream SAE at hook_resid_pre of a layer as features: directions W_dec rows, activations f(x).</summary>
public sealed class ResidualSaeFeatures(Transformer model, SparseAutoencoder sae, int layer) : IInputFeatures
{
    readonly int width = sae.Config.InputWidth == model.Config.ModelWidth ? sae.Config.InputWidth
        : throw new ArgumentException($"The residual SAE reads width {sae.Config.InputWidth} but the model's residual stream has width {model.Config.ModelWidth} ({sae}).");

    public int Count => sae.Config.Latents;
    public string Name(int feature) => $"R{feature}"; // latent of the residual SAE
    public Tensor Directions => sae.Decoder;

    public IReadOnlyList<(int, float)>[] Active(int[] tokens)
    {
        var resid = model.Run(tokens, RunOptions.Caching(Hooks.ResidPre(layer))).Cache[Hooks.ResidPre(layer)];
        var f = sae.Encode(resid.View(tokens.Length, width)); // [pos, latents]
        var l = sae.Config.Latents;
        return [.. Enumerable.Range(0, tokens.Length).Select(p =>
            (IReadOnlyList<(int, float)>)[.. Enumerable.Range(0, l).Where(j => f.Data[p * l + j] > 0).Select(j => (j, f.Data[p * l + j]))])];
    }
}

/// <summary>
/// Skip-gram rules of an attention-output feature (princeton-nlp/AttentionRules, method "magnitude"), with the source's
/// protocol. The output SAE is trained on one head's hook_z, so for an input feature direction d:
/// value_score(k) = (d_k·W_V,h)·W_enc[:, f], keeping the top 100 keys; attn_score(k, q) = (d_k·W_K,h)·(d_q·W_Q,h), keeping
/// the top 100 queries per key; rule score exp(attn)·value; prediction at p = max over matching rules of
/// (a_q·a_k·attn)·(a_k·value), else 0. Biases and the 1/√dHead scale are left out, as in the source.
/// </summary>
public static class SkipGramRules
{
    public static readonly int[] TopKs = [4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];

    /// <summary>Per input feature: its direction through the head's query, key and value maps.</summary>
    public sealed record HeadCircuits(double[,] Queries, double[,] Keys, double[,] Values);

    /// <summary>d·W_Q,h, d·W_K,h and d·W_V,h [features, dHead] for every input feature direction d.</summary>
    public static HeadCircuits Circuits(Transformer model, int layer, int head, IInputFeatures inputs)
    {
        var directions = inputs.Directions; // [features, dModel]
        if (directions.Rank != 2 || directions.Shape[1] != model.Config.ModelWidth)
            throw new ArgumentException($"input feature directions must be [features, {model.Config.ModelWidth}]; got {directions.ShapeString}.");
        double[,] Through(double[,] w)
        {
            int k = directions.Shape[0], d = directions.Shape[1], width = w.GetLength(1);
            var result = new double[k, width];
            for (var i = 0; i < k; i++)
                for (var j = 0; j < width; j++)
                {
                    double sum = 0;
                    for (var m = 0; m < d; m++) sum += directions.Data[i * d + m] * w[m, j];
                    result[i, j] = sum;
                }
            return result;
        }
        return new HeadCircuits(Through(Analysis.Circuits.HeadColumns(model, "W_Q", layer, head)),
            Through(Analysis.Circuits.HeadColumns(model, "W_K", layer, head)), Through(Analysis.Circuits.HeadColumns(model, "W_V", layer, head)));
    }

    /// <summary>One head's output hook_z[:, :, head] for every position of the windows: [windows·length, dHead], window-major.</summary>
    public static Tensor HeadOutputs(Transformer model, int layer, int head, IReadOnlyList<int[]> windows, int batchSize = 64,
        IProgress<WorkProgress>? progress = null)
    {
        if ((uint)head >= (uint)model.Config.HeadCount) throw new ArgumentOutOfRangeException(nameof(head), $"head {head} does not exist: the model has {model.Config.HeadCount} heads.");
        int dHead = model.Config.HeadWidth, heads = model.Config.HeadCount;
        // hook_z is [batch, pos, head, dHead]: take one head's slice of each position.
        return Gather(model, Hooks.Z(layer), dHead, windows, batchSize, progress, "head outputs",
            (cached, row, destination) => cached.Data.AsSpan((row * heads + head) * dHead, dHead).CopyTo(destination));
    }

    /// <summary>The residual stream entering a layer, hook_resid_pre, at every position: [windows·length, dModel], window-major.</summary>
    public static Tensor ResidualStream(Transformer model, int layer, IReadOnlyList<int[]> windows, int batchSize = 64, IProgress<WorkProgress>? progress = null)
    {
        var d = model.Config.ModelWidth;
        return Gather(model, Hooks.ResidPre(layer), d, windows, batchSize, progress, "residual stream",
            (cached, row, destination) => cached.Data.AsSpan(row * d, d).CopyTo(destination));
    }

    /// <summary>Runs the windows in batches and copies one row of width <paramref name="width"/> per position out of a hook.</summary>
    static Tensor Gather(Transformer model, string hook, int width, IReadOnlyList<int[]> windows, int batchSize, IProgress<WorkProgress>? progress, string what,
        Action<Tensor, int, Span<float>> copyRow)
    {
        if (windows.Count == 0) throw new ArgumentException("no windows to run.", nameof(windows));
        var length = windows[0].Length;
        if (windows.Any(w => w.Length != length)) throw new ArgumentException("windows must all have the same length.", nameof(windows));
        var rows = new Tensor(windows.Count * length, width);
        for (var start = 0; start < windows.Count; start += batchSize)
        {
            var batch = windows.Skip(start).Take(batchSize).ToArray();
            var cached = model.Run(batch, RunOptions.Caching(hook)).Cache[hook]; // [batch, pos, …]
            for (var b = 0; b < batch.Length; b++)
                for (var p = 0; p < length; p++)
                    copyRow(cached, b * length + p, rows.Data.AsSpan(((start + b) * length + p) * width, width));
            progress?.Report(new WorkProgress($"{what}: windows", Math.Min(start + batchSize, windows.Count), windows.Count));
        }
        return rows;
    }

    /// <summary>One latent's activation at every position, per window: [windows][length], from latents [windows·length, latents].</summary>
    public static float[][] LatentByWindow(Tensor latents, int windows, int length, int latent)
    {
        var count = latents.Shape[1];
        return [.. Enumerable.Range(0, windows).Select(w => Enumerable.Range(0, length).Select(p => latents.Data[(w * length + p) * count + latent]).ToArray())];
    }

    public static double[] ValueScores(HeadCircuits circuits, SparseAutoencoder output, int feature)
    {
        int k = circuits.Values.GetLength(0), d = circuits.Values.GetLength(1), latents = output.Config.Latents;
        if (output.Config.InputWidth != d)
            throw new ArgumentException($"the output SAE reads width {output.Config.InputWidth} but the head's hook_z has width {d}: train it on hook_z of this head.");
        if ((uint)feature >= (uint)latents) throw new ArgumentOutOfRangeException(nameof(feature), $"feature {feature} does not exist: the SAE has {latents} latents.");
        return [.. Enumerable.Range(0, k).Select(i =>
        {
            double sum = 0;
            for (var m = 0; m < d; m++) sum += circuits.Values[i, m] * output.Encoder.Data[m * latents + feature];
            return sum;
        })];
    }

    public static double AttentionScore(HeadCircuits circuits, int key, int query)
    {
        double sum = 0;
        for (var m = 0; m < circuits.Keys.GetLength(1); m++) sum += circuits.Keys[key, m] * circuits.Queries[query, m];
        return sum;
    }

    /// <summary>Every candidate rule for an output feature, best first.</summary>
    public static IReadOnlyList<SkipGramRule> Extract(HeadCircuits circuits, SparseAutoencoder output, int feature, int topKeys = 100, int topQueries = 100)
    {
        var values = ValueScores(circuits, output, feature);
        var count = values.Length;
        var keys = Enumerable.Range(0, count).OrderByDescending(k => values[k]).ThenBy(k => k).Take(topKeys);
        var rules = new List<SkipGramRule>();
        foreach (var k in keys)
            foreach (var q in Enumerable.Range(0, count).OrderByDescending(q => AttentionScore(circuits, k, q)).ThenBy(q => q).Take(topQueries))
                rules.Add(new SkipGramRule(q, k, AttentionScore(circuits, k, q), values[k]));
        return [.. rules.OrderByDescending(r => r.Score).ThenBy(r => r.Query).ThenBy(r => r.Key)];
    }

    /// <summary>
    /// The distractor ("absence") rule, as the source finds it: k = the key with the highest value score, q = the query
    /// with the highest attention score for k, and then, among keys ranked by attention score for q, the first whose value
    /// score is negative. When that key outranks k, its presence draws q's attention away from k and switches the feature off.
    /// </summary>
    public static DistractorRule Distractor(HeadCircuits circuits, SparseAutoencoder output, int feature)
    {
        var values = ValueScores(circuits, output, feature);
        var count = values.Length;
        var key = Enumerable.Range(0, count).MaxBy(k => values[k]);
        var query = Enumerable.Range(0, count).MaxBy(q => AttentionScore(circuits, key, q));
        var byAttention = Enumerable.Range(0, count).OrderByDescending(k => AttentionScore(circuits, k, query)).ThenBy(k => k).ToList();
        var positive = new SkipGramRule(query, key, AttentionScore(circuits, key, query), values[key]);
        var rank = byAttention.IndexOf(key);
        var negativeRank = byAttention.FindIndex(k => values[k] < 0);
        if (negativeRank < 0) return new DistractorRule(positive, rank, null, -1);
        var distractor = byAttention[negativeRank];
        return new DistractorRule(positive, rank, new SkipGramRule(query, distractor, AttentionScore(circuits, distractor, query), values[distractor]), negativeRank);
    }

    /// <summary>
    /// The distractor's effect, measured (token features only): at every position where the feature fires on the query
    /// token with the key token before it and the distractor absent, the token at a random earlier position (neither key
    /// nor query) is replaced by the distractor, and, as a control, by <paramref name="controlToken"/>; the feature is
    /// read again at the same position.
    /// </summary>
    public static DistractorEffect MeasureDistractor(Transformer model, int layer, int head, SparseAutoencoder output, int feature,
        int queryToken, int keyToken, int distractorToken, int controlToken, IReadOnlyList<int[]> windows, int maxCases = 200, int seed = 0)
    {
        var random = new Random(seed);
        // Candidates by tokens alone, so only their windows need a run.
        var candidates = new List<(int Window, int Position, int Replaced)>();
        for (var w = 0; w < windows.Count && candidates.Count < 4 * maxCases; w++)
            for (var p = 1; p < windows[w].Length; p++)
            {
                var prefix = windows[w].AsSpan(0, p);
                if (windows[w][p] != queryToken || !prefix.Contains(keyToken) || prefix.Contains(distractorToken)) continue;
                var free = Enumerable.Range(0, p).Where(j => windows[w][j] != keyToken && windows[w][j] != queryToken).ToList();
                if (free.Count > 0) candidates.Add((w, p, free[random.Next(free.Count)]));
            }
        var candidateWindows = candidates.Select(c => c.Window).Distinct().ToList();
        var before = candidateWindows.Count == 0 ? [] : LatentAt(model, layer, head, output, feature, [.. candidateWindows.Select(w => windows[w])]);
        var row = candidateWindows.Select((w, i) => (w, i)).ToDictionary(x => x.w, x => x.i);
        var cases = candidates.Where(c => before[row[c.Window]][c.Position] > 0).Take(maxCases).ToList();
        float[] After(int token)
        {
            var edited = cases.Select(c => { var t = (int[])windows[c.Window].Clone(); t[c.Replaced] = token; return t; }).ToList();
            var latents = edited.Count == 0 ? [] : LatentAt(model, layer, head, output, feature, edited);
            return [.. cases.Select((c, i) => latents[i][c.Position])];
        }
        var original = cases.Select(c => before[row[c.Window]][c.Position]).ToArray();
        var distracted = After(distractorToken);
        var control = After(controlToken);
        int SwitchedOff(float[] after) => original.Where((x, i) => after[i] <= 0.5f * x).Count();
        return new DistractorEffect(cases.Count, original.DefaultIfEmpty().Average(x => (double)x), distracted.DefaultIfEmpty().Average(x => (double)x),
            control.DefaultIfEmpty().Average(x => (double)x), SwitchedOff(distracted), SwitchedOff(control));
    }

    static float[][] LatentAt(Transformer model, int layer, int head, SparseAutoencoder output, int feature, IReadOnlyList<int[]> windows) =>
        LatentByWindow(output.Encode(HeadOutputs(model, layer, head, windows)), windows.Count, windows[0].Length, feature);

    /// <summary>The rules' prediction at a position: max over matching rules of (a_q·a_k·attn)·(a_k·value), else 0.</summary>
    public static double Predict(IReadOnlyList<SkipGramRule> rules, IReadOnlyList<(int Feature, float Activation)>[] active, int position)
    {
        var queries = active[position].Where(a => a.Activation > 0).ToList();
        if (queries.Count == 0) return 0;
        // Every key feature active at or before the position, with each activation it had.
        var keys = new Dictionary<int, List<float>>();
        for (var j = 0; j <= position; j++)
            foreach (var (feature, activation) in active[j])
                if (activation > 0)
                {
                    if (!keys.TryGetValue(feature, out var list)) keys[feature] = list = [];
                    list.Add(activation);
                }
        var best = double.NegativeInfinity;
        foreach (var rule in rules)
        {
            if (!keys.TryGetValue(rule.Key, out var keyActivations)) continue;
            foreach (var (feature, aq) in queries)
                if (feature == rule.Query)
                    foreach (var ak in keyActivations)
                        best = Math.Max(best, aq * ak * rule.AttentionScore * (ak * rule.ValueScore));
        }
        return double.IsNegativeInfinity(best) ? 0 : best;
    }

    /// <summary>
    /// An output feature described by its rules: what they predict on the validation exemplars at each k, and its
    /// distractor. <paramref name="activeInWindow"/> gives the input features active in a window (callers cache it: the
    /// same windows serve every feature).
    /// </summary>
    public static FeatureRules Describe(HeadCircuits circuits, SparseAutoencoder output, int feature, IReadOnlyList<float[]> activations,
        Func<int, IReadOnlyList<(int Feature, float Activation)>[]> activeInWindow, int seed = 0)
    {
        var rules = Extract(circuits, output, feature);
        var split = Exemplars(activations, seed: seed);
        var evaluations = TopKs.Where(k => k <= rules.Count).Select(k => Evaluate(rules, k, split.Validation, activeInWindow)).ToList();
        return new FeatureRules(feature, activations.Count(a => a.Any(x => x > 0)), rules, evaluations, Distractor(circuits, output, feature), split);
    }

    /// <summary>
    /// The source's exemplars (get_positive_and_negative_examples): per window, the feature's maximum and where it is;
    /// positives are the <paramref name="positives"/> windows with the highest positive maximum, evaluated where it is;
    /// negatives are windows where the feature never fires, evaluated at a random position in [1, length); each kind is
    /// split in thirds into train, validation and test.
    /// </summary>
    public static ExemplarSplit Exemplars(IReadOnlyList<float[]> activations, int positives = 150, int negatives = 150, int seed = 0)
    {
        var random = new Random(seed);
        var maxima = activations.Select((acts, w) =>
        {
            var p = 0;
            for (var i = 1; i < acts.Length; i++) if (acts[i] > acts[p]) p = i;
            return new Exemplar(w, p, acts[p]);
        }).ToList();
        var top = maxima.Where(e => e.Activation > 0).OrderByDescending(e => e.Activation).ThenBy(e => e.Window).Take(positives)
            .OrderBy(_ => random.Next()).ToList();
        var silent = maxima.Where(e => e.Activation <= 0).OrderBy(_ => random.Next()).Take(negatives)
            .Select(e => new Exemplar(e.Window, random.Next(1, activations[e.Window].Length), 0f)).ToList();
        IReadOnlyList<Exemplar> Part(int i) =>
        [
            .. top.Skip(i * top.Count / 3).Take((i + 1) * top.Count / 3 - i * top.Count / 3),
            .. silent.Skip(i * silent.Count / 3).Take((i + 1) * silent.Count / 3 - i * silent.Count / 3),
        ];
        return new ExemplarSplit(Part(0), Part(1), Part(2));
    }

    /// <summary>
    /// Precision (1 when nothing is predicted), recall (1 when nothing is active), F1 and Spearman correlation of the top
    /// <paramref name="k"/> rules on the exemplars.
    /// </summary>
    public static RuleEvaluation Evaluate(IReadOnlyList<SkipGramRule> rules, int k, IReadOnlyList<Exemplar> exemplars,
        Func<int, IReadOnlyList<(int Feature, float Activation)>[]> activeInWindow)
    {
        var top = rules.Take(k).ToList();
        var predictions = exemplars.Select(e => Predict(top, activeInWindow(e.Window), e.Position)).ToArray();
        int tp = 0, fp = 0, fn = 0;
        for (var i = 0; i < exemplars.Count; i++)
        {
            var predicted = predictions[i] > 0;
            var actual = exemplars[i].Activation > 0;
            if (predicted && actual) tp++;
            else if (predicted) fp++;
            else if (actual) fn++;
        }
        var precision = tp + fp == 0 ? 1 : (double)tp / (tp + fp);
        var recall = tp + fn == 0 ? 1 : (double)tp / (tp + fn);
        var f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
        return new RuleEvaluation(k, precision, recall, f1, Spearman(predictions, [.. exemplars.Select(e => (double)e.Activation)]));
    }

    /// <summary>Spearman's rank correlation (average ranks for ties); 0 when either side is constant.</summary>
    public static double Spearman(double[] x, double[] y)
    {
        var rx = Ranks(x);
        var ry = Ranks(y);
        var r = PatternMetrics.Pearson(rx, ry);
        return double.IsNaN(r) ? 0 : r;
    }

    static double[] Ranks(double[] values)
    {
        var order = Enumerable.Range(0, values.Length).OrderBy(i => values[i]).ToArray();
        var ranks = new double[values.Length];
        for (var i = 0; i < order.Length;)
        {
            var j = i;
            while (j + 1 < order.Length && values[order[j + 1]] == values[order[i]]) j++;
            var rank = (i + j) / 2.0 + 1;
            for (var m = i; m <= j; m++) ranks[order[m]] = rank;
            i = j + 1;
        }
        return ranks;
    }
}
