using Verification.Engine.Tensors;

namespace Verification.Engine.Autodiff;

/// <summary>
/// A reverse-mode autodiff tape. Off by default: operations record their backward step only while a tape
/// is recording on the current flow of execution (<c>using var tape = Tape.Record();</c>, an <see cref="Ambient{T}"/>)
/// and one of their inputs requires a gradient. <see cref="Backward"/> runs the steps in reverse order.
/// </summary>
public sealed class Tape : IDisposable
{
    static readonly Ambient<Tape?> recording = new();

    readonly List<Action> steps = [];
    IDisposable? scope;

    /// <summary>The tape recording now, or null.</summary>
    public static Tape? Current => recording.Value;

    public static Tape Record()
    {
        var tape = new Tape();
        tape.scope = recording.Set(tape);
        return tape;
    }

    /// <summary>Runs <paramref name="body"/> with recording switched off (e.g. evaluation inside training).</summary>
    public static T Paused<T>(Func<T> body)
    {
        using (recording.Set(null)) return body();
    }

    public int StepCount => steps.Count;

    /// <summary>
    /// True when an op with these inputs must record: a tape is on and some input wants a gradient.
    /// </summary>
    public static bool Wants(Tensor a) => Current is not null && a.RequiresGrad;

    public static bool Wants(Tensor a, Tensor b) => Current is not null && (a.RequiresGrad || b.RequiresGrad);

    public static bool Wants(Tensor a, Tensor b, Tensor? c) => Current is not null && (a.RequiresGrad || b.RequiresGrad || c?.RequiresGrad == true);

    /// <summary>Records a backward step and marks <paramref name="output"/> as needing a gradient.</summary>
    public static void Add(Tensor output, Action backward)
    {
        if (Current is null) throw new InvalidOperationException("No tape is recording.");
        output.RequiresGrad = true;
        Current.steps.Add(backward);
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
        scope?.Dispose();
        scope = null;
    }
}
