using System.Globalization;
using System.Text;
using Verification.Reports.Site;
using static Verification.Reports.Site.Html;

namespace Verification.Reports.Review;

/// <summary>The review as a reviewer reads it: Markdown for a CI step summary, and an HTML page with plots side by side.</summary>
public static class ReviewPages
{
    public const string HtmlFile = "review.html";
    const int MaxRows = 25;
    const int MaxLines = 40;

    /// <summary>The first line, on its own: the flipped verdict when one flipped (a reviewer's first question).</summary>
    public static string Headline(IReadOnlyList<ClaimChanges> claims)
    {
        var flips = ClaimChanges.AllFlips(claims);
        var files = claims.Sum(c => c.Snapshots.Count);
        if (files == 0) return "No snapshot differs from its approved file.";
        return flips.Count == 0
            ? $"No verdict flipped; {files} snapshot(s) differ in {claims.Count} claim(s)."
            : $"Verdict flipped: {flips[0]}" + (flips.Count > 1 ? $" (and {flips.Count - 1} more)" : "");
    }

    public static string Markdown(IReadOnlyList<ClaimChanges> claims)
    {
        var text = new StringBuilder();
        var headline = Headline(claims);
        text.Append(headline.StartsWith("Verdict flipped", StringComparison.Ordinal) ? $"**{headline}**" : headline).Append("\n\n");
        var flips = ClaimChanges.AllFlips(claims);
        var files = claims.Sum(c => c.Snapshots.Count);
        if (files == 0) return text.ToString();
        text.Append(CultureInfo.InvariantCulture, $"{files} snapshot(s) differ in {claims.Count} claim(s). ");
        text.Append("Review them with `dotnet run --project Cli -- review`; accept with `… review --accept-all` or `--accept 'PATTERN'`.\n\n");
        if (flips.Count > 0)
        {
            text.Append("### Flipped verdicts\n\n");
            foreach (var f in flips) text.Append($"- {Cell(f.Id)} {Cell(f.Claim)} ({Cell(f.Model)}): **{f.Old} → {f.New}**\n");
            text.Append('\n');
        }
        foreach (var claim in claims)
        {
            text.Append($"### {claim.Title}\n\n");
            if (claim.Title != claim.Claim) text.Append($"`{claim.Claim}`\n\n");
            foreach (var change in claim.Snapshots)
            {
                text.Append($"- `{change.Snapshot.FileName}`: {Summary(change)}\n");
                foreach (var f in change.Flips) text.Append($"  - verdict of {Cell(f.Id)} ({Cell(f.Model)}): **{f.Old} → {f.New}**\n");
                if (change.Moved.Count > 0)
                {
                    text.Append("\n  | row | column | approved | received | change |\n  | --- | --- | --- | --- | --- |\n");
                    foreach (var c in change.Moved.Take(MaxRows))
                        text.Append($"  | {Cell(c.RowLabel)} | {Cell(c.Column)} | {Cell(c.Old)} | {Cell(c.New)} | {ChangeText(c)} |\n");
                    if (change.Moved.Count > MaxRows) text.Append(CultureInfo.InvariantCulture, $"\n  … and {change.Moved.Count - MaxRows} more cells\n");
                    text.Append('\n');
                }
                if (change.Lines.Count > 0 && change.Flips.Count == 0)
                {
                    text.Append("\n  ```diff\n");
                    foreach (var line in change.Lines.Take(MaxLines)) text.Append("  ").Append(line).Append('\n');
                    if (change.Lines.Count > MaxLines) text.Append(CultureInfo.InvariantCulture, $"  … {change.Lines.Count - MaxLines} more lines\n");
                    text.Append("  ```\n\n");
                }
            }
            text.Append('\n');
        }
        return text.ToString();
    }

    /// <summary>One line per snapshot: what kind of change it is.</summary>
    public static string Summary(SnapshotChange change)
    {
        var s = change.Snapshot;
        if (s.IsNew) return "new snapshot (nothing approved yet)";
        var parts = new List<string>();
        if (change.Flips.Count > 0) parts.Add($"{change.Flips.Count} verdict(s) flipped");
        if (s.Extension == "csv")
        {
            parts.Add($"{change.Moved.Count} cell(s) moved");
            var flickers = change.Cells.Count - change.Moved.Count;
            if (flickers > 0) parts.Add($"{flickers} within a unit of the last place");
        }
        else if (s.Extension == "svg") parts.Add($"plot changed ({change.MovedNumbers} number(s) moved); both pictures side by side in {HtmlFile}");
        else if (change.Flips.Count == 0) parts.Add($"{change.Lines.Count} line(s) changed");
        if (change.Structure is not null) parts.Add(change.Structure);
        return string.Join("; ", parts);
    }

    static string ChangeText(CellChange c) =>
        c.Change is { } d ? d.ToString("+0.######;-0.######;0", CultureInfo.InvariantCulture) : "(text)";

    static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);

    /// <summary>A self-contained page: the same content, the approved and received plots side by side.</summary>
    public static string Html(IReadOnlyList<ClaimChanges> claims)
    {
        var body = new StringBuilder();
        var headline = Headline(claims);
        body.Append("<h1>Snapshots to review</h1>\n");
        body.Append($"<p class=\"headline{(claims.Any(c => c.Flips.Count > 0) ? " flipped" : "")}\">{E(headline)}</p>\n");
        foreach (var claim in claims)
        {
            body.Append($"<section class=\"claim\" data-claim=\"{E(claim.Claim)}\"><h2>{E(claim.Title)}</h2><p class=\"file\">{E(claim.Claim)}</p>\n");
            foreach (var change in claim.Snapshots)
            {
                var s = change.Snapshot;
                body.Append($"<div class=\"snapshot\" data-file=\"{E(s.FileName)}\"><h3><code>{E(s.FileName)}</code>: {E(Summary(change))}</h3>\n");
                foreach (var f in change.Flips)
                    body.Append($"<p class=\"flip\">verdict of {E(f.Id)} ({E(f.Model)}): {E(f.Old)} → <strong>{E(f.New)}</strong></p>\n");
                if (change.Moved.Count > 0)
                    body.Append(Table(["row", "column", "approved", "received", "change"],
                        change.Moved.Select(c => (IReadOnlyList<string>)[c.RowLabel, c.Column, c.Old, c.New, ChangeText(c)])));
                if (s.Extension == "svg")
                {
                    body.Append("<div class=\"pair\">");
                    body.Append("<figure><figcaption>approved</figcaption>")
                        .Append(s.IsNew ? "<p>(none)</p>" : Svg(File.ReadAllText(s.VerifiedPath), "approved")).Append("</figure>");
                    body.Append("<figure><figcaption>received</figcaption>").Append(Svg(SnapshotReview.ReadReceived(s), "received")).Append("</figure>");
                    body.Append("</div>\n");
                }
                else if (s.IsNew) body.Append($"<pre>{E(SnapshotReview.ReadReceived(s))}</pre>\n");
                else if (change.Lines.Count > 0)
                    body.Append("<pre class=\"diff\">").Append(string.Join("\n", change.Lines.Select(l =>
                        $"<span class=\"{(l.StartsWith('+') ? "added" : "removed")}\">{E(l)}</span>")))
                        .Append("</pre>\n");
                body.Append("</div>\n");
            }
            body.Append("</section>\n");
        }
        return $$"""
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <title>Snapshots to review · Verification</title>
            <style>
            {{ReportSite.Resource(ReportSite.StyleFile)}}
            .headline { font-size: 1.1em; font-weight: 600; }
            .headline.flipped, .flip { color: #991b1b; }
            .pair { display: flex; gap: 1.5em; flex-wrap: wrap; }
            .pair figure { margin: 0; background: white; border: 1px solid #e5e7eb; padding: 0.5em; }
            .pair img { max-width: 640px; height: auto; }
            pre.diff .added { color: #166534; } pre.diff .removed { color: #991b1b; }
            section.claim { border-top: 1px solid #d1d5db; margin-top: 1.5em; }
            </style>
            </head>
            <body>
            <main>
            {{body}}
            </main>
            </body>
            </html>

            """;
    }

    /// <summary>
    /// A plot as an image, never as inline markup: a received SVG is a file anyone could have put there, and an SVG shown
    /// through &lt;img&gt; runs no script, loads nothing and cannot touch the page.
    /// </summary>
    static string Svg(string svg, string which) =>
        $"<img alt=\"{which} plot\" src=\"data:image/svg+xml;base64,{Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(svg))}\">";
}
