using System.Text;

namespace Verification.Reports;

/// <summary>File names from claim and detector names: the same for the CLI's output and the approved snapshots.</summary>
public static class FileNames
{
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

    /// <summary>
    /// A snapshot's name, <c>{SpecFile}.{Test}[.{part}]</c>, with the test's name cut at 150 characters (test names
    /// that differ only after that would share a snapshot).
    /// </summary>
    public static string SnapshotName(string specFile, string testName, string? part = null)
    {
        var name = Slug(specFile) + "." + Slug(testName);
        if (name.Length > 150) name = name[..150].TrimEnd('_');
        return part is null ? name : name + "." + Slug(part);
    }
}
