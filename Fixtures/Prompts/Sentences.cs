namespace Verification.Fixtures.Prompts;

/// <summary>The real-text corpus for the real encoders: Fixtures/Corpora/sentences.txt (its README says where it comes from).</summary>
public static class Sentences
{
    static readonly Lazy<IReadOnlyList<string>> all = new(() =>
    {
        var path = Path.Combine(Repository.Root, "Fixtures", "Corpora", "sentences.txt");
        return [.. File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0)];
    });

    public static IReadOnlyList<string> All => all.Value;

    static readonly Lazy<IReadOnlyList<(string Sentence, string Negated)>> negations = new(() =>
    {
        var path = Path.Combine(Repository.Root, "Fixtures", "Corpora", "negations.tsv");
        return [.. File.ReadAllLines(path).Where(l => l.Length > 0 && !l.StartsWith('#')).Select(l => l.Split('\t')).Select(f => (f[0], f[1]))];
    });

    /// <summary>The corpus's sentences with a negation word and, annotated by hand, the word it negates (negations.tsv).</summary>
    public static IReadOnlyList<(string Sentence, string Negated)> Negations => negations.Value;
}
