using Spectre.Console;
using Verification.Engine.IO;
using Verification.Fixtures;
using Verification.Reports.Review;

namespace Verification.Cli.Commands;

/// <summary>
/// `review`: every received snapshot beside its approved one, grouped by claim, flipped verdicts first; accept or
/// reject each (interactively on a terminal, or with --accept-all / --accept PATTERN). Nothing is accepted silently:
/// each accepted file is named.
/// </summary>
public static class ReviewCommand
{
    public static readonly string DefaultHtmlFolder = Path.Combine("out", "review");

    public static int Run(string? approved, bool acceptAll, string[]? acceptPatterns, bool rejectAll, string? summary, string? htmlFolder)
    {
        var folder = Path.GetFullPath(approved ?? Repository.Approved);
        if (!Directory.Exists(folder)) throw new ArgumentException($"--approved: no folder {folder}.");
        var patterns = acceptPatterns ?? [];
        if (acceptAll && patterns.Length > 0) throw new ArgumentException("Give either --accept-all or --accept PATTERN, not both.");
        if (rejectAll && (acceptAll || patterns.Length > 0)) throw new ArgumentException("--reject-all cannot be combined with --accept-all or --accept.");

        var claims = SnapshotReview.Review(folder);
        // A pattern that matches nothing is a typo until shown otherwise: say so before anything is accepted.
        var received = claims.SelectMany(c => c.Snapshots).Select(c => c.Snapshot).ToList();
        foreach (var pattern in patterns)
            if (!received.Any(s => SnapshotReview.Matches(pattern, s)))
                throw new ArgumentException($"--accept '{pattern}' matches none of the {received.Count} received snapshot(s)" +
                    (received.Count == 0 ? "." : $" ({string.Join(", ", received.Take(5).Select(s => s.Name))}{(received.Count > 5 ? ", …" : "")}); nothing was accepted."));
        AnsiConsole.MarkupLine($"[bold]{Markup.Escape(ReviewPages.Headline(claims))}[/]");
        if (summary is not null)
        {
            AtomicFile.WriteAllText(Path.GetFullPath(summary), ReviewPages.Markdown(claims));
            AnsiConsole.MarkupLine($"summary: {Markup.Escape(Path.GetFullPath(summary))}");
        }
        if (claims.Count == 0) return 0;
        using (var pages = OutputFolder.Open(htmlFolder ?? DefaultHtmlFolder))
        {
            pages.WriteAllText(ReviewPages.HtmlFile, ReviewPages.Html(claims));
            pages.Commit();
            AnsiConsole.MarkupLine($"side by side: {Markup.Escape(Path.Combine(pages.Path, ReviewPages.HtmlFile))}");
        }
        foreach (var claim in claims) Print(claim);

        var interactive = !acceptAll && patterns.Length == 0 && !rejectAll && !Console.IsInputRedirected && ProgressDisplay.Interactive;
        var accepted = 0;
        var rejected = 0;
        foreach (var claim in claims)
        {
            var decision = acceptAll ? "accept"
                : rejectAll ? "reject"
                : interactive ? Ask(claim)
                : "keep";
            foreach (var change in claim.Snapshots)
            {
                var s = change.Snapshot;
                var take = decision == "accept" || (decision == "keep" && patterns.Any(p => SnapshotReview.Matches(p, s)));
                if (take)
                {
                    SnapshotReview.Accept(s);
                    accepted++;
                    AnsiConsole.MarkupLine($"[green]accepted[/] {Markup.Escape(Path.GetFileName(s.ReceivedPath))} → {Markup.Escape(s.FileName)}");
                }
                else if (decision == "reject")
                {
                    SnapshotReview.Reject(s);
                    rejected++;
                    AnsiConsole.MarkupLine($"[red]rejected[/] {Markup.Escape(Path.GetFileName(s.ReceivedPath))} (deleted; {Markup.Escape(s.FileName)} unchanged)");
                }
            }
        }
        var pending = claims.Sum(c => c.Snapshots.Count) - accepted - rejected;
        AnsiConsole.MarkupLine($"{accepted} accepted, {rejected} rejected, {pending} still pending.");
        if (accepted > 0)
            AnsiConsole.MarkupLine("[grey]Check the numbers against the definition before committing (git diff Approved/); " +
                "an accepted finding reaches Approved/README.md when the Index spec runs.[/]");
        if (!interactive && !acceptAll && !rejectAll && patterns.Length == 0)
            AnsiConsole.MarkupLine("[grey]Nothing accepted: run on a terminal to decide one by one, or give --accept-all or --accept PATTERN.[/]");
        return 0;
    }

    static string Ask(ClaimChanges claim) =>
        AnsiConsole.Prompt(new SelectionPrompt<string>()
            .Title($"[bold]{Markup.Escape(claim.Title)}[/]: {claim.Snapshots.Count} snapshot(s)")
            .AddChoices("accept", "reject", "keep"));

    static void Print(ClaimChanges claim)
    {
        AnsiConsole.WriteLine();
        AnsiConsole.MarkupLine($"[bold underline]{Markup.Escape(claim.Title)}[/]" + (claim.Title == claim.Claim ? "" : $" [grey]{Markup.Escape(claim.Claim)}[/]"));
        foreach (var change in claim.Snapshots)
        {
            AnsiConsole.MarkupLine($"  {Markup.Escape(change.Snapshot.FileName)}: {Markup.Escape(ReviewPages.Summary(change))}");
            foreach (var f in change.Flips)
                AnsiConsole.MarkupLine($"    [red]verdict of {Markup.Escape(f.Id)} ({Markup.Escape(f.Model)}): {Markup.Escape(f.Old)} → {Markup.Escape(f.New)}[/]");
            foreach (var c in change.Moved.Take(12))
                AnsiConsole.MarkupLine($"    {Markup.Escape(c.RowLabel)} · {Markup.Escape(c.Column)}: {Markup.Escape(c.Old)} → {Markup.Escape(c.New)}" +
                    (c.Change is { } d ? $" ({d:+0.######;-0.######;0})" : ""));
            if (change.Moved.Count > 12) AnsiConsole.MarkupLine($"    … and {change.Moved.Count - 12} more cells");
            // A finding's flip says what its one-row diff would.
            foreach (var line in change.Flips.Count > 0 ? [] : change.Lines.Take(12))
                AnsiConsole.MarkupLine(line.StartsWith('+') ? $"    [green]{Markup.Escape(line)}[/]" : $"    [red]{Markup.Escape(line)}[/]");
            if (change.Flips.Count == 0 && change.Lines.Count > 12) AnsiConsole.MarkupLine($"    … {change.Lines.Count - 12} more lines");
        }
    }
}
