using System.Text;

namespace Verification.Engine.Tokenizers;

/// <summary>
/// A word-level tokenizer for the zoo's small vocabularies: letter runs, single digits, single punctuation marks and
/// newlines are tokens; spaces separate. A word outside the vocabulary is an error naming it.
/// </summary>
public sealed class WordTokenizer : ITokenizer
{
    readonly string[] words;
    readonly Dictionary<string, int> ids;

    public WordTokenizer(IEnumerable<string> vocabulary, string? bos = null)
    {
        words = [.. vocabulary];
        ids = [];
        for (var i = 0; i < words.Length; i++)
            if (!ids.TryAdd(words[i], i)) throw new ArgumentException($"The vocabulary lists '{words[i]}' twice.");
        Bos = bos is null ? null : Id(bos);
    }

    public int VocabularySize => words.Length;

    /// <summary>The beginning-of-sequence token, prepended by <see cref="Encode"/> when the vocabulary has one.</summary>
    public int? Bos { get; }

    public IReadOnlyList<string> Words => words;

    public int Id(string word) => ids.TryGetValue(word, out var id)
        ? id
        : throw new ArgumentException($"'{word}' is not in this model's vocabulary of {words.Length} words.");

    public bool Contains(string word) => ids.ContainsKey(word);

    public int[] Encode(string text) => Bos is { } bos ? [bos, .. EncodeWithoutBos(text)] : EncodeWithoutBos(text);

    public int[] EncodeWithoutBos(string text) => [.. Split(text).Select(Id)];

    public static IEnumerable<string> Split(string text)
    {
        var word = new StringBuilder();
        foreach (var ch in text)
        {
            if (char.IsLetter(ch) || ch == '\'')
            {
                word.Append(ch);
                continue;
            }
            if (word.Length > 0)
            {
                yield return word.ToString();
                word.Clear();
            }
            if (ch == ' ' || ch == '\t' || ch == '\r') continue;
            yield return ch.ToString();
        }
        if (word.Length > 0) yield return word.ToString();
    }

    public string Decode(IEnumerable<int> ids)
    {
        var text = new StringBuilder();
        foreach (var t in ids)
        {
            var w = TokenText(t);
            if (text.Length > 0 && w is not ("." or "," or ";" or ":" or "!" or "?" or "\n") && text[^1] != '\n') text.Append(' ');
            text.Append(w);
        }
        return text.ToString();
    }

    public string TokenText(int id) =>
        (uint)id < (uint)words.Length ? words[id] : throw new ArgumentOutOfRangeException(nameof(id), $"Token id {id} is not in the vocabulary of {words.Length}.");
}
