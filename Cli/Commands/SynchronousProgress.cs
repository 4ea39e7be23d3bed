namespace Verification.Cli.Commands;

/// <summary>Reports on the calling thread (Progress&lt;T&gt; posts to the thread pool, too late for a spinner).</summary>
sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
