using Verification.Engine.Tensors;

namespace Verification.Engine.Autodiff;

/// <summary>
/// A reverse-mode autodiff tape. Off by default: operations record their backward step only while a tape
/// is recording on the current thread (<c>using var tape = Tape.Record();</c>) and one of their inputs
/// requires a gradient. <see cref="Backward"/> runs the steps in reverse order.
/// </summary>
public sealed class Tape : IDisposable
{
    [ThreadStatic] static Tape? current;

    readonly Tape? previous;
    readonly List<Action> steps = [];
    bool disposed;

    Tape(Tape? previous) => this.previous = previous;

    /// <summary>The tape recording on this thread, or null.</summary>
    public static Tape? Current => current;

    public static Tape Record()
    {
        var tape = new Tape(current);
        current = tape;
        return tape;
    }

    /// <summary>Runs <paramref name="body"/> with recording switched off (e.g. evaluation inside training).</summary>
    public static T Paused<T>(Func<T> body)
    {
        var saved = current;
        current = null;
        try { return body(); }
        finally { current = saved; }
    }

    public int StepCount => steps.Count;

    /// <summary>
    /// True when an op with these inputs must record: a tape is on and some input wants a gradient.
    /// </summary>
    public static bool Wants(Tensor a) => current is not null && a.RequiresGrad;

    public static bool Wants(Tensor a, Tensor b) => current is not null && (a.RequiresGrad || b.RequiresGrad);

    public static bool Wants(Tensor a, Tensor b, Tensor? c) => current is not null && (a.RequiresGrad || b.RequiresGrad || c?.RequiresGrad == true);

    /// <summary>Records a backward step and marks <paramref name="output"/> as needing a gradient.</summary>
    public static void Add(Tensor output, Action backward)
    {
        if (current is null) throw new InvalidOperationException("No tape is recording.");
        output.RequiresGrad = true;
        current.steps.Add(backward);
    }

    /// <summary>Seeds d(loss)/d(loss) = 1 for a one-value loss and runs every recorded step backwards.</summary>
    public void Backward(Tensor loss)
    {
        if (loss.Size != 1) throw new ArgumentException($"Backward needs a scalar loss; got shape {loss.ShapeString}.", nameof(loss));
        if (!loss.RequiresGrad) throw new InvalidOperationException("The loss was not computed on this tape from anything that requires a gradient.");
        loss.GradBuffer().Data[0] += 1f;
        for (var i = steps.Count - 1; i >= 0; i--) steps[i]();
        steps.Clear();
    }

    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        if (current == this) current = previous;
    }
}
