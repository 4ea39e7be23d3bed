namespace Verification.Engine.IO;

/// <summary>
/// A folder one run writes its files into. While open it holds <c>.verification.lock</c>, so a second run into the
/// same folder fails at once instead of interleaving its files with this one's. Every file is written atomically. On
/// <see cref="Commit"/> the files that an earlier run listed in <c>.verification-manifest</c> and this run did not
/// rewrite are removed, and the manifest lists this run's files: the folder then holds one run's output, never a mix of
/// two models'. Files the suite did not write are left alone.
/// </summary>
public sealed class OutputFolder : IDisposable
{
    public const string LockName = ".verification.lock";
    public const string ManifestName = ".verification-manifest";

    readonly FileStream lockFile;
    readonly List<string> written = [];

    OutputFolder(string path, FileStream lockFile)
    {
        Path = path;
        this.lockFile = lockFile;
    }

    public string Path { get; }

    public IReadOnlyList<string> Written => written;

    /// <exception cref="IOException">Another run holds the folder, or it cannot be created.</exception>
    public static OutputFolder Open(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        if (File.Exists(full)) throw new IOException($"{full} is a file, not a folder: give a folder for the output.");
        Directory.CreateDirectory(full);
        try
        {
            var lockFile = new FileStream(System.IO.Path.Combine(full, LockName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None,
                bufferSize: 1, FileOptions.DeleteOnClose);
            return new OutputFolder(full, lockFile);
        }
        // The lock is held: EWOULDBLOCK from flock on Linux, a sharing violation on Windows.
        catch (IOException e) when (e.HResult is 11 or unchecked((int)0x80070020))
        {
            throw new IOException($"another run is writing to {full} ({LockName} is held); wait for it or give another --out folder.", e);
        }
        catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException)
        {
            throw new IOException($"cannot create {LockName} in {full}: {e.Message}", e);
        }
    }

    public void WriteAllText(string fileName, string text)
    {
        AtomicFile.WriteAllText(Target(fileName), text);
        if (!written.Contains(fileName)) written.Add(fileName);
    }

    /// <summary>The folder's files and their last write times: what <see cref="AdoptFilesChangedSince"/> compares with.</summary>
    public IReadOnlyDictionary<string, DateTime> Mark() =>
        Directory.GetFiles(Path).ToDictionary(f => System.IO.Path.GetFileName(f), File.GetLastWriteTimeUtc, StringComparer.Ordinal);

    /// <summary>
    /// Counts as this run's the files that code writing by path (a training loop's checkpoints) created or rewrote since
    /// <paramref name="mark"/>; the lock keeps any other run out meanwhile.
    /// </summary>
    public void AdoptFilesChangedSince(IReadOnlyDictionary<string, DateTime> mark)
    {
        foreach (var (name, written) in Mark())
        {
            if (name is LockName or ManifestName || name.StartsWith('.')) continue;
            if (mark.TryGetValue(name, out var before) && before == written) continue;
            if (!this.written.Contains(name)) this.written.Add(name);
        }
    }

    /// <summary>Removes what an earlier run wrote and this one did not, and records this run's files.</summary>
    public void Commit()
    {
        var manifest = System.IO.Path.Combine(Path, ManifestName);
        var earlier = File.Exists(manifest) ? File.ReadAllLines(manifest).Where(l => l.Length > 0) : [];
        foreach (var stale in earlier.Except(written, StringComparer.Ordinal))
        {
            // Only plain names of files the manifest's run wrote: never a path out of the folder.
            if (stale != System.IO.Path.GetFileName(stale) || stale is LockName or ManifestName) continue;
            var file = System.IO.Path.Combine(Path, stale);
            if (File.Exists(file)) File.Delete(file);
        }
        AtomicFile.WriteAllLines(manifest, written.Order(StringComparer.Ordinal));
    }

    string Target(string fileName)
    {
        if (fileName != System.IO.Path.GetFileName(fileName) || fileName is LockName or ManifestName || fileName.Length == 0)
            throw new ArgumentException($"'{fileName}' is not a plain file name for {Path}.", nameof(fileName));
        return System.IO.Path.Combine(Path, fileName);
    }

    public void Dispose() => lockFile.Dispose();
}
