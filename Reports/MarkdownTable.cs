using System.Text;

namespace Verification.Reports;

/// <summary>Reads the pipe tables that <see cref="Table.ToMarkdown"/> and <see cref="Finding.ToRow"/> write.</summary>
public static class MarkdownTable
{
    /// <summary>The cells of one "| a | b |" row; "\|" is a literal bar inside a cell.</summary>
    public static IReadOnlyList<string> SplitRow(string row)
    {
        var text = row.Trim();
        if (!text.StartsWith('|') || !text.EndsWith('|') || text.Length < 2) throw new FormatException($"not a table row: {row}");
        var cells = new List<string>();
        var cell = new StringBuilder();
        for (var i = 1; i < text.Length - 1; i++)
        {
            if (text[i] == '\\' && text[i + 1] == '|') { cell.Append('|'); i++; }
            else if (text[i] == '|') { cells.Add(cell.ToString().Trim()); cell.Clear(); }
            else cell.Append(text[i]);
        }
        cells.Add(cell.ToString().Trim());
        return cells;
    }

    /// <summary>Whether a row is the "| --- | --- |" line under a header.</summary>
    public static bool IsRule(string row) => row.Trim().Trim('|').Split('|').All(c => c.Trim().Trim(':').Length > 0 && c.Trim().Trim(':').All(ch => ch == '-'));

    /// <summary>
    /// The tables in a Markdown text and the text between them: each block is either a table (header, then rows)
    /// or a run of other lines.
    /// </summary>
    public static IEnumerable<(IReadOnlyList<string>? Header, IReadOnlyList<IReadOnlyList<string>> Rows, string Text)> Blocks(string markdown)
    {
        var lines = markdown.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var other = new StringBuilder();
        for (var i = 0; i < lines.Length; i++)
        {
            var isTable = lines[i].TrimStart().StartsWith('|') && i + 1 < lines.Length && lines[i + 1].TrimStart().StartsWith('|') && IsRule(lines[i + 1]);
            if (!isTable)
            {
                other.Append(lines[i]).Append('\n');
                continue;
            }
            if (other.ToString().Trim().Length > 0) yield return (null, [], other.ToString().Trim());
            other.Clear();
            var header = SplitRow(lines[i]);
            var rows = new List<IReadOnlyList<string>>();
            for (i += 2; i < lines.Length && lines[i].TrimStart().StartsWith('|'); i++) rows.Add(SplitRow(lines[i]));
            i--;
            yield return (header, rows, "");
        }
        if (other.ToString().Trim().Length > 0) yield return (null, [], other.ToString().Trim());
    }
}
