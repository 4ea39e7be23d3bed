using System.Text.RegularExpressions;
using Verification.Engine;
using Verification.Engine.Loading;
using Verification.Engine.Tokenizers;

namespace Verification.Fixtures.Real;

/// <summary>
/// The real data beside the repository in ../shared (read-only, never committed): the llama2.c stories260K
/// checkpoint, the GPT-2 and BERT vocabularies, and pattern_lens's attention patterns.
/// </summary>
public static partial class SharedData
{
    public static string Stories260KFolder => Repository.SharedPath("models", "llama2c-stories260K");

    public static string Stories260K => Path.Combine(Stories260KFolder, "stories260K.bin");

    /// <summary>
    /// The token ids llama2.c's own run.c produced (greedy, from BOS, 48 steps), read from the checkpoint's README,
    /// where they were recorded from the reference implementation.
    /// </summary>
    public static int[] Stories260KReferenceIds()
    {
        var readme = File.ReadAllText(Path.Combine(Stories260KFolder, "README.md"));
        var match = IdList().Match(readme);
        if (!match.Success) throw new InvalidDataException("No reference id list in the stories260K README.");
        return [.. match.Value.Split(',').Select(int.Parse)];
    }

    [GeneratedRegex(@"\d+(,\d+){20,}")]
    private static partial Regex IdList();

    public static string Gpt2TokenizerFolder => Repository.SharedPath("tokenizers", "gpt2");

    public static Gpt2Tokenizer Gpt2Tokenizer() =>
        Engine.Tokenizers.Gpt2Tokenizer.FromFiles(Path.Combine(Gpt2TokenizerFolder, "vocab.json"), Path.Combine(Gpt2TokenizerFolder, "merges.txt"));

    public static string BertVocabulary => Repository.SharedPath("tokenizers", "bert-base-uncased", "vocab.txt");

    public static WordPieceTokenizer BertTokenizer() => WordPieceTokenizer.FromFile(BertVocabulary);

    public static string PatternLensDemo => Repository.SharedPath("patterns", "pattern-lens-demo");

    /// <summary>The locator the specs use: VERIFICATION_MODELS, the Hugging Face cache, then ../shared/models.</summary>
    public static ModelLocator Locator => new(Settings.Current.ModelsFolder, [Repository.SharedPath("models")]);
}
