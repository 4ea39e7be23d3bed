namespace Verification.Fixtures.Real;

/// <summary>The two real models whose attention patterns ../shared holds (pattern_lens demo data).</summary>
public static class RealPatterns
{
    public static readonly string[] Models = ["pythia-14m", "tiny-stories-1M"];

    public static string Folder(string model) => Path.Combine(SharedData.PatternLensDemo, model);
}
