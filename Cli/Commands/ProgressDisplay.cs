using Spectre.Console;
using Spectre.Console.Rendering;
using Verification.Engine;
using Verification.Engine.Training;

namespace Verification.Cli.Commands;

/// <summary>
/// Long work under a progress display: one bar per task with its rate and the time left, on a terminal; nothing at all
/// when standard output is redirected (a log or a pipe gets the results, not the redraws).
/// </summary>
static class ProgressDisplay
{
    public static bool Interactive => !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;

    public static T Run<T>(Func<IProgress<WorkProgress>, T> work)
    {
        if (!Interactive) return work(new SynchronousProgress<WorkProgress>(_ => { }));
        T result = default!;
        AnsiConsole.Progress().AutoClear(true)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RateColumn(),
                new RemainingTimeColumn(), new SpinnerColumn())
            .Start(context =>
            {
                ProgressTask? current = null;
                string? currentName = null;
                var progress = new SynchronousProgress<WorkProgress>(p =>
                {
                    // Work reports its parts one after another: a new task name means the earlier part is done.
                    if (p.Task != currentName)
                    {
                        Finish(current);
                        current = context.AddTask(Markup.Escape(p.Task), maxValue: Math.Max(1, p.Total));
                        currentName = p.Task;
                    }
                    current!.IsIndeterminate = p.Total <= 0;
                    if (p.Total > 0)
                    {
                        current.MaxValue = p.Total;
                        current.Value = p.Done;
                    }
                    current.Description = Markup.Escape(p.Detail is null ? p.Task : $"{p.Task} · {p.Detail}");
                });
                result = work(progress);
                Finish(current);
            });
        return result;
    }

    public static void Run(Action<IProgress<WorkProgress>> work) => Run<bool>(p => { work(p); return true; });

    /// <summary>A training loop's progress as a task: steps done of all, with the loss beside it.</summary>
    public static IProgress<TrainingProgress> Training(IProgress<WorkProgress> progress, string task) =>
        new SynchronousProgress<TrainingProgress>(p => progress.Report(new WorkProgress(task, p.Step, p.Steps, $"loss {p.Loss:F3}")));

    static void Finish(ProgressTask? task)
    {
        if (task is null) return;
        task.IsIndeterminate = false;
        task.Value = task.MaxValue;
        task.StopTask();
    }

    /// <summary>Units per second, as Spectre measures them from the task's recent updates.</summary>
    sealed class RateColumn : ProgressColumn
    {
        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            task.Speed is { } speed && task.MaxValue > 1
                ? new Text(speed >= 10 ? $"{speed:F0}/s" : $"{speed:F1}/s", new Style(Color.Grey))
                : new Text("");
    }
}
