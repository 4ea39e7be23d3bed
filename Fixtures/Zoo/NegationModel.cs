using Verification.Engine.Loading;
using Verification.Engine.Models;
using Verification.Engine.Tensors;
using Verification.Engine.Tokenizers;
using Verification.Engine.Training;
using Verification.Fixtures.Real;

namespace Verification.Fixtures.Zoo;

/// <summary>A generated training sentence: its tokens, where [MASK] is, and the answer (liked or hated).</summary>
public sealed record NegationSentence(int[] Tokens, int MaskPosition, bool Liked, string Text);

/// <summary>
/// The trained negation model (CLAIMS.md §3, "The model zoo"): an encoder with bert-tiny's shape (2 layers, 2 heads,
/// width 128, MLP 512) on the real BERT uncased vocabulary, trained to fill "[MASK]" in
/// "the NOUN was [not|never] [really|very] ADJECTIVE . i [MASK] it ." with "liked" or "hated": only the negation word
/// decides which. The masked word is predicted over the corpus's own words, so embedding rows of words the corpus never
/// uses receive no gradient, stay zero, and are not stored.
/// </summary>
public static class NegationModel
{
    public const string Name = "negation";
    public const int BatchSize = 32;

    public static readonly string[] Nouns = ["movie", "book", "film", "show", "song", "game", "meal", "story", "trip", "party", "concert", "album", "dinner", "hotel"];
    public static readonly string[] Positive = ["good", "great", "nice", "fun", "lovely", "wonderful", "excellent", "perfect"];
    public static readonly string[] Negative = ["bad", "awful", "boring", "terrible", "dull", "poor", "horrible", "sad"];
    public static readonly string[] Intensifiers = ["really", "very", "so", "quite"];
    public static readonly string[] Negations = ["not", "never"];
    public static readonly string[] Verbs = ["was", "is"];

    public static BertConfig Config { get; } = new()
    {
        VocabularySize = 30522, ContextLength = 512, ModelWidth = 128, LayerCount = 2, HeadCount = 2, MlpWidth = 512,
    };

    public static TrainingSettings Settings { get; } = new() { Steps = 1500, LearningRate = 1e-3f, WarmupSteps = 100, WeightDecay = 0.01f, Seed = 2 };

    public static WordPieceTokenizer Tokenizer => tokenizer.Value;

    static readonly Lazy<WordPieceTokenizer> tokenizer = new(SharedData.BertTokenizer);

    /// <summary>Every word piece the corpus can produce (the masked word is predicted among these).</summary>
    public static int[] CorpusVocabulary => corpusVocabulary.Value;

    static readonly Lazy<int[]> corpusVocabulary = new(() =>
    {
        var t = Tokenizer;
        var words = Nouns.Concat(Positive).Concat(Negative).Concat(Intensifiers).Concat(Negations).Concat(Verbs)
            .Concat(["the", ".", "i", "it", "liked", "hated"]);
        return [.. words.SelectMany(t.EncodeWithoutSpecial).Concat([t.Classify, t.Separator, t.Mask, t.Padding]).Distinct().Order()];
    });

    public static int LikedId => Tokenizer.TokenId("liked")!.Value;
    public static int HatedId => Tokenizer.TokenId("hated")!.Value;

    /// <summary>"[CLS] the movie was not really good . i [MASK] it . [SEP]" and its answer.</summary>
    public static NegationSentence Sentence(Random random)
    {
        var noun = Nouns[random.Next(Nouns.Length)];
        var verb = Verbs[random.Next(Verbs.Length)];
        var negation = random.Next(2) == 0 ? null : Negations[random.Next(Negations.Length)];
        var intensifier = random.Next(2) == 0 ? null : Intensifiers[random.Next(Intensifiers.Length)];
        var positive = random.Next(2) == 0;
        var adjective = positive ? Positive[random.Next(Positive.Length)] : Negative[random.Next(Negative.Length)];
        var words = new[] { "the", noun, verb, negation, intensifier, adjective, ".", "i" }.Where(w => w is not null);
        return Build(string.Join(" ", words), positive ^ (negation is not null));
    }

    /// <summary>"{prefix} [MASK] it ." as a sentence whose answer is liked or hated.</summary>
    public static NegationSentence Build(string prefix, bool liked)
    {
        var t = Tokenizer;
        int[] tokens = [t.Classify, .. t.EncodeWithoutSpecial(prefix), t.Mask, .. t.EncodeWithoutSpecial("it ."), t.Separator];
        return new NegationSentence(tokens, Array.IndexOf(tokens, t.Mask), liked, prefix + " [MASK] it .");
    }

    public static NegationSentence[] Batch(int seed, int step, int batchSize = BatchSize)
    {
        var random = TrainedZoo.StepRandom(seed, step);
        return [.. Enumerable.Range(0, batchSize).Select(_ => Sentence(random))];
    }

    /// <summary>Pads to the longest sentence with [PAD], masked out of attention.</summary>
    public static (int[][] Tokens, bool[][] Mask) Pad(IReadOnlyList<int[]> sentences)
    {
        var length = sentences.Max(s => s.Length);
        var pad = Tokenizer.Padding;
        return ([.. sentences.Select(s => s.Concat(Enumerable.Repeat(pad, length - s.Length)).ToArray())],
                [.. sentences.Select(s => Enumerable.Range(0, length).Select(i => i < s.Length).ToArray())]);
    }

    /// <summary>The loss of one batch: cross-entropy of the masked word over the corpus vocabulary.</summary>
    public static TorchSharp.torch.Tensor Loss(BertModel model, NegationSentence[] batch)
    {
        var (tokens, mask) = Pad([.. batch.Select(s => s.Tokens)]);
        var options = new RunOptions { AttentionMask = mask };
        var hidden = model.Encode(new HookContext(), tokens, options);                                   // [batch, pos, dModel]
        var length = tokens[0].Length;
        var masked = TorchSharp.torch.tensor(batch.Select((s, b) => (long)(b * length + s.MaskPosition)).ToArray(), device: hidden.device);
        var rows = hidden.reshape(batch.Length * length, Config.ModelWidth).index_select(0, masked);      // [batch, dModel]
        var candidates = CorpusVocabulary;
        var logits = model.MaskedLanguageModelLogits(new HookContext(), rows, candidates);               // [batch, candidates]
        var targets = batch.Select(s => Array.IndexOf(candidates, s.Liked ? LikedId : HatedId)).ToArray();
        return Losses.CrossEntropy(logits, targets);
    }

    /// <summary>Trains from scratch: embedding rows of words outside the corpus start at zero and stay there.</summary>
    public static BertModel Train(string folder, TrainingSettings? settings = null, IProgress<TrainingProgress>? progress = null)
    {
        settings ??= Settings;
        var parameters = TrainedZoo.InitialiseForCorpus(Config, settings.Seed, CorpusVocabulary);
        var model = new BertModel(Config, parameters, $"zoo: {Name} (trained by Fixtures/Zoo/NegationModel.cs)");
        model.Train(step =>
        {
            var batch = Batch(settings.Seed, step);
            return (Loss(model, batch), batch.Sum(s => s.Tokens.Length));
        }, settings, progress);
        Directory.CreateDirectory(folder);
        Checkpoint.Save(model, Path.Combine(folder, "final.safetensors"), new Dictionary<string, string>
        {
            ["recipe"] = "Fixtures/Zoo/NegationModel.cs",
            ["data"] = "the NOUN was|is [not|never] [really|very|so|quite] ADJECTIVE . i [MASK] it . -> liked/hated; batch 32",
            ["training"] = settings.Describe(),
        }, sparse: ["embed.W_E"]);
        return model;
    }

    public static BertModel Load() => (BertModel)TrainedZoo.Load(Name);

    /// <summary>Accuracy of liked against hated on held-out sentences (a seed the training never uses).</summary>
    public static double Accuracy(BertModel model, int count = 256)
    {
        var sentences = Batch(seed: 999, step: 0, batchSize: count);
        var (tokens, mask) = Pad([.. sentences.Select(s => s.Tokens)]);
        var logits = model.Run(tokens, new RunOptions { AttentionMask = mask }).Logits;
        var vocab = Config.VocabularySize;
        var length = tokens[0].Length;
        var correct = 0;
        for (var b = 0; b < sentences.Length; b++)
        {
            var row = (b * length + sentences[b].MaskPosition) * vocab;
            var likedWins = logits.Data[row + LikedId] > logits.Data[row + HatedId];
            if (likedWins == sentences[b].Liked) correct++;
        }
        return (double)correct / sentences.Length;
    }
}
