using System.Runtime.InteropServices;

namespace Verification.Engine.IO;

/// <summary>What a path names, without following a final symbolic link.</summary>
public enum FileKind
{
    Missing,
    RegularFile,
    Folder,
    SymbolicLink,
    CharacterDevice,
    BlockDevice,
    Fifo,
    Socket,
}

/// <summary>
/// Tells a regular file from a device, FIFO, socket or link. .NET reports all of these as plain files (FileAttributes.Normal),
/// so writing "the file" at such a path would replace a device node or FIFO with a regular file, and reading one can block
/// forever; libc's lstat says what the path is.
/// </summary>
public static class FileKinds
{
    public static FileKind Of(string path)
    {
        var info = new FileInfo(path);
        if (info.LinkTarget is not null) return FileKind.SymbolicLink;
        if (Directory.Exists(path)) return FileKind.Folder;
        if (!info.Exists) return FileKind.Missing;
        if (!OperatingSystem.IsLinux()) return FileKind.RegularFile;
        var status = new byte[256];                 // struct stat: 144 bytes on x86-64, 128 on arm64
        if (lstat(System.Text.Encoding.UTF8.GetBytes(path + "\0"), status) != 0) return FileKind.Missing;
        var mode = BitConverter.ToUInt32(status, RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 16 : 24);
        return (mode & 0xF000) switch
        {
            0x8000 => FileKind.RegularFile,
            0x4000 => FileKind.Folder,
            0xA000 => FileKind.SymbolicLink,
            0x2000 => FileKind.CharacterDevice,
            0x6000 => FileKind.BlockDevice,
            0x1000 => FileKind.Fifo,
            0xC000 => FileKind.Socket,
            _ => FileKind.RegularFile,
        };
    }

    /// <summary>What a path names after following every link, and the path it ends at (the path itself when not a link).</summary>
    public static (FileKind Kind, string Target) Resolve(string path)
    {
        var kind = Of(path);
        if (kind != FileKind.SymbolicLink) return (kind, path);
        var target = File.ResolveLinkTarget(path, returnFinalTarget: true)?.FullName ?? path;
        return (Of(target), target);
    }

    /// <summary>"is a FIFO (named pipe)" or "links to X, which is a FIFO (named pipe)", for messages.</summary>
    public static string DescribeAt(string path)
    {
        var (kind, target) = Resolve(path);
        return (target == path ? "is " : $"links to {target}, which is ") + Describe(kind);
    }

    /// <summary>"a character device", "a FIFO", … for messages.</summary>
    public static string Describe(FileKind kind) => kind switch
    {
        FileKind.Missing => "missing",
        FileKind.RegularFile => "a regular file",
        FileKind.Folder => "a folder",
        FileKind.SymbolicLink => "a symbolic link",
        FileKind.CharacterDevice => "a character device",
        FileKind.BlockDevice => "a block device",
        FileKind.Fifo => "a FIFO (named pipe)",
        FileKind.Socket => "a socket",
        _ => kind.ToString(),
    };

    [DllImport("libc", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    static extern int lstat(byte[] nulTerminatedUtf8Path, byte[] status);
}
