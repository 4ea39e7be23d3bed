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

/// <summary>JSON from a file, with its bytes checked as UTF-8 first (System.Text.Json only notices bad bytes when a string is read).</summary>
public static class JsonFile
{
    static readonly System.Text.UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Throws a <see cref="ModelFileException"/> naming the file when <paramref name="bytes"/> are not UTF-8.</summary>
    public static void CheckUtf8(string path, ReadOnlySpan<byte> bytes, string what = "the file")
    {
        try { StrictUtf8.GetCharCount(bytes); }
        catch (System.Text.DecoderFallbackException e) { throw new ModelFileException(path, $"{what} is not valid UTF-8 (byte {e.Index})"); }
    }

    public static System.Text.Json.Nodes.JsonNode? Parse(string path)
    {
        var bytes = File.ReadAllBytes(path);
        CheckUtf8(path, bytes);
        try { return System.Text.Json.Nodes.JsonNode.Parse(bytes); }
        catch (System.Text.Json.JsonException e) { throw new ModelFileException(path, "not valid JSON: " + e.Message); }
    }
}
