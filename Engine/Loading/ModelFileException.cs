namespace Verification.Engine.Loading;

/// <summary>A model, tokenizer or weights file that cannot be used; the message names the file (and tensor).</summary>
public sealed class ModelFileException : Exception
{
    public ModelFileException(string path, string problem, string? tensor = null)
        : base(tensor is null ? $"{path}: {problem}" : $"{path}: tensor '{tensor}': {problem}")
    {
        Path = path;
        Tensor = tensor;
        Problem = problem;
    }

    public string Path { get; }
    public string? Tensor { get; }
    public string Problem { get; }
}
