using Verification.Analysis;
using Verification.Engine.Loading;
using Verification.Engine.Models;
using Verification.Engine.Tokenizers;
using Verification.Engine.Training;

namespace Verification.Fixtures.Zoo;

/// <summary>A planted skip-gram: key anywhere before, query here ⇒ target next.</summary>
public sealed record PlantedRule(string Key, string Query, string Target);

/// <summary>
/// The rules model (CLAIMS.md §4, "The model zoo"): a 1-layer attention-only transformer with one head, trained on noise
/// with planted skip-grams "A_i anywhere before, B_i here ⇒ C_i next" (four disjoint triples), and one planted absence:
/// "D before B ⇒ C", except when A also came before: then anything but C follows. Only the head can carry these rules
/// (a lone B is followed by noise), so an SAE on its output should find one feature per rule, and the absence as a
/// distractor: a key (A) with a negative value score for the feature its query (B) drives.
/// </summary>
public static class RulesModel
{
    public const string Name = "rules";
    public const int SequenceLength = 64;
    public const int BatchSize = 32;

    public static readonly string[] Noise = [.. Enumerable.Range(0, 40).Select(i => "n" + i.ToString(System.Globalization.CultureInfo.InvariantCulture))];
    public static readonly PlantedRule[] Planted = [new("a1", "b1", "c1"), new("a2", "b2", "c2"), new("a3", "b3", "c3"), new("a4", "b4", "c4")];

    /// <summary>The absence: "trigger before query ⇒ target", unless "absent before query".</summary>
    public static readonly (string Trigger, string Absent, string Query, string Target) Absence = ("d5", "a5", "b5", "c5");

    public static readonly string[] Words =
        [.. Noise, .. Planted.SelectMany(r => new[] { r.Key, r.Query, r.Target }), Absence.Trigger, Absence.Absent, Absence.Query, Absence.Target];

    public static WordTokenizer Tokenizer { get; } = new(Words);

    public static int Id(string word) => Tokenizer.Id(word);

    public static AttentionOnlyConfig Config { get; } = new()
    {
        VocabularySize = Words.Length, ContextLength = SequenceLength, ModelWidth = 64, LayerCount = 1, HeadCount = 1,
    };

    public static TrainingSettings Settings { get; } = new() { Steps = 2000, LearningRate = 3e-3f, WarmupSteps = 0, WeightDecay = 0.01f, Seed = 4 };

    /// <summary>One sequence of noise with plantings at distinct random places.</summary>
    public static int[] Sequence(Random random)
    {
        var tokens = Enumerable.Range(0, SequenceLength).Select(_ => Id(Noise[random.Next(Noise.Length)])).ToArray();
        var used = new HashSet<int>();
        int Free(int from, int to)
        {
            for (var attempt = 0; attempt < 100; attempt++)
            {
                var p = random.Next(from, to);
                if (used.Add(p)) return p;
            }
            return -1;
        }
        // A query with its target right after it, at b and b + 1, both free.
        int FreePair(int from, int to)
        {
            for (var attempt = 0; attempt < 100; attempt++)
            {
                var b = random.Next(from, to);
                if (!used.Contains(b) && !used.Contains(b + 1)) { used.Add(b); used.Add(b + 1); return b; }
            }
            return -1;
        }
        foreach (var rule in Planted)
        {
            if (random.NextDouble() < 0.6)
            {
                var b = FreePair(8, SequenceLength - 1);
                var a = b < 0 ? -1 : Free(0, b);
                if (a >= 0) { tokens[a] = Id(rule.Key); tokens[b] = Id(rule.Query); tokens[b + 1] = Id(rule.Target); }
            }
            else if (random.NextDouble() < 0.5)
            {
                // The query alone: what follows is noise.
                var b = FreePair(0, SequenceLength - 1);
                if (b >= 0) tokens[b] = Id(rule.Query);
            }
        }
        var (trigger, absent, query, target) = Absence;
        var roll = random.NextDouble();
        if (roll < 0.6)
        {
            var b = FreePair(8, SequenceLength - 1);
            var d = b < 0 ? -1 : Free(0, b);
            if (d >= 0)
            {
                tokens[d] = Id(trigger);
                tokens[b] = Id(query);
                if (random.NextDouble() < 0.4 && Free(0, b) is var a && a >= 0)
                    tokens[a] = Id(absent); // the absence: noise follows instead of the target
                else tokens[b + 1] = Id(target);
            }
        }
        else if (roll < 0.8)
        {
            var b = FreePair(0, SequenceLength - 1);
            if (b >= 0) tokens[b] = Id(query);
        }
        return tokens;
    }

    public static int[][] Batch(int seed, int step, int batchSize = BatchSize)
    {
        var random = TrainedZoo.StepRandom(seed, step);
        return [.. Enumerable.Range(0, batchSize).Select(_ => Sequence(random))];
    }

    /// <summary>Held-out sequences (no training step uses these seeds).</summary>
    public static int[][] Corpus(int count, int seed = 999) => Batch(seed, 0, count);

    /// <summary>The windows the output SAE is trained on.</summary>
    public static int[][] SaeCorpus() => Corpus(1024, seed: 999);

    /// <summary>The windows exemplars are drawn from (CLAIMS.md §4: 64-token sequences; 150 + 150 per feature need ~1000).</summary>
    public static int[][] ExemplarCorpus() => Corpus(1024, seed: 1000);

    /// <summary>
    /// The output SAE's recipe: ReLU latents with an L1 penalty on the head's hook_z, as in the source's per-head SAEs.
    /// 32 latents and L1 0.01 recover every planted rule for SAE seeds 0–4 (F1 ≥ 0.94 at k = 16).
    /// </summary>
    public static SaeConfig SaeConfig { get; } = new(Config.HeadWidth, 32, L1: 0.01f, Source: $"zoo: {Name}, hook_z of L0H0");

    public const int SaeSteps = 2000;

    public const string SaeFile = "sae-L0H0.safetensors";

    public static SparseAutoencoder TrainSae(AttentionOnlyModel model, int seed = 0, IProgress<TrainingProgress>? progress = null) =>
        SparseAutoencoder.Train(SkipGramRules.HeadOutputs(model, 0, 0, SaeCorpus()), SaeConfig, steps: SaeSteps, seed: seed, progress: progress);

    public static void SaveSae(SparseAutoencoder sae, string folder)
    {
        Directory.CreateDirectory(folder);
        sae.Save(Path.Combine(folder, SaeFile), new Dictionary<string, string>
        {
            ["recipe"] = "Fixtures/Zoo/RulesModel.cs (TrainSae)",
            ["data"] = "hook_z of L0H0 on RulesModel.SaeCorpus(): 1024 windows of 64 tokens",
            ["training"] = $"{SaeSteps} steps, batch 256, AdamW lr 3e-3, no weight decay, seed 0, decoder rows renormalised every step",
        });
    }

    public static SparseAutoencoder LoadSae() => SparseAutoencoder.Load(TrainedZoo.Need(Name, SaeFile));

    /// <summary>
    /// The model's probability of each planted target right after its query, where the rule fires (key before, and for the
    /// absence no a5 before) and where it does not; the evidence that the model learned the rules.
    /// </summary>
    public static IReadOnlyList<(string Rule, int Firing, double FiringProbability, int Silent, double SilentProbability)> PlantedProbabilities(
        AttentionOnlyModel model, int[][] windows)
    {
        var logits = model.Run(windows).Logits; // [windows, pos, vocab]
        var vocabulary = Words.Length;
        double Probability(int w, int p, int token)
        {
            var row = logits.Data.AsSpan((w * SequenceLength + p) * vocabulary, vocabulary);
            var max = System.Numerics.Tensors.TensorPrimitives.Max(row);
            double sum = 0;
            foreach (var x in row) sum += Math.Exp(x - max);
            return Math.Exp(row[token] - max) / sum;
        }
        var rules = Planted.Select(r => (Key: r.Key, r.Query, r.Target, Absent: (string?)null))
            .Append((Key: Absence.Trigger, Query: Absence.Query, Target: Absence.Target, Absent: Absence.Absent));
        return [.. rules.Select(rule =>
        {
            var (firing, silent) = (new List<double>(), new List<double>());
            for (var w = 0; w < windows.Length; w++)
                for (var p = 0; p < SequenceLength - 1; p++)
                {
                    if (windows[w][p] != Id(rule.Query)) continue;
                    var before = windows[w].Take(p).ToArray();
                    var fires = before.Contains(Id(rule.Key)) && (rule.Absent is null || !before.Contains(Id(rule.Absent)));
                    (fires ? firing : silent).Add(Probability(w, p, Id(rule.Target)));
                }
            var name = rule.Absent is null ? $"{rule.Key} … {rule.Query} → {rule.Target}" : $"{rule.Key} … {rule.Query} → {rule.Target} unless {rule.Absent} before";
            return (name, firing.Count, firing.DefaultIfEmpty(double.NaN).Average(), silent.Count, silent.DefaultIfEmpty(double.NaN).Average());
        })];
    }

    public static AttentionOnlyModel Train(string folder, TrainingSettings? settings = null, IProgress<TrainingProgress>? progress = null)
    {
        settings ??= Settings;
        var model = new AttentionOnlyModel(Config, ParameterLayout.InitialiseLikePyTorch(Config, settings.Seed), $"zoo: {Name} (trained by Fixtures/Zoo/RulesModel.cs)");
        model.Train(step =>
        {
            var batch = Batch(settings.Seed, step);
            return (Losses.NextToken(model.Logits(batch), batch), batch.Length * SequenceLength);
        }, settings, progress);
        Directory.CreateDirectory(folder);
        Checkpoint.Save(model, Path.Combine(folder, "final.safetensors"), new Dictionary<string, string>
        {
            ["recipe"] = "Fixtures/Zoo/RulesModel.cs",
            ["data"] = "noise over 40 tokens with planted skip-grams a_i..b_i c_i (i = 1..4) and d5..b5 c5 unless a5 before; batch 32",
            ["training"] = settings.Describe() + "; PyTorch default initialisation",
        });
        return model;
    }

    public static AttentionOnlyModel Load() => (AttentionOnlyModel)TrainedZoo.Load(Name);
}
