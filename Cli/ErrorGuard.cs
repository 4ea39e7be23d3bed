using System.Text.Json;
using Verification.Engine.Loading;

namespace Verification.Cli;

/// <summary>
/// Every command runs inside this guard: whatever goes wrong ends as one line <c>error: …</c> on standard error and
/// exit code 1 (2 for a bug of ours), with the stack trace only under <c>--verbose</c>.
/// </summary>
public static class ErrorGuard
{
    public static int Run(Func<int> command, bool verbose, TextWriter error)
    {
        try
        {
            return command();
        }
        catch (Exception e)
        {
            var (message, isBug) = Describe(e);
            error.WriteLine("error: " + message);
            if (verbose) error.WriteLine(e.ToString());
            else if (isBug) error.WriteLine("(this is a bug in verification; run again with --verbose for the stack trace and report it)");
            return isBug ? 2 : 1;
        }
    }

    /// <summary>The one line to print, and whether the exception is a bug rather than bad input or a failing disk.</summary>
    public static (string Message, bool IsBug) Describe(Exception e) => e switch
    {
        ArgumentException { ParamName: { } name } a => (a.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal), false),
        ArgumentException or ModelFileException or ModelNotFoundException or InvalidDataException or FormatException => (e.Message, false),
        Engine.Torch.TorchUnavailableException => (e.Message, false),
        // The message of a missing file or folder names it; a full disk or a denied write names what failed.
        FileNotFoundException or DirectoryNotFoundException or IOException or UnauthorizedAccessException => (e.Message, false),
        JsonException j => ($"malformed JSON{(j.Path is { } p ? $" at {p}" : "")}: {j.Message}", false),
        OutOfMemoryException => ("out of memory: try a shorter input or a smaller model", false),
        OperationCanceledException => ("cancelled", false),
        _ => ($"{e.Message} ({e.GetType().Name})", true),
    };
}
