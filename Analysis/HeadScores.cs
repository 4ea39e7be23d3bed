namespace Verification.Analysis;

/// <summary>
/// One detector's score for every head: Values[layer, head], with the flag threshold of its definition and
/// optional extra columns (e.g. the peak offset of the positional detector).
/// </summary>
public sealed record HeadScores(string Detector, string Definition, double[,] Values, double Threshold)
{
    public int Layers => Values.GetLength(0);
    public int Heads => Values.GetLength(1);
    public double this[int layer, int head] => Values[layer, head];

    /// <summary>Extra per-head numbers shown beside the score (name → [layer, head]).</summary>
    public IReadOnlyDictionary<string, double[,]> Extra { get; init; } = new Dictionary<string, double[,]>();

    /// <summary>A flag rule other than "score &gt; threshold" (S-inhibition: attention &gt; 0.1 and copy score &lt; 0).</summary>
    public Func<int, int, bool>? Rule { get; init; }

    /// <summary>How the flag is decided, in words.</summary>
    public string FlagRule { get; init; } = "";

    /// <summary>Heads the detector flags (score strictly above the threshold, as the sources state "&gt; 0.3").</summary>
    public IReadOnlyList<(int Layer, int Head, double Score)> Flagged =>
        [.. from l in Enumerable.Range(0, Layers) from h in Enumerable.Range(0, Heads)
            where IsFlagged(l, h) select (l, h, Values[l, h])];

    public bool IsFlagged(int layer, int head) => Rule?.Invoke(layer, head) ?? Values[layer, head] > Threshold;

    public string FlagDescription => FlagRule.Length > 0 ? FlagRule : $"score > {Threshold}";

    public (int Layer, int Head, double Score) Best =>
        (from l in Enumerable.Range(0, Layers) from h in Enumerable.Range(0, Heads) select (l, h, Values[l, h]))
        .MaxBy(x => x.Item3);

    public static string Name(int layer, int head) => $"L{layer}H{head}";
}
