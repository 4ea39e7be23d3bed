using Verification.Engine;

namespace Verification.Fixtures;

/// <summary>Where the repository and the shared data beside it are, wherever the tests run from.</summary>
public static class Repository
{
    const string SolutionFile = "Verification.slnx";

    static readonly Lazy<string> root = new(FindRoot);

    /// <summary>The folder holding Verification.slnx.</summary>
    public static string Root => root.Value;

    /// <summary>
    /// The read-only shared data (models, tokenizers, patterns): <c>VERIFICATION_SHARED</c>, else
    /// <c>../shared</c> beside the repository.
    /// </summary>
    public static string Shared =>
        Settings.Current.SharedFolder is { } shared
            ? Path.GetFullPath(shared)
            : Path.GetFullPath(Path.Combine(Root, "..", "shared"));

    public static string SharedPath(params string[] parts) => Path.Combine([Shared, .. parts]);

    /// <summary>The approved snapshots: <c>VERIFICATION_APPROVED</c>, else <c>Approved/</c>.</summary>
    public static string Approved =>
        Settings.Current.ApprovedFolder is { } dir
            ? Path.GetFullPath(dir)
            : Path.Combine(Root, "Approved");

    static string FindRoot()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, SolutionFile))) return dir.FullName;
            }
        }
        throw new DirectoryNotFoundException(
            $"Could not find {SolutionFile} above {AppContext.BaseDirectory} or {Directory.GetCurrentDirectory()}; " +
            "run from inside the repository.");
    }
}
