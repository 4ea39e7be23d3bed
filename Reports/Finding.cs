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

    /// <summary>Reads back a row written by <see cref="ToRow"/>: the finding and its evidence files.</summary>
    /// <exception cref="FormatException">The row does not have the eight cells of a finding or names no known verdict.</exception>
    public static (Finding Finding, IReadOnlyList<string> Evidence) ParseRow(string row)
    {
        var cells = MarkdownTable.SplitRow(row);
        if (cells.Count != 8) throw new FormatException($"a finding row has 8 cells, this one {cells.Count}: {row}");
        var verdict = Enum.GetValues<Verdict>().Where(v => VerdictText(v) == cells[6]).Select(v => (Verdict?)v).FirstOrDefault()
            ?? throw new FormatException($"'{cells[6]}' is not a verdict ({string.Join(", ", Enum.GetValues<Verdict>().Select(VerdictText))})");
        var evidence = System.Text.RegularExpressions.Regex.Matches(cells[7], @"\[[a-z]+\]\(([^)]+)\)").Select(m => m.Groups[1].Value).ToList();
        return (new Finding(cells[0], cells[1], cells[2], cells[3], cells[4], cells[5], verdict), evidence);
    }
}
