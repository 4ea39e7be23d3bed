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
    /// A weight read from <paramref name="path"/>, refused when any value is NaN or ±∞: one such value flows into every
    /// activation it touches and changes results without any error (a NaN in one W_Q entry flips BOS flags).
    /// </summary>
    public static Tensors.Tensor RequireFinite(string path, string tensor, Tensors.Tensor values)
    {
        var data = values.Data;
        var first = -1;
        var count = 0;
        for (var i = 0; i < data.Length; i++)
        {
            if (float.IsFinite(data[i])) continue;
            if (first < 0) first = i;
            count++;
        }
        if (count > 0)
            throw new ModelFileException(path,
                $"{count} of its {data.Length} values {(count == 1 ? "is" : "are")} not finite (the first, at flat index {first}, is {Describe(data[first])}): " +
                "a weight file with NaN or infinite values would give wrong numbers without any error", tensor);
        return values;
    }

    /// <summary>
    /// Throws unless <paramref name="path"/> is a regular file (or a link to one): missing, a folder, a FIFO (reading one
    /// waits forever for a writer), a device or a socket each name the path and what it is.
    /// </summary>
    public static void NeedFile(string path)
    {
        var (kind, _) = IO.FileKinds.Resolve(path);
        if (kind == IO.FileKind.RegularFile) return;
        throw new ModelFileException(path, kind == IO.FileKind.Missing ? "file not found" : $"{IO.FileKinds.DescribeAt(path)}, not a regular file");
    }

    static string Describe(float x) => float.IsNaN(x) ? "NaN" : x > 0 ? "+∞" : "−∞";

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
                _ => $"malformed: {e.Message}",
            };
            throw new ModelFileException(path, problem, inner: e);
        }
    }
}
