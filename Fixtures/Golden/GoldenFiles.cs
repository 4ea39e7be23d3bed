using Verification.Engine.Loading;

namespace Verification.Fixtures.Golden;

/// <summary>
/// Reference outputs computed by independent implementations (PyTorch, Node's gpt-3-encoder) with the
/// committed scripts beside this file. The scripts ran once; the specs only read their small outputs.
/// </summary>
public static class GoldenFiles
{
    public static string Folder => Path.Combine(Repository.Root, "Fixtures", "Golden");

    /// <summary>Every engine operation's output and gradients from PyTorch (make_ops.py).</summary>
    public static SafeTensors Ops => SafeTensors.Open(Path.Combine(Folder, "ops.safetensors"));
}
