namespace Verification.Reports;

public enum Verdict
{
    /// <summary>The claim holds on this model, by the numbers.</summary>
    Holds,

    /// <summary>The claim does not hold on this model; the numbers say so.</summary>
    Refuted,

    /// <summary>Part of the claim holds.</summary>
    Partly,

    /// <summary>The measurement's interval straddles the claim's threshold: neither holds nor refuted.</summary>
    Borderline,
}

/// <summary>
/// One claim measured on one model: what the source says, what we measured, and the verdict. Specs approve it as a
/// one-row Markdown file next to their tables, and the index (Approved/README.md) is assembled from those rows.
/// </summary>
public sealed record Finding(string Id, string Claim, string Source, string Model, string Expected, string Measured, Verdict Verdict)
{
    public const string Part = "finding";

    public static string VerdictText(Verdict v) => v switch
    {
        Verdict.Holds => "holds",
        Verdict.Refuted => "refuted on this model",
        Verdict.Borderline => "borderline",
        _ => "partly holds",
    };

    /// <summary>The row: | id | claim | source | model | expected | measured | verdict | evidence |.</summary>
    public string ToRow(IEnumerable<string> evidence) =>
        "| " + string.Join(" | ", new[] { Id, Claim, Source, Model, Expected, Measured, VerdictText(Verdict),
            string.Join(" ", evidence.Select(e => $"[{Path.GetExtension(e).TrimStart('.')}]({e})")) }.Select(Cell)) + " |";

    static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);
}
