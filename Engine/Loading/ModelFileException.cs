namespace Verification.Engine.Loading;

/// <summary>
/// A model, tokenizer, weights or patterns file that cannot be used; the message names the file and the tensor or
/// field at fault.
/// </summary>
public sealed class ModelFileException : Exception
{
    public ModelFileException(string path, string problem, string? tensor = null, string? field = null, Exception? inner = null)
        : base(tensor is not null ? $"{path}: tensor '{tensor}': {problem}"
            : field is not null ? $"{path}: '{field}': {problem}"
            : $"{path}: {problem}", inner)
    {
        Path = path;
        Tensor = tensor;
        Field = field;
        Problem = problem;
    }

    public string Path { get; }
    public string? Tensor { get; }
    public string? Field { get; }
    public string Problem { get; }

    /// <summary>
    /// Runs a loader's body so that nothing but a <see cref="ModelFileException"/> leaves it: a check the loader forgot
    /// (an index past a short array, an overflowing size, a value of the wrong JSON type) still names the file.
    /// </summary>
    public static T Guard<T>(string path, Func<T> load)
    {
        try
        {
            return load();
        }
        catch (Exception e) when (e is not ModelFileException and not OutOfMemoryException and not OperationCanceledException)
        {
            var problem = e switch
            {
                OverflowException => "a size or count in the file is too large (arithmetic overflow)",
                ArgumentException a => a.Message,
                _ => $"malformed ({e.GetType().Name}: {e.Message})",
            };
            throw new ModelFileException(path, problem, inner: e);
        }
    }
}
