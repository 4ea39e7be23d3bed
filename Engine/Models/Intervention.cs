using Verification.Engine.Tensors;

namespace Verification.Engine.Models;

public enum InterventionKind
{
    /// <summary>Set the selected entries to 0.</summary>
    Zero,

    /// <summary>Set the selected entries to their mean over batch and positions (or to a given mean).</summary>
    Mean,

    /// <summary>Copy the selected entries from another activation of the same shape (activation patching).</summary>
    Replace,

    /// <summary>Multiply the selected entries by a factor.</summary>
    Scale,

    /// <summary>Replace the whole activation with a function of it.</summary>
    Custom,
}

/// <summary>
/// A change to one hook's activation during one run: where (hook, heads, positions, batch items) and what.
/// Interventions are plain data passed to <see cref="Transformer.Run"/>; nothing is registered on the model, so
/// nothing outlives the run. Heads index the hook's head axis (key/value heads for hook_k and hook_v under
/// grouped-query attention); positions index query positions for hook_attn_scores and hook_pattern.
/// </summary>
public sealed record Intervention
{
    public required string Hook { get; init; }
    public required InterventionKind Kind { get; init; }
    public int[]? Heads { get; init; }
    public int[]? Positions { get; init; }
    public int[]? BatchItems { get; init; }

    /// <summary>Per batch item, the positions to change (overrides <see cref="Positions"/>).</summary>
    public int[][]? PositionsPerItem { get; init; }

    public float Factor { get; init; } = 1f;

    /// <summary>For Replace: the activation to copy from (same shape); for Mean: an optional precomputed mean.</summary>
    public Tensor? Source { get; init; }

    public Func<Tensor, Tensor>? Function { get; init; }

    public static Intervention Zero(string hook, int[]? heads = null, int[]? positions = null) =>
        new() { Hook = hook, Kind = InterventionKind.Zero, Heads = heads, Positions = positions };

    public static Intervention Mean(string hook, int[]? heads = null, int[]? positions = null, Tensor? mean = null) =>
        new() { Hook = hook, Kind = InterventionKind.Mean, Heads = heads, Positions = positions, Source = mean };

    public static Intervention Replace(string hook, Tensor source, int[]? heads = null, int[]? positions = null) =>
        new() { Hook = hook, Kind = InterventionKind.Replace, Source = source, Heads = heads, Positions = positions };

    public static Intervention Scale(string hook, float factor, int[]? heads = null, int[]? positions = null) =>
        new() { Hook = hook, Kind = InterventionKind.Scale, Factor = factor, Heads = heads, Positions = positions };

    public static Intervention Custom(string hook, Func<Tensor, Tensor> function) =>
        new() { Hook = hook, Kind = InterventionKind.Custom, Function = function };

    /// <summary>Zero the values (hook_v) of the given heads at the given positions of layer <paramref name="layer"/>.</summary>
    public static Intervention ZeroValues(int layer, int[]? heads, int[]? positions) => Zero(Hooks.V(layer), heads, positions);

    /// <summary>Applies this intervention to an activation, returning a new tensor (the input is never changed).</summary>
    public Tensor Apply(Tensor activation)
    {
        if (Kind == InterventionKind.Custom)
        {
            var result = (Function ?? throw new InvalidOperationException($"Custom intervention on {Hook} has no function."))(activation);
            if (!result.Shape.AsSpan().SequenceEqual(activation.Shape))
                throw new InvalidOperationException($"Custom intervention on {Hook} returned {result.ShapeString}, expected {activation.ShapeString}.");
            return result;
        }
        var layout = HookLayout.Of(Hook, activation);
        if (Heads is not null && layout.HeadAxis < 0)
            throw new ArgumentException($"Hook {Hook} {activation.ShapeString} has no head axis, but the intervention selects heads.");
        if (Kind == InterventionKind.Replace && (Source is null || !Source.Shape.AsSpan().SequenceEqual(activation.Shape)))
            throw new ArgumentException($"Replace on {Hook} needs a source of shape {activation.ShapeString}; got {Source?.ShapeString ?? "none"}.");
        var output = activation.Clone();
        output.Name = Hook;
        var selected = layout.Selection(this, activation.Shape);
        Tensor? mean = null;
        if (Kind == InterventionKind.Mean)
        {
            // A precomputed mean has the hook's shape with the batch (and position) axes of size 1, or the full shape.
            if (Source is { } given && (given.Rank != activation.Rank ||
                Enumerable.Range(0, given.Rank).Any(d => given.Shape[d] != activation.Shape[d] && !(given.Shape[d] == 1 && (d == 0 || d == layout.PositionAxis)))))
                throw new ArgumentException($"Mean on {Hook} {activation.ShapeString} needs a mean of that shape with batch and position axes of size 1; got {given.ShapeString}.");
            mean = Source ?? layout.MeanOverBatchAndPositions(activation);
        }
        var shape = activation.Shape;
        var index = new int[shape.Length];
        for (var i = 0; i < output.Size; i++)
        {
            if (selected(index))
            {
                output.Data[i] = Kind switch
                {
                    InterventionKind.Zero => 0f,
                    InterventionKind.Scale => activation.Data[i] * Factor,
                    InterventionKind.Replace => Source!.Data[i],
                    InterventionKind.Mean => mean!.Data[layout.MeanOffset(index, mean)],
                    _ => activation.Data[i],
                };
            }
            for (var d = shape.Length - 1; d >= 0; d--)
            {
                if (++index[d] < shape[d]) break;
                index[d] = 0;
            }
        }
        return output;
    }
}

/// <summary>Where the batch, position and head axes are in a hook's activation.</summary>
public readonly record struct HookLayout(int PositionAxis, int HeadAxis)
{
    public static HookLayout Of(string hook, Tensor activation)
    {
        if (hook.EndsWith("hook_attn_scores", StringComparison.Ordinal) || hook.EndsWith("hook_pattern", StringComparison.Ordinal))
            return new HookLayout(2, 1); // [batch, head, query, key]
        if (activation.Rank == 4) return new HookLayout(1, 2); // [batch, pos, head, d]
        return new HookLayout(activation.Rank >= 2 ? 1 : -1, -1); // [batch, pos, d]
    }

    public Func<int[], bool> Selection(Intervention what, int[] shape)
    {
        foreach (var h in what.Heads ?? [])
            if (HeadAxis < 0 || (uint)h >= (uint)shape[HeadAxis])
                throw new ArgumentOutOfRangeException(nameof(what), $"Head {h} is outside {what.Hook} {Tensor.Format(shape)}.");
        foreach (var p in what.Positions ?? [])
            if (PositionAxis < 0 || (uint)p >= (uint)shape[PositionAxis])
                throw new ArgumentOutOfRangeException(nameof(what), $"Position {p} is outside {what.Hook} {Tensor.Format(shape)}.");
        foreach (var b in what.BatchItems ?? [])
            if ((uint)b >= (uint)shape[0])
                throw new ArgumentOutOfRangeException(nameof(what), $"Batch item {b} is outside {what.Hook} {Tensor.Format(shape)} (a batch of {shape[0]}).");
        if (what.PositionsPerItem is { } perItem)
        {
            if (perItem.Length != shape[0])
                throw new ArgumentException($"PositionsPerItem has {perItem.Length} entries for a batch of {shape[0]} in {what.Hook}.");
            for (var b = 0; b < perItem.Length; b++)
                foreach (var p in perItem[b] ?? throw new ArgumentException($"PositionsPerItem[{b}] is null in {what.Hook}."))
                    if (PositionAxis < 0 || (uint)p >= (uint)shape[PositionAxis])
                        throw new ArgumentOutOfRangeException(nameof(what), $"Position {p} of batch item {b} is outside {what.Hook} {Tensor.Format(shape)}.");
        }
        var heads = what.Heads is null ? null : new HashSet<int>(what.Heads);
        var positions = what.Positions is null ? null : new HashSet<int>(what.Positions);
        var items = what.BatchItems is null ? null : new HashSet<int>(what.BatchItems);
        var perItemSets = what.PositionsPerItem?.Select(p => new HashSet<int>(p)).ToArray();
        var (positionAxis, headAxis) = (PositionAxis, HeadAxis);
        return index =>
            (items is null || items.Contains(index[0])) &&
            (heads is null || heads.Contains(index[headAxis])) &&
            (perItemSets is not null ? perItemSets[index[0]].Contains(index[positionAxis])
                : positions is null || positions.Contains(index[positionAxis]));
    }

    /// <summary>The activation averaged over batch and position axes (kept as size-1 axes).</summary>
    public Tensor MeanOverBatchAndPositions(Tensor activation)
    {
        var shape = (int[])activation.Shape.Clone();
        shape[0] = 1;
        if (PositionAxis >= 0) shape[PositionAxis] = 1;
        var mean = new Tensor(shape);
        var count = activation.Size / Math.Max(1, mean.Size);
        var index = new int[activation.Rank];
        for (var i = 0; i < activation.Size; i++)
        {
            mean.Data[MeanOffset(index, mean)] += activation.Data[i] / count;
            for (var d = activation.Rank - 1; d >= 0; d--)
            {
                if (++index[d] < activation.Shape[d]) break;
                index[d] = 0;
            }
        }
        return mean;
    }

    public int MeanOffset(int[] index, Tensor mean)
    {
        var offset = 0;
        for (var d = 0; d < index.Length; d++) offset = offset * mean.Shape[d] + (mean.Shape[d] == 1 ? 0 : index[d]);
        return offset;
    }
}
