namespace Verification.Engine;

/// <summary>
/// How far one piece of long work has got: <paramref name="Done"/> of <paramref name="Total"/> units of
/// <paramref name="Task"/>. The CLI turns these into a progress bar with a rate and the time left; a total of 0 means
/// the size is not known in advance. <paramref name="Detail"/> is shown beside it (a training loss).
/// </summary>
public readonly record struct WorkProgress(string Task, long Done, long Total, string? Detail = null)
{
    public override string ToString() => (Total > 0 ? $"{Task}: {Done}/{Total}" : Task) + (Detail is null ? "" : $" ({Detail})");
}

/// <summary>Reports on the calling thread (Progress&lt;T&gt; posts to the thread pool: late, and out of order).</summary>
public sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}

public static class WorkProgressExtensions
{
    /// <summary>A counter of finished items that reports them as <paramref name="task"/>'s progress (null when nobody listens).</summary>
    public static IProgress<int>? Counter(this IProgress<WorkProgress>? progress, string task, long total) =>
        progress is null ? null : new SynchronousProgress<int>(n => progress.Report(new WorkProgress(task, n, total)));

    /// <summary>Reports that <paramref name="task"/> has started (its size unknown, or one step).</summary>
    public static void Start(this IProgress<WorkProgress>? progress, string task, long total = 0) => progress?.Report(new WorkProgress(task, 0, total));
}
