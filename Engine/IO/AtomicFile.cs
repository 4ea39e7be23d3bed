using System.Text;

namespace Verification.Engine.IO;

/// <summary>
/// Writes a file so that a reader only ever sees the old file or the whole new one: the bytes go to a temporary file
/// in the same folder (so the rename stays on one file system), are flushed to disk, and the temporary file is renamed
/// over the target. A full disk or a crash midway leaves the old file (or nothing) and no half-written one. A path that
/// names a device, FIFO, socket or folder is refused and left as it is; a symbolic link is written through (its target
/// file is replaced, the link stays a link).
/// </summary>
public static class AtomicFile
{
    static readonly UTF8Encoding Utf8NoBom = new(encoderShouldEmitUTF8Identifier: false);

    public static void WriteAllText(string path, string text) => WriteAllBytes(path, Utf8NoBom.GetBytes(text));

    public static void WriteAllLines(string path, IEnumerable<string> lines) =>
        WriteAllText(path, string.Concat(lines.Select(l => l + "\n")));

    public static void WriteAllBytes(string path, byte[] bytes) => Write(path, stream => stream.Write(bytes));

    /// <summary>Streams the content through <paramref name="write"/> into a temporary file, then renames it into place.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        var full = WritableTarget(Path.GetFullPath(path));
        var folder = Path.GetDirectoryName(full) ?? ".";
        Directory.CreateDirectory(folder);
        var temporary = Path.Combine(folder, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, full, overwrite: true);
        }
        // The message names the file asked for, never the temporary one beside it.
        catch (IOException e) when (e.Message.Contains(temporary, StringComparison.Ordinal))
        {
            TryDelete(temporary);
            throw new IOException($"cannot write {full}: {e.Message.Replace(temporary, full, StringComparison.Ordinal)}", e);
        }
        catch (UnauthorizedAccessException e)
        {
            TryDelete(temporary);
            throw new UnauthorizedAccessException($"cannot write {full}: {e.Message.Replace(temporary, full, StringComparison.Ordinal)}", e);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    /// <summary>
    /// The regular file a write to <paramref name="path"/> replaces: the path itself, or the final target of a link.
    /// </summary>
    /// <exception cref="IOException">The path (or the link's target) is a folder, device, FIFO or socket.</exception>
    public static string WritableTarget(string path)
    {
        var (kind, target) = FileKinds.Resolve(path);
        if (kind is FileKind.Missing or FileKind.RegularFile) return target;
        throw new IOException($"{path} {FileKinds.DescribeAt(path)}, not a regular file: it is left as it is; give a file path.");
    }

    static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
