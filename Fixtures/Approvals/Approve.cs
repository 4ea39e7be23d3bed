using System.Text;
using NUnit.Framework;

namespace Verification.Fixtures.Approvals;

/// <summary>
/// Approves a spec's tables, plots and text as <c>Approved/{SpecFile}.{Test}[.{part}].verified.{ext}</c>, where
/// SpecFile is the spec's module and Test its name with spaces and punctuation turned into '_'.
/// <c>VERIFICATION_ACCEPT=1</c> accepts whatever is received.
/// </summary>
public static class Approve
{
    public static bool AcceptAll =>
        Environment.GetEnvironmentVariable("VERIFICATION_ACCEPT") is "1" or "true" or "yes";

    static Approver Approver => new(Repository.Approved, AcceptAll);

    /// <summary>Approves a table as CSV; each column's numbers compare within the tolerance the column declares.</summary>
    public static void Table(Table table, string? part = null, Tolerance? tolerance = null) =>
        Check(part, "csv", table.ToCsv(), tolerance,
            table.Columns.Where(c => c.Tolerance is not null).ToDictionary(c => c.Name, c => c.Tolerance!));

    public static void Svg(string svg, string? part = null, Tolerance? tolerance = null) => Check(part, "svg", svg, tolerance);

    public static void Text(string text, string? part = null, Tolerance? tolerance = null) => Check(part, "txt", text, tolerance);

    public static void Markdown(string markdown, string? part = null, Tolerance? tolerance = null) => Check(part, "md", markdown, tolerance);

    /// <summary>
    /// Approves a finding as one Markdown row whose evidence links are this test's other approved files (so the index
    /// points at the tables and plots that back it).
    /// </summary>
    /// <param name="otherEvidence">Snapshot names of other tests whose files back this finding too.</param>
    public static void Finding(Finding finding, params string[] otherEvidence)
    {
        var prefix = CurrentName() + ".";
        var evidence = Directory.Exists(Repository.Approved)
            ? Directory.GetFiles(Repository.Approved, prefix + "*.verified.*")
                .Select(Path.GetFileName).OfType<string>()
                .Where(f => !f.Contains("." + Approvals.Finding.Part + ".", StringComparison.Ordinal))
                .Order(StringComparer.Ordinal).ToList()
            : [];
        // The test's own unnamed snapshots ({name}.verified.csv) belong to it too.
        evidence.AddRange(Directory.Exists(Repository.Approved)
            ? Directory.GetFiles(Repository.Approved, CurrentName() + ".verified.*").Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal)
            : []);
        foreach (var other in otherEvidence)
            if (Directory.Exists(Repository.Approved))
                evidence.AddRange(Directory.GetFiles(Repository.Approved, other + ".verified.*").Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal));
        Check(Approvals.Finding.Part, "md", finding.ToRow(evidence.Distinct()));
    }

    /// <summary>The snapshot name of the running test: <c>{SpecFile}.{Test}[.{part}]</c>.</summary>
    public static string CurrentName(string? part = null)
    {
        var test = TestContext.CurrentContext.Test;
        var className = test.ClassName ?? "Unknown";
        var specFile = className[(className.LastIndexOfAny(['.', '+']) + 1)..];
        return SnapshotName(specFile, test.Name, part);
    }

    public static string SnapshotName(string specFile, string testName, string? part = null)
    {
        var name = Slug(specFile) + "." + Slug(testName);
        if (name.Length > 150) name = name[..150].TrimEnd('_');
        return part is null ? name : name + "." + Slug(part);
    }

    /// <summary>Letters, digits, '-' kept; any other run of characters becomes one '_'.</summary>
    public static string Slug(string text)
    {
        var slug = new StringBuilder(text.Length);
        foreach (var ch in text)
        {
            if (char.IsAsciiLetterOrDigit(ch) || ch == '-') slug.Append(ch);
            else if (slug.Length > 0 && slug[^1] != '_') slug.Append('_');
        }
        return slug.ToString().TrimEnd('_');
    }

    static void Check(string? part, string extension, string text, Tolerance? tolerance = null,
        IReadOnlyDictionary<string, Tolerance>? columns = null)
    {
        var outcome = Approver.Verify(CurrentName(part), extension, text, tolerance, columns);
        TestContext.Out.WriteLine($"snapshot: {outcome}");
    }
}
