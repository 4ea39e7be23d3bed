using Verification.Engine.Loading;

namespace Verification.Fixtures.Golden;

/// <summary>
/// Reference outputs computed by independent implementations (PyTorch, Node's gpt-3-encoder) with the
/// committed scripts beside this file. The scripts ran once; the specs only read their small outputs.
/// </summary>
public static class GoldenFiles
{
    public static string Folder => Path.Combine(Repository.Root, "Fixtures", "Golden");

    /// <summary>Five AdamW steps with gradient clipping from PyTorch (make_adamw.py).</summary>
    public static SafeTensors AdamW => SafeTensors.Open(Path.Combine(Folder, "adamw.safetensors"));
}
