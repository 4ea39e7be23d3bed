using Verification.Engine.Tokenizers;

namespace Verification.Fixtures.Prompts;

/// <summary>A prompt built from pieces, with the position of each piece's last token.</summary>
public sealed record BuiltPrompt(int[] Tokens, int[] PieceEnds, string Text);

/// <summary>
/// Encodes text piece by piece so the positions of named parts (S2, list elements) are exact. For GPT-2-style
/// tokenizers pieces carry their leading space (" Mary"); for word tokenizers the space is ignored.
/// </summary>
public sealed class PromptBuilder(Func<string, int[]> encodePiece, int? bos)
{
    public static PromptBuilder For(ITokenizer tokenizer) => tokenizer switch
    {
        WordTokenizer w => new PromptBuilder(piece => w.EncodeWithoutBos(piece), w.Bos),
        Gpt2Tokenizer g => new PromptBuilder(g.Encode, g.TokenId(Gpt2Tokenizer.EndOfText)),
        WordPieceTokenizer b => new PromptBuilder(b.EncodeWithoutSpecial, b.Classify),
        _ => new PromptBuilder(tokenizer.Encode, null),
    };

    public int? Bos { get; } = bos;

    public BuiltPrompt Build(IEnumerable<string> pieces, bool prependBos = true)
    {
        var tokens = new List<int>();
        var ends = new List<int>();
        var text = new System.Text.StringBuilder();
        if (prependBos && Bos is { } b) tokens.Add(b);
        foreach (var piece in pieces)
        {
            var ids = encodePiece(piece);
            if (ids.Length == 0) throw new ArgumentException($"The piece '{piece}' encodes to no tokens.");
            tokens.AddRange(ids);
            ends.Add(tokens.Count - 1);
            text.Append(piece);
        }
        return new BuiltPrompt([.. tokens], [.. ends], text.ToString());
    }

    /// <summary>The number of tokens a piece encodes to.</summary>
    public int Length(string piece) => encodePiece(piece).Length;

    /// <summary>True when the piece encodes to exactly one token (false when the vocabulary cannot encode it).</summary>
    public bool Fits(string piece)
    {
        try { return Length(piece) == 1; }
        catch (ArgumentException) { return false; }
    }
}

/// <summary>The sources' prompt sets, built for a given tokenizer.</summary>
public static class PromptSets
{
    /// <summary>Names of the IOI dataset of Wang et al. that GPT-2 encodes as one token, and the zoo's names.</summary>
    public static readonly IReadOnlyList<string> IoiNames =
        ["Mary", "John", "Alice", "Bob", "Carol", "Dave", "Eve", "Frank", "Tom", "James", "Dan", "Sid", "Martin", "Amy", "Anna", "Paul"];

    /// <summary>The real-text prompts for a tokenizer: the zoo's sentences for its vocabulary, English prose otherwise.</summary>
    public static IReadOnlyList<int[]> RealText(ITokenizer tokenizer) => tokenizer switch
    {
        WordTokenizer w when w.Words.SequenceEqual(Zoo.CompiledVocabulary.All) => ZooText.Prompts(w),
        _ => [.. EnglishText.Lines.Select(line => PromptBuilder.For(tokenizer).Build([line]).Tokens)],
    };

    /// <summary>The IOI template of SPD's S-inhibition detector, pieces with leading spaces.</summary>
    public static string[] IoiPieces(string io, string s) =>
        ["When", " " + io, " and", " " + s, " went", " to", " the", " store", ",", " " + s, " gave", " a", " drink", " to"];

    /// <summary>IOI prompts over every ordered pair of distinct single-token names; IO is piece 1, S2 piece 9, the last token piece 13.</summary>
    public static IReadOnlyList<(BuiltPrompt Prompt, int S2, int Last, int Io)> Ioi(ITokenizer tokenizer, IReadOnlyList<string> names, bool prependBos = true)
    {
        var builder = PromptBuilder.For(tokenizer);
        var single = names.Where(n => builder.Fits(" " + n)).ToList();
        if (single.Count < 2) throw new ArgumentException("IOI needs at least two names that are single tokens for this tokenizer.");
        var prompts = new List<(BuiltPrompt, int, int, int)>();
        foreach (var io in single)
            foreach (var s in single)
            {
                if (io == s) continue;
                var built = builder.Build(IoiPieces(io, s), prependBos);
                prompts.Add((built, built.PieceEnds[9], built.PieceEnds[^1], built.PieceEnds[1]));
            }
        return prompts;
    }

    /// <summary>The successor detector's ordinal sequences (digits, letters, number words, weekdays, months).</summary>
    public static readonly IReadOnlyList<string[]> OrdinalSequences =
    [
        ["1", "2", "3", "4", "5", "6", "7", "8", "9"],
        ["A", "B", "C", "D", "E", "F", "G", "H", "I", "J"],
        ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"],
        ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
        ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"],
    ];

    /// <summary>Words with no order among them, for the successor detector's control lists.</summary>
    public static readonly string[] UnorderedWords =
        ["cat", "store", "ball", "dog", "park", "mat", "drink", "day", "home", "tree", "book", "chair", "river", "bread", "glass", "shoe"];

    /// <summary>
    /// Runs of <paramref name="length"/> consecutive items of each ordinal sequence joined by commas ("1, 2, 3, 4, 5"),
    /// and as many lists of random unordered words of the same length (a fixed seed). Items the tokenizer cannot encode
    /// as one token are skipped; element positions are the items' tokens.
    /// </summary>
    public static (IReadOnlyList<BuiltPrompt> Ordinal, IReadOnlyList<BuiltPrompt> Random) SuccessorLists(ITokenizer tokenizer, int length = 5,
        IReadOnlyList<string[]>? sequences = null, IReadOnlyList<string>? unordered = null, int seed = 0, bool prependBos = true)
    {
        var builder = PromptBuilder.For(tokenizer);
        var spaced = tokenizer is Gpt2Tokenizer;
        bool Fits(string item) => builder.Fits((spaced ? " " : "") + item);
        string[] Pieces(IReadOnlyList<string> items) =>
            [.. items.SelectMany((item, i) => i == 0 ? new[] { (spaced ? " " : "") + item } : [",", (spaced ? " " : "") + item])];
        var ordinal = new List<BuiltPrompt>();
        foreach (var sequence in sequences ?? OrdinalSequences)
        {
            if (!sequence.All(Fits)) continue;
            for (var start = 0; start + length <= sequence.Length; start++)
                ordinal.Add(Elements(builder.Build(Pieces(sequence[start..(start + length)]), prependBos)));
        }
        var words = (unordered ?? UnorderedWords).Where(Fits).ToArray();
        if (ordinal.Count == 0 || words.Length < length)
            throw new ArgumentException("This tokenizer cannot encode enough single-token ordinal items or words for successor lists.");
        var random = new Random(seed);
        var lists = new List<BuiltPrompt>();
        for (var i = 0; i < ordinal.Count; i++)
            lists.Add(Elements(builder.Build(Pieces([.. words.OrderBy(_ => random.Next()).Take(length)]), prependBos)));
        return (ordinal, lists);
    }

    /// <summary>Keeps only the element pieces' positions (every other piece: item, comma, item, …).</summary>
    static BuiltPrompt Elements(BuiltPrompt p) => p with { PieceEnds = [.. p.PieceEnds.Where((_, i) => i % 2 == 0)] };
}
