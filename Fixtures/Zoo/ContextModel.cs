using Verification.Engine.Loading;
using Verification.Engine.Models;
using Verification.Engine.Tensors;
using Verification.Engine.Tokenizers;
using Verification.Engine.Training;
using Verification.Fixtures.Real;

namespace Verification.Fixtures.Zoo;

/// <summary>A generated story: its tokens and, for each position, whether the next token can only be known from earlier context.</summary>
public sealed record Story(int[] Tokens, string Text, bool[] LookedUp, string Name, string Animal, string Place, string Thing, string Friend);

/// <summary>
/// The context-lookup model (CLAIMS.md §5, "The model zoo"): a 3-layer GPT-2 with MLPs on GPT-2's real vocabulary, trained
/// on generated stories in which a character's name, animal and belongings are introduced once and mentioned again later,
/// so that the later mentions can only be predicted by looking them up in the context; fixed phrases ("Once upon a time",
/// "The end") give next-token neurons something simpler to do. The loss is a softmax over the corpus's own tokens, so
/// embedding rows of all other tokens stay zero and are not stored.
/// </summary>
public static class ContextModel
{
    public const string Name = "context";
    public const int BatchSize = 16;

    public static readonly string[] Names = ["Lily", "Tom", "Anna", "Ben", "Sam", "Mia", "Max", "Zoe", "Leo", "Emma"];
    public static readonly string[] Animals = ["cat", "dog", "bird", "fish", "frog", "bear", "fox", "duck"];
    public static readonly string[] Places = ["house", "forest", "park", "garden", "farm"];
    public static readonly string[] Things = ["ball", "cup", "hat", "book", "toy", "box"];

    public static Gpt2Config Config { get; } = new()
    {
        VocabularySize = 50257, ContextLength = 128, ModelWidth = 64, LayerCount = 3, HeadCount = 4, MlpWidth = 256,
    };

    public static TrainingSettings Settings { get; } = new() { Steps = 3000, LearningRate = 2e-3f, WarmupSteps = 100, WeightDecay = 0.01f, Seed = 3 };

    public static Gpt2Tokenizer Tokenizer => tokenizer.Value;

    static readonly Lazy<Gpt2Tokenizer> tokenizer = new(SharedData.Gpt2Tokenizer);

    public static int EndOfText => Tokenizer.TokenId(Gpt2Tokenizer.EndOfText)!.Value;

    /// <summary>The story's words; "{x}" marks a word that repeats something said earlier.</summary>
    static string[] Template(string name, string animal, string place, string thing, string friend, Random random) =>
        random.Next(2) == 0
            ?
            [
                "Once", " upon", " a", " time", ",", " there", " was", " a", " little", " " + animal, " named", " " + name, ".",
                " {" + name + "}", " lived", " in", " a", " " + place, ".", " Every", " day", ",", " {" + name + "}", " played", " with", " a",
                " " + thing, ".", " One", " day", ",", " the", " {" + animal + "}", " lost", " the", " {" + thing + "}", ".",
                " {" + name + "}", " was", " sad", ".", " Then", " " + friend, " found", " the", " {" + thing + "}", " and", " gave", " it",
                " to", " {" + name + "}", ".", " {" + name + "}", " was", " happy", ".", " The", " end", ".",
            ]
            :
            [
                "Once", " upon", " a", " time", ",", " a", " " + animal, " named", " " + name, " lived", " in", " the", " " + place, ".",
                " {" + name + "}", " had", " a", " " + thing, ".", " One", " day", " " + friend, " saw", " the", " {" + thing + "}", " in",
                " the", " {" + place + "}", ".", " {" + friend + "}", " gave", " the", " {" + thing + "}", " to", " the", " {" + animal + "}", ".",
                " The", " {" + animal + "}", " was", " happy", ".", " The", " end", ".",
            ];

    public static Story Story(Random random)
    {
        string Pick(string[] words) => words[random.Next(words.Length)];
        var name = Pick(Names);
        var friend = Names.Where(n => n != name).ElementAt(random.Next(Names.Length - 1));
        var animal = Pick(Animals);
        var place = Pick(Places);
        var thing = Pick(Things);
        var words = Template(name, animal, place, thing, friend, random);
        var tokens = new List<int> { EndOfText };
        var lookedUp = new List<bool>();
        var text = new System.Text.StringBuilder();
        foreach (var word in words)
        {
            var repeated = word.Contains('{', StringComparison.Ordinal);
            var plain = word.Replace("{", "", StringComparison.Ordinal).Replace("}", "", StringComparison.Ordinal);
            var ids = Tokenizer.Encode(plain);
            if (ids.Length != 1) throw new InvalidOperationException($"'{plain}' is not one GPT-2 token.");
            lookedUp.Add(repeated); // whether the token at this position repeats an earlier one
            tokens.Add(ids[0]);
            text.Append(plain);
        }
        // LookedUp[p] says whether predicting token p+1 from position p needs the context.
        var next = new bool[tokens.Count];
        for (var p = 0; p + 1 < tokens.Count; p++) next[p] = lookedUp[p];
        return new Story([.. tokens], text.ToString(), next, name, animal, place, thing, friend);
    }

    public static Story[] Batch(int seed, int step, int batchSize = BatchSize)
    {
        var random = TrainedZoo.StepRandom(seed, step);
        return [.. Enumerable.Range(0, batchSize).Select(_ => Story(random))];
    }

    /// <summary>Every token the stories can contain (the softmax runs over these).</summary>
    public static int[] CorpusVocabulary => corpusVocabulary.Value;

    static readonly Lazy<int[]> corpusVocabulary = new(() =>
    {
        var random = new Random(0);
        var ids = new HashSet<int>();
        for (var i = 0; i < 400; i++) ids.UnionWith(Story(random).Tokens);
        return [.. ids.Order()];
    });

    /// <summary>Pads stories to one length with end-of-text; the padding is not predicted.</summary>
    public static (int[][] Tokens, int[] Targets) Pad(IReadOnlyList<Story> stories)
    {
        var length = stories.Max(s => s.Tokens.Length);
        var tokens = stories.Select(s => s.Tokens.Concat(Enumerable.Repeat(EndOfText, length - s.Tokens.Length)).ToArray()).ToArray();
        var index = CorpusVocabulary.Select((id, i) => (id, i)).ToDictionary(x => x.id, x => x.i);
        var targets = new int[stories.Count * length];
        for (var b = 0; b < stories.Count; b++)
            for (var p = 0; p < length; p++)
                targets[b * length + p] = p + 1 < stories[b].Tokens.Length ? index[stories[b].Tokens[p + 1]] : Engine.Training.Losses.IgnoreIndex;
        return (tokens, targets);
    }

    /// <summary>The loss of one batch on the live weights: cross-entropy of the next token over the corpus vocabulary.</summary>
    public static TorchSharp.torch.Tensor Loss(Gpt2Model model, IReadOnlyList<Story> batch)
    {
        var (tokens, targets) = Pad(batch);
        var final = model.Encode(new HookContext(), tokens);                                                  // [batch, pos, dModel]
        var logits = model.CandidateLogits(final.reshape(tokens.Length * tokens[0].Length, Config.ModelWidth), CorpusVocabulary);
        return Engine.Training.Losses.CrossEntropy(logits, targets);
    }

    public static Gpt2Model Train(string folder, TrainingSettings? settings = null, IProgress<TrainingProgress>? progress = null)
    {
        settings ??= Settings;
        var parameters = TrainedZoo.InitialiseForCorpus(Config, settings.Seed, CorpusVocabulary);
        var model = new Gpt2Model(Config, parameters, $"zoo: {Name} (trained by Fixtures/Zoo/ContextModel.cs)");
        model.Train(step =>
        {
            var batch = Batch(settings.Seed, step);
            return (Loss(model, batch), batch.Sum(s => s.Tokens.Length));
        }, settings, progress);
        Directory.CreateDirectory(folder);
        Checkpoint.Save(model, Path.Combine(folder, "final.safetensors"), new Dictionary<string, string>
        {
            ["recipe"] = "Fixtures/Zoo/ContextModel.cs",
            ["data"] = "generated stories (two templates) whose name, animal, place and thing are introduced once and repeated later; batch 16",
            ["training"] = settings.Describe(),
        }, sparse: ["embed.W_E"]);
        return model;
    }

    public static Gpt2Model Load() => (Gpt2Model)TrainedZoo.Load(Name);

    /// <summary>Held-out stories (a seed the training never uses).</summary>
    public static Story[] Evaluation(int count = 64) => Batch(seed: 999, step: 0, batchSize: count);

    /// <summary>Mean loss over the corpus vocabulary at positions whose next token is looked up, and at the others.</summary>
    public static (double LookedUp, double Other) Losses(Gpt2Model model, IReadOnlyList<Story> stories)
    {
        double lookedUp = 0, other = 0;
        int nLookedUp = 0, nOther = 0;
        foreach (var s in stories)
        {
            var logits = model.Run(s.Tokens).Logits;
            var vocab = Config.VocabularySize;
            for (var p = 0; p + 1 < s.Tokens.Length; p++)
            {
                var offset = p * vocab;
                var restricted = CorpusVocabulary.Select(id => logits.Data[offset + id]).ToArray();
                var loss = -Engine.Training.Losses.LogSoftmaxAt(restricted, Array.IndexOf(CorpusVocabulary, s.Tokens[p + 1]));
                if (s.LookedUp[p]) { lookedUp += loss; nLookedUp++; }
                else { other += loss; nOther++; }
            }
        }
        return (lookedUp / nLookedUp, other / nOther);
    }
}
