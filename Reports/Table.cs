using System.Globalization;
using System.Text;

namespace Verification.Reports;

/// <summary>
/// A column of a <see cref="Table"/>. Numbers are rounded to <paramref name="Decimals"/> places; an approved snapshot
/// of the table lets them move by <paramref name="Tolerance"/> (default: one unit in the last place).
/// </summary>
public sealed record Column(string Name, int Decimals = Table.DefaultDecimals, Tolerance? Tolerance = null);

/// <summary>
/// A small table of text and numbers that renders identically on every machine: numbers are rounded
/// to their column's declared precision (away from zero at the midpoint), "-0" is written as "0",
/// the culture is invariant and lines end in LF.
/// </summary>
public sealed class Table
{
    public const int DefaultDecimals = 4;

    readonly List<object?[]> rows = [];

    public Table(params Column[] columns)
    {
        if (columns.Length == 0) throw new ArgumentException("A table needs at least one column.", nameof(columns));
        Columns = columns;
    }

    public Table(params string[] columnNames) : this(columnNames.Select(n => new Column(n)).ToArray()) { }

    public IReadOnlyList<Column> Columns { get; }

    public int RowCount => rows.Count;

    public IReadOnlyList<object?> Row(int index) => rows[index];

    public Table AddRow(params object?[] cells)
    {
        if (cells.Length != Columns.Count)
            throw new ArgumentException($"Row has {cells.Length} cells but the table has {Columns.Count} columns ({string.Join(", ", Columns.Select(c => c.Name))}).");
        rows.Add(cells);
        return this;
    }

    /// <summary>The cell as it is written: rounded, invariant, never "-0".</summary>
    public string Format(int row, int column) => FormatCell(rows[row][column], Columns[column].Decimals);

    public static string FormatNumber(double value, int decimals)
    {
        if (double.IsNaN(value)) return "NaN";
        if (double.IsPositiveInfinity(value)) return "Inf";
        if (double.IsNegativeInfinity(value)) return "-Inf";
        var rounded = Math.Round(value, decimals, MidpointRounding.AwayFromZero);
        if (rounded == 0) rounded = 0; // turns -0 into 0
        return rounded.ToString("F" + decimals, CultureInfo.InvariantCulture);
    }

    static string FormatCell(object? cell, int decimals) => cell switch
    {
        null => "",
        string s => s,
        double d => FormatNumber(d, decimals),
        float f => FormatNumber(f, decimals),
        decimal m => FormatNumber((double)m, decimals),
        bool b => b ? "true" : "false",
        IFormattable x => x.ToString(null, CultureInfo.InvariantCulture),
        _ => cell.ToString() ?? "",
    };

    public string ToCsv()
    {
        var text = new StringBuilder();
        text.Append(string.Join(",", Columns.Select(c => CsvEscape(c.Name)))).Append('\n');
        for (var r = 0; r < rows.Count; r++)
        {
            for (var c = 0; c < Columns.Count; c++)
            {
                if (c > 0) text.Append(',');
                text.Append(CsvEscape(Format(r, c)));
            }
            text.Append('\n');
        }
        return text.ToString();
    }

    public string ToMarkdown()
    {
        var text = new StringBuilder();
        text.Append("| ").Append(string.Join(" | ", Columns.Select(c => MarkdownEscape(c.Name)))).Append(" |\n");
        text.Append('|').Append(string.Concat(Columns.Select(_ => " --- |"))).Append('\n');
        for (var r = 0; r < rows.Count; r++)
        {
            text.Append("| ");
            text.Append(string.Join(" | ", Enumerable.Range(0, Columns.Count).Select(c => MarkdownEscape(Format(r, c)))));
            text.Append(" |\n");
        }
        return text.ToString();
    }

    static string CsvEscape(string cell) =>
        cell.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + cell.Replace("\"", "\"\"") + "\"" : cell;

    static string MarkdownEscape(string cell) => cell.Replace("|", "\\|").Replace("\n", " ");
}
