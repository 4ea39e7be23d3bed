namespace Verification.Cli.Commands;

/// <summary>The process's peak resident memory (VmHWM on Linux), printed after the work that takes the most.</summary>
public static class PeakMemory
{
    public static long Bytes()
    {
        using var process = System.Diagnostics.Process.GetCurrentProcess();
        process.Refresh();
        return process.PeakWorkingSet64;
    }

    /// <summary>"peak resident memory: 1,234 MiB", the line the real-size specs read.</summary>
    public static string Describe() => $"peak resident memory: {Bytes() / (1024 * 1024):N0} MiB";
}
