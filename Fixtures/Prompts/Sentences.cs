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
}
