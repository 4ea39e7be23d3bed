using System.Globalization;
using System.Text;
using Verification.Engine.Loading;

namespace Verification.Engine.Tokenizers;

/// <summary>
/// BERT's tokenizer: the basic tokenizer (clean text, space out CJK characters, lower-case, strip accents, split
/// punctuation) then greedy longest-match WordPiece with "##" continuations; [UNK] for words that cannot be
/// covered or are longer than 100 characters; [CLS] … [SEP] around the result.
/// </summary>
public sealed class WordPieceTokenizer : ITokenizer
{
    readonly Dictionary<string, int> vocabulary;
    readonly string[] tokens;

    public WordPieceTokenizer(IReadOnlyList<string> vocabularyLines, bool lowerCase = true, string source = "")
    {
        tokens = [.. vocabularyLines];
        vocabulary = [];
        for (var i = 0; i < tokens.Length; i++) vocabulary.TryAdd(tokens[i], i);
        LowerCase = lowerCase;
        Source = source;
        Unknown = Id("[UNK]");
        Classify = Id("[CLS]");
        Separator = Id("[SEP]");
        Mask = vocabulary.TryGetValue("[MASK]", out var mask) ? mask : -1;
        Padding = vocabulary.TryGetValue("[PAD]", out var pad) ? pad : 0;
    }

    public static WordPieceTokenizer FromFile(string vocabTxt, bool lowerCase = true)
    {
        ModelFileException.NeedFile(vocabTxt);
        var lines = File.ReadAllLines(vocabTxt).Select(l => l.TrimEnd('\r')).ToList();
        if (!lines.Contains("[UNK]") || !lines.Contains("[CLS]") || !lines.Contains("[SEP]"))
            throw new ModelFileException(vocabTxt, "a BERT vocabulary needs [UNK], [CLS] and [SEP]");
        return new WordPieceTokenizer(lines, lowerCase, vocabTxt);
    }

    public string Source { get; }
    public bool LowerCase { get; }
    public int Unknown { get; }
    public int Classify { get; }
    public int Separator { get; }
    public int Mask { get; }
    public int Padding { get; }
    public int VocabularySize => tokens.Length;

    int Id(string token) => vocabulary.TryGetValue(token, out var id) ? id : throw new ArgumentException($"Vocabulary lacks {token}.");

    public int? TokenId(string token) => vocabulary.TryGetValue(token, out var id) ? id : null;

    /// <summary>[CLS] tokens [SEP].</summary>
    public int[] Encode(string text) => [Classify, .. EncodeWithoutSpecial(text), Separator];

    public int[] EncodeWithoutSpecial(string text) => [.. Tokenize(text).Select(t => vocabulary[t])];

    /// <summary>The WordPiece strings, e.g. "una", "##ffa", "##ble".</summary>
    public IEnumerable<string> Tokenize(string text)
    {
        foreach (var word in BasicTokenize(text))
            foreach (var piece in WordPiece(word)) yield return piece;
    }

    public string Decode(IEnumerable<int> ids)
    {
        var text = new StringBuilder();
        foreach (var id in ids)
        {
            var t = TokenText(id);
            if (t.StartsWith("##", StringComparison.Ordinal)) text.Append(t.AsSpan(2));
            else
            {
                if (text.Length > 0) text.Append(' ');
                text.Append(t);
            }
        }
        return text.ToString();
    }

    public string TokenText(int id) =>
        (uint)id < (uint)tokens.Length ? tokens[id] : throw new ArgumentOutOfRangeException(nameof(id), $"Token id {id} is not in the vocabulary of {tokens.Length}.");

    IEnumerable<string> WordPiece(string word)
    {
        if (word.Length > 100)
        {
            yield return "[UNK]";
            yield break;
        }
        var pieces = new List<string>();
        var start = 0;
        while (start < word.Length)
        {
            string? found = null;
            var end = word.Length;
            for (; end > start; end--)
            {
                var candidate = (start > 0 ? "##" : "") + word[start..end];
                if (vocabulary.ContainsKey(candidate))
                {
                    found = candidate;
                    break;
                }
            }
            if (found is null)
            {
                pieces = ["[UNK]"];
                break;
            }
            pieces.Add(found);
            start = end;
        }
        foreach (var p in pieces) yield return p;
    }

    /// <summary>BERT's BasicTokenizer.</summary>
    public IEnumerable<string> BasicTokenize(string text)
    {
        var cleaned = new StringBuilder();
        foreach (var rune in text.EnumerateRunes())
        {
            var cp = rune.Value;
            if (cp == 0 || cp == 0xFFFD || IsControl(rune)) continue;
            if (IsWhitespace(rune)) cleaned.Append(' ');
            else if (IsChinese(cp)) cleaned.Append(' ').Append(rune.ToString()).Append(' ');
            else cleaned.Append(rune.ToString());
        }
        foreach (var raw in cleaned.ToString().Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var token = raw;
            if (LowerCase) token = StripAccents(token.ToLowerInvariant());
            var current = new StringBuilder();
            foreach (var rune in token.EnumerateRunes())
            {
                if (IsPunctuation(rune))
                {
                    if (current.Length > 0) yield return current.ToString();
                    current.Clear();
                    yield return rune.ToString();
                }
                else current.Append(rune.ToString());
            }
            if (current.Length > 0) yield return current.ToString();
        }
    }

    static string StripAccents(string text)
    {
        var result = new StringBuilder();
        foreach (var ch in text.Normalize(NormalizationForm.FormD))
            if (CharUnicodeInfo.GetUnicodeCategory(ch) != UnicodeCategory.NonSpacingMark) result.Append(ch);
        return result.ToString();
    }

    static bool IsWhitespace(Rune r) => r.Value is ' ' or '\t' or '\n' or '\r' || Rune.GetUnicodeCategory(r) == UnicodeCategory.SpaceSeparator;

    static bool IsControl(Rune r)
    {
        if (r.Value is '\t' or '\n' or '\r') return false;
        var c = Rune.GetUnicodeCategory(r);
        return c is UnicodeCategory.Control or UnicodeCategory.Format;
    }

    static bool IsPunctuation(Rune r)
    {
        var cp = r.Value;
        if (cp is >= 33 and <= 47 or >= 58 and <= 64 or >= 91 and <= 96 or >= 123 and <= 126) return true;
        return Rune.GetUnicodeCategory(r) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;
    }

    static bool IsChinese(int cp) =>
        cp is >= 0x4E00 and <= 0x9FFF or >= 0x3400 and <= 0x4DBF or >= 0x20000 and <= 0x2A6DF or >= 0x2A700 and <= 0x2B73F
            or >= 0x2B740 and <= 0x2B81F or >= 0x2B820 and <= 0x2CEAF or >= 0xF900 and <= 0xFAFF or >= 0x2F800 and <= 0x2FA1F;
}
