using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Verification.Reports;

/// <summary>
/// How far a number in a snapshot may move before the snapshot counts as changed. Every number with a decimal point
/// may always move by one unit in its last printed place (a value a hair from a rounding boundary flickers there
/// between CPUs, BLAS kernels and SIMD widths); integers (counts, indices) must match exactly unless a wider
/// tolerance is declared. A declared tolerance widens that: the allowed difference is the largest of the last-place
/// unit, <see cref="Absolute"/> and <see cref="Relative"/> × the larger magnitude.
/// </summary>
public sealed record Tolerance(double Absolute = 0, double Relative = 0)
{
    /// <summary>The default: one unit in the last printed place, integers exact.</summary>
    public static readonly Tolerance Default = new();

    public static Tolerance Abs(double absolute) => new(Absolute: absolute);

    public static Tolerance Rel(double relative) => new(Relative: relative);

    public double Allowed(SnapshotNumber approved, SnapshotNumber received) =>
        Math.Max(LastPlace(approved, received), Math.Max(Absolute, Relative * Math.Max(Math.Abs(approved.Value), Math.Abs(received.Value))));

    // The finer of the two last places: a plot's "0.##" drops trailing zeros, so "7.5" beside "7.49" is 7.50 vs 7.49.
    static double LastPlace(SnapshotNumber a, SnapshotNumber b) =>
        a.LastPlaceUnit == 0 ? b.LastPlaceUnit : b.LastPlaceUnit == 0 ? a.LastPlaceUnit : Math.Min(a.LastPlaceUnit, b.LastPlaceUnit);

    public override string ToString() =>
        this == Default ? "one unit in the last place"
        : string.Create(CultureInfo.InvariantCulture, $"{(Absolute > 0 ? $"±{Absolute:G4}" : "")}{(Absolute > 0 && Relative > 0 ? " or " : "")}{(Relative > 0 ? $"{Relative:P2}" : "")} (at least one unit in the last place)");
}

/// <summary>A number as printed in a snapshot: its value and the unit of its last printed digit (0 for an integer).</summary>
public readonly record struct SnapshotNumber(string Text, double Value, double LastPlaceUnit)
{
    public static SnapshotNumber Parse(string text)
    {
        var value = double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
        var mantissa = text.Split('e', 'E')[0];
        var exponent = text.Length > mantissa.Length ? int.Parse(text[(mantissa.Length + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture) : 0;
        var dot = mantissa.IndexOf('.', StringComparison.Ordinal);
        var decimals = dot < 0 ? 0 : mantissa.Length - dot - 1;
        // An integer without exponent is a count or an index: exact. Anything printed with decimals or an exponent is a measurement.
        var unit = dot < 0 && exponent == 0 && text.Length == mantissa.Length ? 0 : Math.Pow(10, exponent - decimals);
        return new SnapshotNumber(text, value, unit);
    }
}

/// <summary>A number that moved, where it is, and by how much.</summary>
public sealed record MovedNumber(int Line, string Where, SnapshotNumber Approved, SnapshotNumber Received, double Allowed)
{
    public double Change => Received.Value - Approved.Value;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"line {Line}{(Where.Length > 0 ? $" ({Where})" : "")}: {Approved.Text} → {Received.Text} (change {Change:+0.######;-0.######;0}, allowed ±{Allowed:0.######})");
}

/// <summary>The outcome of comparing a received snapshot with its approved one.</summary>
public sealed record SnapshotComparison(bool Matches, IReadOnlyList<MovedNumber> Moved, IReadOnlyList<int> ChangedTextLines,
    int WithinTolerance, string? StructureChange)
{
    /// <summary>Which numbers moved and which lines changed in their text, for the failure message.</summary>
    public string Describe(int maxItems = 40)
    {
        var text = new StringBuilder();
        if (StructureChange is not null) text.Append(StructureChange).Append('\n');
        if (Moved.Count > 0)
        {
            text.Append(CultureInfo.InvariantCulture, $"{Moved.Count} number(s) moved beyond their tolerance:\n");
            foreach (var m in Moved.Take(maxItems)) text.Append("  ").Append(m).Append('\n');
            if (Moved.Count > maxItems) text.Append(CultureInfo.InvariantCulture, $"  … and {Moved.Count - maxItems} more\n");
        }
        if (ChangedTextLines.Count > 0)
            text.Append(CultureInfo.InvariantCulture, $"text (not numbers) changed on line(s) {string.Join(", ", ChangedTextLines.Take(maxItems))}{(ChangedTextLines.Count > maxItems ? ", …" : "")}\n");
        if (WithinTolerance > 0) text.Append(CultureInfo.InvariantCulture, $"({WithinTolerance} other number(s) differ within tolerance)\n");
        return text.ToString();
    }
}

/// <summary>
/// Compares snapshots token by token: text must be equal, numbers equal within a tolerance. CSV snapshots are compared
/// cell by cell so each column can declare its own tolerance; other text line by line with one tolerance.
/// </summary>
public static partial class SnapshotComparer
{
    // A number standing on its own: not part of a name like L1H0, F31 or #a1b2c3, not one part of a version like 1.2.3.
    [GeneratedRegex(@"(?<![\w.#])-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w]|\.\d)", RegexOptions.CultureInvariant)]
    private static partial Regex NumberPattern();

    /// <summary>A piece of text split into its literal runs and its numbers, in order.</summary>
    public static (List<string> Literals, List<SnapshotNumber> Numbers) Tokenize(string text)
    {
        var literals = new List<string>();
        var numbers = new List<SnapshotNumber>();
        var at = 0;
        foreach (Match match in NumberPattern().Matches(text))
        {
            literals.Add(text[at..match.Index]);
            numbers.Add(SnapshotNumber.Parse(match.Value));
            at = match.Index + match.Length;
        }
        literals.Add(text[at..]);
        return (literals, numbers);
    }

    /// <param name="columns">For CSV: tolerance by header name; columns not named use <paramref name="tolerance"/>.</param>
    public static SnapshotComparison Compare(string approved, string received, string extension, Tolerance? tolerance = null,
        IReadOnlyDictionary<string, Tolerance>? columns = null)
    {
        tolerance ??= Tolerance.Default;
        var isCsv = extension.Equals("csv", StringComparison.OrdinalIgnoreCase);
        var isSvg = extension.Equals("svg", StringComparison.OrdinalIgnoreCase);
        var approvedRows = isCsv ? Csv.Parse(approved) : Lines(approved);
        var receivedRows = isCsv ? Csv.Parse(received) : Lines(received);
        var moved = new List<MovedNumber>();
        var changedLines = new List<int>();
        var within = 0;
        string? structure = null;
        if (approvedRows.Count != receivedRows.Count)
            structure = $"{(isCsv ? "rows" : "lines")}: {approvedRows.Count} approved, {receivedRows.Count} received";

        var header = isCsv && approvedRows.Count > 0 ? approvedRows[0] : [];
        for (var r = 0; r < Math.Min(approvedRows.Count, receivedRows.Count); r++)
        {
            var a = approvedRows[r];
            var b = receivedRows[r];
            if (a.Count != b.Count)
            {
                structure ??= $"row {r + 1} has {a.Count} cells approved and {b.Count} received";
                changedLines.Add(r + 1);
                continue;
            }
            var lineChanged = false;
            for (var c = 0; c < a.Count; c++)
            {
                var column = isCsv && c < header.Count ? header[c] : "";
                var cellTolerance = columns is not null && columns.TryGetValue(column, out var t) ? t : tolerance;
                var (aText, aNumbers) = Tokenize(a[c]);
                var (bText, bNumbers) = Tokenize(b[c]);
                var sameText = aText.SequenceEqual(bText, StringComparer.Ordinal);
                if (!sameText && isSvg && aText.Count == bText.Count && aText.Zip(bText).All(p => p.First == p.Second || SameUpToColours(p.First, p.Second)))
                {
                    within++;
                    sameText = true;
                }
                if (aNumbers.Count != bNumbers.Count || !sameText)
                {
                    lineChanged = true;
                    continue;
                }
                for (var i = 0; i < aNumbers.Count; i++)
                {
                    if (aNumbers[i].Text == bNumbers[i].Text) continue;
                    var allowed = cellTolerance.Allowed(aNumbers[i], bNumbers[i]);
                    // The relative slack absorbs the binary representation of decimal units (0.001 is not exact).
                    if (Math.Abs(aNumbers[i].Value - bNumbers[i].Value) <= allowed * (1 + 1e-9)) within++;
                    else moved.Add(new MovedNumber(r + 1, isCsv ? $"column '{column}'" : "", aNumbers[i], bNumbers[i], allowed));
                }
            }
            if (lineChanged) changedLines.Add(r + 1);
        }
        return new SnapshotComparison(structure is null && moved.Count == 0 && changedLines.Count == 0, moved, changedLines, within, structure);
    }

    /// <summary>
    /// How far a plot's colour may move per channel (of 255): a value that moves in its last printed digit, or by a float
    /// rounding, shifts a mixed colour by a unit or two; a different colour band is tens of units away.
    /// </summary>
    public const int ColourChannelTolerance = 4;

    [GeneratedRegex("#[0-9a-fA-F]{6}", RegexOptions.CultureInvariant)]
    private static partial Regex HexColour();

    /// <summary>Two pieces of SVG text equal but for #rrggbb colours, each channel within <see cref="ColourChannelTolerance"/>.</summary>
    static bool SameUpToColours(string a, string b)
    {
        var ca = HexColour().Matches(a);
        var cb = HexColour().Matches(b);
        if (ca.Count == 0 || ca.Count != cb.Count || HexColour().Replace(a, "#") != HexColour().Replace(b, "#")) return false;
        for (var i = 0; i < ca.Count; i++)
            for (var channel = 0; channel < 3; channel++)
            {
                var x = Convert.ToInt32(ca[i].Value.Substring(1 + 2 * channel, 2), 16);
                var y = Convert.ToInt32(cb[i].Value.Substring(1 + 2 * channel, 2), 16);
                if (Math.Abs(x - y) > ColourChannelTolerance) return false;
            }
        return true;
    }

    static IReadOnlyList<IReadOnlyList<string>> Lines(string text) => [.. text.TrimEnd('\n').Split('\n').Select(l => (IReadOnlyList<string>)[l])];
}
