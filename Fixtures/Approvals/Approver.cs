using System.Text;
using DiffPlex;
using Verification.Engine.IO;
using DiffPlex.DiffBuilder;
using DiffPlex.DiffBuilder.Model;

namespace Verification.Fixtures.Approvals;

/// <summary>A snapshot did not match its approved file, or there was no approved file.</summary>
public sealed class ApprovalException(string message) : Exception(message);

/// <summary>
/// Compares text against <c>{directory}/{name}.verified.{ext}</c>, following Verify's conventions, with numbers
/// compared within a tolerance (<see cref="SnapshotComparer"/>): a mismatch (or a missing approved file) writes
/// <c>{name}.received.{ext}</c> beside it and fails naming the numbers that moved and a line diff; a match,
/// exact or within tolerance, leaves the approved file untouched and deletes any stale received file. With
/// <c>accept</c> on, a changed text becomes the approved file and the check passes.
/// </summary>
public sealed class Approver(string directory, bool accept)
{
    public string Directory { get; } = directory;

    public bool Accept { get; } = accept;

    public string VerifiedPath(string name, string extension) => Path.Combine(Directory, $"{name}.verified.{extension}");

    public string ReceivedPath(string name, string extension) => Path.Combine(Directory, $"{name}.received.{extension}");

    /// <summary>Text as it is stored: LF line endings, exactly one final newline.</summary>
    public static string Normalize(string text)
    {
        var lf = text.Replace("\r\n", "\n").Replace('\r', '\n');
        return lf.TrimEnd('\n') + "\n";
    }

    /// <returns>What happened, for the test log.</returns>
    /// <param name="tolerance">How far numbers may move (default: one unit in the last printed place, integers exact).</param>
    /// <param name="columns">For CSV: a tolerance per column header, overriding <paramref name="tolerance"/>.</param>
    public string Verify(string name, string extension, string text, Tolerance? tolerance = null,
        IReadOnlyDictionary<string, Tolerance>? columns = null) =>
        VerifyAt(VerifiedPath(name, extension), ReceivedPath(name, extension), text, tolerance, columns);

    /// <summary>The same check against explicitly named files (for Approved/README.md, which keeps its plain name).</summary>
    public string VerifyAt(string verifiedPath, string receivedPath, string text, Tolerance? tolerance = null,
        IReadOnlyDictionary<string, Tolerance>? columns = null)
    {
        var received = Normalize(text);
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(verifiedPath) ?? Directory);

        string? approved = File.Exists(verifiedPath) ? Normalize(File.ReadAllText(verifiedPath, Encoding.UTF8)) : null;
        var comparison = approved is null || approved == received
            ? null
            : SnapshotComparer.Compare(approved, received, Path.GetExtension(verifiedPath).TrimStart('.'), tolerance, columns);
        if (approved is not null && (comparison is null || comparison.Matches))
        {
            if (File.Exists(receivedPath)) File.Delete(receivedPath);
            return comparison is null
                ? $"matches {Path.GetFileName(verifiedPath)}"
                : $"matches {Path.GetFileName(verifiedPath)} ({comparison.WithinTolerance} number(s) differ within tolerance; the approved file is kept)";
        }

        if (Accept)
        {
            AtomicFile.WriteAllText(verifiedPath, received);
            if (File.Exists(receivedPath)) File.Delete(receivedPath);
            return approved is null ? $"accepted new {Path.GetFileName(verifiedPath)}" : $"accepted changed {Path.GetFileName(verifiedPath)}";
        }

        AtomicFile.WriteAllText(receivedPath, received);
        if (approved is null)
        {
            throw new ApprovalException(
                $"No approved snapshot {verifiedPath}.\n" +
                $"The new snapshot is in {receivedPath}. Check its numbers against the definition, then accept it by renaming it " +
                "to .verified., or run the tests with VERIFICATION_ACCEPT=1.\n" + Preview(received));
        }
        throw new ApprovalException(
            $"Snapshot {Path.GetFileName(verifiedPath)} changed. Received file: {receivedPath}\n" +
            comparison!.Describe() +
            "line diff (approved: -, received: +):\n" +
            Diff(approved, received) +
            "\nIf the change is right, accept it by renaming the received file, or run the tests with VERIFICATION_ACCEPT=1.");
    }

    /// <summary>A unified-style line diff, changed lines with two lines of context.</summary>
    public static string Diff(string approved, string received, int context = 2, int maxLines = 80)
    {
        var model = new InlineDiffBuilder(new Differ()).BuildDiffModel(approved, received, ignoreWhitespace: false);
        var lines = model.Lines;
        var keep = new bool[lines.Count];
        for (var i = 0; i < lines.Count; i++)
        {
            if (lines[i].Type is ChangeType.Unchanged) continue;
            for (var j = Math.Max(0, i - context); j <= Math.Min(lines.Count - 1, i + context); j++) keep[j] = true;
        }
        var text = new StringBuilder();
        var written = 0;
        var skipped = false;
        for (var i = 0; i < lines.Count; i++)
        {
            if (!keep[i]) { skipped = true; continue; }
            if (skipped) { text.Append("  ...\n"); skipped = false; }
            var prefix = lines[i].Type switch
            {
                ChangeType.Inserted => "+ ",
                ChangeType.Deleted => "- ",
                _ => "  ",
            };
            text.Append(prefix).Append(Truncate(lines[i].Text, 200)).Append('\n');
            if (++written >= maxLines) { text.Append("  ... (diff truncated)\n"); break; }
        }
        return text.ToString();
    }

    static string Preview(string text, int maxLines = 20)
    {
        var lines = text.Split('\n');
        var shown = string.Join("\n", lines.Take(maxLines).Select(l => "+ " + Truncate(l, 200)));
        return lines.Length > maxLines ? shown + "\n  ... (" + (lines.Length - maxLines) + " more lines)" : shown;
    }

    static string Truncate(string line, int max) => line.Length <= max ? line : line[..max] + "…";
}
