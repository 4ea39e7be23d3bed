using Verification.Engine.Tokenizers;

namespace Verification.Fixtures.Zoo;

/// <summary>The 64-word vocabulary of the compiled circuits: BOS, delimiters, digits, weekdays, names and common words.</summary>
public static class CompiledVocabulary
{
    public const string Bos = "<bos>";

    public static readonly string[] Delimiters = [".", ",", "\n", ";", ":", "!", "?"];
    public static readonly string[] Digits = [.. Enumerable.Range(0, 10).Select(d => d.ToString(System.Globalization.CultureInfo.InvariantCulture))];
    public static readonly string[] Weekdays = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
    public static readonly string[] Names = ["Mary", "John", "Alice", "Bob", "Carol", "Dave", "Eve", "Frank"];

    public static readonly string[] Words =
    [
        "When", "and", "went", "to", "the", "store", "gave", "a", "drink", "cat", "sat", "on", "mat", "dog", "ran", "in", "park",
        "big", "red", "ball", "is", "was", "it", "he", "she", "they", "we", "saw", "home", "day", "then",
    ];

    public static readonly string[] All = [Bos, .. Delimiters, .. Digits, .. Weekdays, .. Names, .. Words];

    public static WordTokenizer Tokenizer { get; } = new(All, Bos);

    public static int Id(string word) => Tokenizer.Id(word);

    /// <summary>The ordinal predecessor of a token (digits and weekdays), or null.</summary>
    public static string? Predecessor(string word)
    {
        var d = Array.IndexOf(Digits, word);
        if (d > 0) return Digits[d - 1];
        var w = Array.IndexOf(Weekdays, word);
        return w > 0 ? Weekdays[w - 1] : null;
    }
}
