using System.Buffers.Binary;
using System.Text;
using Verification.Engine.Loading;

namespace Verification.Engine.Tokenizers;

/// <summary>
/// llama2.c's tokenizer.bin: int32 max_token_length, then per token a float32 merge score, an int32 byte length and
/// the bytes. Encoding follows run.c: a dummy-prefix space, one token per UTF-8 code point (byte fallback to
/// &lt;0xXX&gt; = byte + 3), then repeatedly merge the adjacent pair whose concatenation has the highest score.
/// </summary>
public sealed class Llama2cTokenizer : ITokenizer
{
    public const int Bos = 1;
    public const int Eos = 2;

    readonly byte[][] pieces;
    readonly float[] scores;
    readonly Dictionary<string, int> lookup = [];

    public Llama2cTokenizer(IReadOnlyList<byte[]> pieces, IReadOnlyList<float> scores)
    {
        this.pieces = [.. pieces];
        this.scores = [.. scores];
        for (var i = 0; i < this.pieces.Length; i++) lookup.TryAdd(Key(this.pieces[i]), i);
    }

    public int VocabularySize => pieces.Length;

    public static Llama2cTokenizer Load(string path, int vocabularySize)
    {
        ModelFileException.NeedFile(path);
        var bytes = File.ReadAllBytes(path);
        var offset = 4;
        var list = new List<byte[]>();
        var scoreList = new List<float>();
        for (var i = 0; i < vocabularySize; i++)
        {
            if (offset + 8 > bytes.Length) throw new ModelFileException(path, $"ends after {i} of {vocabularySize} tokens (truncated, or a different vocabulary size)");
            scoreList.Add(BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(offset)));
            var length = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(offset + 4));
            offset += 8;
            if (length < 0 || offset + length > bytes.Length) throw new ModelFileException(path, $"token {i} claims {length} bytes past the end of the file");
            list.Add(bytes.AsSpan(offset, length).ToArray());
            offset += length;
        }
        return new Llama2cTokenizer(list, scoreList);
    }

    public static void Save(string path, IReadOnlyList<byte[]> pieces, IReadOnlyList<float> scores) => IO.AtomicFile.Write(path, file =>
    {
        var buffer = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(buffer, pieces.Max(p => p.Length));
        file.Write(buffer);
        for (var i = 0; i < pieces.Count; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(buffer, scores[i]);
            file.Write(buffer);
            BinaryPrimitives.WriteInt32LittleEndian(buffer, pieces[i].Length);
            file.Write(buffer);
            file.Write(pieces[i]);
        }
    });

    public int[] Encode(string text) => Encode(text, bos: true, eos: false);

    public int[] Encode(string text, bool bos, bool eos)
    {
        var tokens = new List<int>();
        if (bos) tokens.Add(Bos);
        if (text.Length > 0 && Find(" ") is { } dummy) tokens.Add(dummy);
        foreach (var rune in text.EnumerateRunes())
        {
            if (Find(rune.ToString()) is { } id) tokens.Add(id);
            else foreach (var b in Encoding.UTF8.GetBytes(rune.ToString())) tokens.Add(b + 3);
        }
        while (true)
        {
            var bestScore = float.NegativeInfinity;
            var bestId = -1;
            var bestIndex = -1;
            for (var i = 0; i < tokens.Count - 1; i++)
            {
                var merged = Key([.. pieces[tokens[i]], .. pieces[tokens[i + 1]]]);
                if (lookup.TryGetValue(merged, out var id) && scores[id] > bestScore)
                {
                    bestScore = scores[id];
                    bestId = id;
                    bestIndex = i;
                }
            }
            if (bestIndex < 0) break;
            tokens[bestIndex] = bestId;
            tokens.RemoveAt(bestIndex + 1);
        }
        if (eos) tokens.Add(Eos);
        return [.. tokens];
    }

    public string Decode(IEnumerable<int> ids)
    {
        var bytes = new List<byte>();
        var previous = -1;
        foreach (var id in ids)
        {
            if ((uint)id >= (uint)pieces.Length) throw new ArgumentOutOfRangeException(nameof(ids), $"Token id {id} is not in the vocabulary of {pieces.Length}.");
            var piece = pieces[id];
            if (id is Bos or Eos)
            {
                // Control tokens print nothing (as SentencePiece decodes them).
                previous = id;
                continue;
            }
            if (previous == Bos && piece.Length > 0 && piece[0] == ' ') piece = piece[1..];
            var text = Encoding.UTF8.GetString(piece);
            if (text.Length == 6 && text.StartsWith("<0x", StringComparison.Ordinal) && text.EndsWith('>'))
                bytes.Add(Convert.ToByte(text[3..5], 16));
            else bytes.AddRange(piece);
            previous = id;
        }
        return Encoding.UTF8.GetString([.. bytes]);
    }

    public string TokenText(int id) => Encoding.UTF8.GetString(pieces[id]);

    /// <summary>The id of a piece given as text, or null.</summary>
    public int? Find(string piece) => lookup.TryGetValue(Key(Encoding.UTF8.GetBytes(piece)), out var id) ? id : null;

    static string Key(byte[] bytes) => Convert.ToBase64String(bytes);
}
