using System.Globalization;
using System.Text.RegularExpressions;

namespace Verification.Reports.Review;

/// <summary>
/// A received snapshot waiting for review: <c>X.received.ext</c> beside <c>X.verified.ext</c> (absent for a new
/// snapshot); the index is <c>README.received.md</c> beside <c>README.md</c>.
/// </summary>
public sealed record PendingSnapshot(string Name, string Extension, string ReceivedPath, string VerifiedPath)
{
    public bool IsNew => !File.Exists(VerifiedPath);
    public bool IsIndex => Name == IndexName;
    public const string IndexName = "README";

    /// <summary>The claim a snapshot belongs to: "{SpecFile}.{Test}" (slugs hold no dots), the index its own.</summary>
    public string Claim => string.Join('.', Name.Split('.').Take(2));

    /// <summary>The snapshot's part ("scores", "finding"), or "" for a test's only snapshot.</summary>
    public string Part => Name.Split('.') is { Length: > 2 } parts ? string.Join('.', parts.Skip(2)) : "";

    public string FileName => Path.GetFileName(VerifiedPath);
}

/// <summary>One table cell whose text changed; <paramref name="Change"/> is new − old when both are numbers.</summary>
public sealed record CellChange(int Row, string RowLabel, string Column, string Old, string New, double? Change)
{
    /// <summary>A move within one unit of the last printed place: a flicker the comparer accepts by default.</summary>
    public bool IsFlicker { get; init; }
}

/// <summary>A finding whose verdict differs between the approved and the received text (or that appeared or went).</summary>
public sealed record VerdictFlip(string Id, string Claim, string Model, string Old, string New)
{
    public override string ToString() => $"{Id} {Claim} ({Model}): {Old} → {New}";
}

/// <summary>What changed in one pending snapshot.</summary>
public sealed record SnapshotChange(PendingSnapshot Snapshot, IReadOnlyList<CellChange> Cells, IReadOnlyList<VerdictFlip> Flips,
    IReadOnlyList<string> Lines, int MovedNumbers, string? Structure)
{
    /// <summary>Cells that moved beyond a flicker: what a reviewer must look at.</summary>
    public IReadOnlyList<CellChange> Moved => [.. Cells.Where(c => !c.IsFlicker)];
}

/// <summary>Every pending snapshot of one claim, with the claim's finding when there is one.</summary>
public sealed record ClaimChanges(string Claim, string Title, IReadOnlyList<SnapshotChange> Snapshots)
{
    public IReadOnlyList<VerdictFlip> Flips => [.. Snapshots.SelectMany(s => s.Flips).Distinct()];

    /// <summary>Every flipped verdict once: a finding's file and the index report the same flip.</summary>
    public static IReadOnlyList<VerdictFlip> AllFlips(IEnumerable<ClaimChanges> claims) => [.. claims.SelectMany(c => c.Flips).Distinct()];
}

/// <summary>
/// Finds the received snapshots of an approved folder, says what moved in each (cells of tables, verdicts of
/// findings and of the index, numbers of plots, lines of text) and accepts or rejects them. Accepting renames the
/// received file over the approved one, exactly as a reviewer would by hand.
/// </summary>
public static partial class SnapshotReview
{
    [GeneratedRegex(@"^(?<name>.+)\.received\.(?<ext>[A-Za-z0-9]+)$", RegexOptions.CultureInvariant)]
    private static partial Regex ReceivedPattern();

    public static IReadOnlyList<PendingSnapshot> Pending(string approvedFolder)
    {
        if (!Directory.Exists(approvedFolder)) throw new DirectoryNotFoundException($"no approved snapshots at {approvedFolder}");
        var pending = new List<PendingSnapshot>();
        foreach (var path in Directory.GetFiles(approvedFolder, "*.received.*").Order(StringComparer.Ordinal))
        {
            var match = ReceivedPattern().Match(Path.GetFileName(path));
            if (!match.Success) continue;
            var name = match.Groups["name"].Value;
            var ext = match.Groups["ext"].Value;
            var verified = name == PendingSnapshot.IndexName
                ? Path.Combine(approvedFolder, FindingsIndex.FileName)
                : Path.Combine(approvedFolder, $"{name}.verified.{ext}");
            pending.Add(new PendingSnapshot(name, ext, path, verified));
        }
        return pending;
    }

    /// <summary>The pending snapshots grouped by claim: the index first, then claims with a flipped verdict, then the rest by name.</summary>
    public static IReadOnlyList<ClaimChanges> Review(string approvedFolder)
    {
        var changes = Pending(approvedFolder).Select(Change).ToList();
        return [.. changes.GroupBy(c => c.Snapshot.Claim)
            .Select(g => new ClaimChanges(g.Key, TitleOf(approvedFolder, g.Key), [.. g.OrderBy(c => c.Snapshot.Part, StringComparer.Ordinal)]))
            .OrderBy(c => c.Claim == PendingSnapshot.IndexName ? 0 : c.Flips.Count > 0 ? 1 : 2)
            .ThenBy(c => c.Claim, StringComparer.Ordinal)];
    }

    /// <summary>"id claim (model)" from the claim's finding, received first; the claim's snapshot name otherwise.</summary>
    static string TitleOf(string folder, string claim)
    {
        if (claim == PendingSnapshot.IndexName) return "The index of findings (Approved/README.md)";
        foreach (var kind in new[] { "received", "verified" })
        {
            var path = Path.Combine(folder, $"{claim}.{Finding.Part}.{kind}.md");
            if (!File.Exists(path)) continue;
            try
            {
                var (finding, _) = Finding.ParseRow(File.ReadAllText(path).Trim());
                return $"{finding.Id} {finding.Claim} ({finding.Model})";
            }
            catch (FormatException) { }
        }
        return claim;
    }

    public static SnapshotChange Change(PendingSnapshot snapshot)
    {
        var received = ReadReceived(snapshot);
        if (snapshot.IsNew)
            return new SnapshotChange(snapshot, [], FlipsOf(null, received, snapshot), [], 0, "new snapshot: nothing approved yet");
        var approved = File.ReadAllText(snapshot.VerifiedPath);
        var comparison = SnapshotComparer.Compare(approved, received, snapshot.Extension);
        var cells = snapshot.Extension == "csv" ? CellChanges(approved, received) : [];
        var lines = snapshot.Extension is "csv" or "svg" ? [] : LineDiff.Lines(approved, received);
        return new SnapshotChange(snapshot, cells, FlipsOf(approved, received, snapshot), lines, comparison.Moved.Count, comparison.StructureChange);
    }

    /// <summary>Verdicts by (id, model) in a finding file or the index; a finding that appears or goes counts as a flip.</summary>
    static IReadOnlyList<VerdictFlip> FlipsOf(string? approved, string received, PendingSnapshot snapshot)
    {
        if (snapshot.Extension != "md" || !(snapshot.IsIndex || snapshot.Part == Finding.Part)) return [];
        var before = approved is null ? [] : Findings(approved);
        var after = Findings(received);
        var flips = new List<VerdictFlip>();
        foreach (var (key, f) in after)
        {
            var old = before.TryGetValue(key, out var b) ? Finding.VerdictText(b.Verdict) : "(no finding)";
            if (old != Finding.VerdictText(f.Verdict)) flips.Add(new VerdictFlip(f.Id, f.Claim, f.Model, old, Finding.VerdictText(f.Verdict)));
        }
        foreach (var (key, b) in before)
            if (!after.ContainsKey(key)) flips.Add(new VerdictFlip(b.Id, b.Claim, b.Model, Finding.VerdictText(b.Verdict), "(no finding)"));
        return flips;
    }

    /// <summary>Every finding row in a text (the index holds many, a finding file one), by id and model.</summary>
    static Dictionary<(string Id, string Model), Finding> Findings(string markdown)
    {
        var found = new Dictionary<(string, string), Finding>();
        foreach (var line in markdown.Split('\n').Where(l => l.StartsWith('|') && !MarkdownTable.IsRule(l)))
        {
            try
            {
                var (finding, _) = Finding.ParseRow(line);
                found[(finding.Id, finding.Model)] = finding;
            }
            catch (FormatException) { } // a header, or a row of another table (the published claims)
        }
        return found;
    }

    /// <summary>
    /// Cells whose text changed, rows paired by position. A row is labelled by its first cell, or as L{layer}H{head}
    /// when the table starts with layer and head columns.
    /// </summary>
    public static IReadOnlyList<CellChange> CellChanges(string approved, string received)
    {
        var a = Csv.Parse(approved);
        var b = Csv.Parse(received);
        if (a.Count == 0 || b.Count == 0) return [];
        var header = b[0];
        var layerHead = header.Count >= 2 && header[0] == "layer" && header[1] == "head";
        var changes = new List<CellChange>();
        for (var r = 1; r < Math.Min(a.Count, b.Count); r++)
        {
            var label = layerHead && b[r].Count >= 2 ? $"L{b[r][0]}H{b[r][1]}" : b[r].Count > 0 ? b[r][0] : "";
            for (var c = 0; c < Math.Min(a[r].Count, b[r].Count); c++)
            {
                if (a[r][c] == b[r][c]) continue;
                var column = c < header.Count ? header[c] : $"column {c + 1}";
                var isNumber = double.TryParse(a[r][c], NumberStyles.Float, CultureInfo.InvariantCulture, out var x) &
                    double.TryParse(b[r][c], NumberStyles.Float, CultureInfo.InvariantCulture, out var y);
                var flicker = isNumber && SnapshotComparer.Compare(a[r][c], b[r][c], "txt").Matches;
                changes.Add(new CellChange(r + 1, label, column, a[r][c], b[r][c], isNumber ? y - x : null) { IsFlicker = flicker });
            }
        }
        return changes;
    }

    static readonly System.Text.UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// A received file's text, refused unless it is what the suite writes for its extension: UTF-8 text without control
    /// characters (tab, CR and LF aside), a table that parses for .csv, an &lt;svg&gt; document for .svg. Anything else
    /// (a binary file under a snapshot's name) is never compared, shown or accepted.
    /// </summary>
    public static string ReadReceived(PendingSnapshot snapshot)
    {
        var path = snapshot.ReceivedPath;
        string Refuse(string why) => throw new InvalidDataException($"{path} is not a snapshot: {why}; delete it (snapshots are UTF-8 text as the specs write them).");
        var bytes = File.ReadAllBytes(path);
        string text;
        try { text = StrictUtf8.GetString(bytes); }
        catch (System.Text.DecoderFallbackException e) { return Refuse($"byte {e.Index} is not UTF-8"); }
        var control = text.IndexOfAny([.. Enumerable.Range(0, 32).Where(c => c is not ('\t' or '\n' or '\r')).Select(c => (char)c), '\u007f']);
        if (control >= 0) return Refuse($"it holds the control character U+{(int)text[control]:X4} at character {control}");
        if (snapshot.Extension == "svg" && !Site.ReportSite.StripXmlDeclaration(text).TrimStart().StartsWith("<svg", StringComparison.Ordinal))
            return Refuse("it is not an <svg> document");
        if (snapshot.Extension == "csv")
        {
            try { Csv.Parse(text); }
            catch (FormatException e) { return Refuse("it is not a table: " + e.Message); }
        }
        return text;
    }

    /// <summary>The received text becomes the approved one: the same rename a reviewer does by hand.</summary>
    public static void Accept(PendingSnapshot snapshot) => File.Move(snapshot.ReceivedPath, snapshot.VerifiedPath, overwrite: true);

    /// <summary>The received text is dropped; the approved one stays.</summary>
    public static void Reject(PendingSnapshot snapshot) => File.Delete(snapshot.ReceivedPath);

    /// <summary>A shell-style glob ('*' any run of characters, '?' one) on the snapshot's name or its received file's name.</summary>
    public static bool Matches(string pattern, PendingSnapshot snapshot)
    {
        var glob = new Regex("^" + Regex.Escape(pattern).Replace("\\*", ".*", StringComparison.Ordinal).Replace("\\?", ".", StringComparison.Ordinal) + "$",
            RegexOptions.CultureInvariant);
        return glob.IsMatch(snapshot.Name) || glob.IsMatch(Path.GetFileName(snapshot.ReceivedPath));
    }
}

/// <summary>A line diff by longest common subsequence: "- old" and "+ new" lines, in order.</summary>
public static class LineDiff
{
    public static IReadOnlyList<string> Lines(string approved, string received)
    {
        var a = approved.TrimEnd('\n').Split('\n');
        var b = received.TrimEnd('\n').Split('\n');
        var common = new int[a.Length + 1, b.Length + 1];
        for (var i = a.Length - 1; i >= 0; i--)
            for (var j = b.Length - 1; j >= 0; j--)
                common[i, j] = a[i] == b[j] ? common[i + 1, j + 1] + 1 : Math.Max(common[i + 1, j], common[i, j + 1]);
        var lines = new List<string>();
        int x = 0, y = 0;
        while (x < a.Length || y < b.Length)
        {
            if (x < a.Length && y < b.Length && a[x] == b[y]) { x++; y++; }
            // Removed lines before added ones, as a unified diff shows them.
            else if (x < a.Length && (y == b.Length || common[x + 1, y] >= common[x, y + 1])) lines.Add("- " + a[x++]);
            else lines.Add("+ " + b[y++]);
        }
        return lines;
    }
}
