using TorchSharp;
using Verification.Engine.Torch;
using static TorchSharp.torch;
using HostTensor = Verification.Engine.Tensors.Tensor;

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
    public HostTensor? Source { get; init; }

    /// <summary>For Custom: a function of the host copy of the activation (it leaves the device and comes back).</summary>
    public Func<HostTensor, HostTensor>? Function { get; init; }

    public static Intervention Zero(string hook, int[]? heads = null, int[]? positions = null) =>
        new() { Hook = hook, Kind = InterventionKind.Zero, Heads = heads, Positions = positions };

    public static Intervention Mean(string hook, int[]? heads = null, int[]? positions = null, HostTensor? mean = null) =>
        new() { Hook = hook, Kind = InterventionKind.Mean, Heads = heads, Positions = positions, Source = mean };

    public static Intervention Replace(string hook, HostTensor source, int[]? heads = null, int[]? positions = null) =>
        new() { Hook = hook, Kind = InterventionKind.Replace, Source = source, Heads = heads, Positions = positions };

    public static Intervention Scale(string hook, float factor, int[]? heads = null, int[]? positions = null) =>
        new() { Hook = hook, Kind = InterventionKind.Scale, Factor = factor, Heads = heads, Positions = positions };

    public static Intervention Custom(string hook, Func<HostTensor, HostTensor> function) =>
        new() { Hook = hook, Kind = InterventionKind.Custom, Function = function };

    /// <summary>Zero the values (hook_v) of the given heads at the given positions of layer <paramref name="layer"/>.</summary>
    public static Intervention ZeroValues(int layer, int[]? heads, int[]? positions) => Zero(Hooks.V(layer), heads, positions);

    /// <summary>Applies this intervention to an activation, returning a new tensor (the input is never changed).</summary>
    public Tensor Apply(Tensor activation)
    {
        var shape = activation.shape.Select(d => (int)d).ToArray();
        if (Kind == InterventionKind.Custom)
        {
            var function = Function ?? throw new InvalidOperationException($"Custom intervention on {Hook} has no function.");
            var result = function(TorchRuntime.ToHost(activation, Hook));
            if (!result.Shape.AsSpan().SequenceEqual(shape))
                throw new InvalidOperationException($"Custom intervention on {Hook} returned {result.ShapeString}, expected {HostTensor.Format(shape)}.");
            return TorchRuntime.FromHost(result, activation.device.ToString(), Precision(activation));
        }
        var layout = HookLayout.Of(Hook, shape);
        if (Heads is not null && layout.HeadAxis < 0)
            throw new ArgumentException($"Hook {Hook} {HostTensor.Format(shape)} has no head axis, but the intervention selects heads.");
        if (Kind == InterventionKind.Replace && (Source is null || !Source.Shape.AsSpan().SequenceEqual(shape)))
            throw new ArgumentException($"Replace on {Hook} needs a source of shape {HostTensor.Format(shape)}; got {Source?.ShapeString ?? "none"}.");
        var selected = layout.Selection(this, shape, activation.device);
        var replacement = Kind switch
        {
            InterventionKind.Zero => torch.zeros_like(activation),
            InterventionKind.Scale => activation.Times(Factor),
            InterventionKind.Replace => OnDevice(Source!, activation),
            InterventionKind.Mean => Mean(activation, layout, shape),
            _ => activation,
        };
        return torch.where(selected, replacement, activation);
    }

    Tensor Mean(Tensor activation, HookLayout layout, int[] shape)
    {
        // A precomputed mean has the hook's shape with the batch (and position) axes of size 1, or the full shape.
        if (Source is not { } given)
            return layout.PositionAxis >= 0 ? activation.mean([0, layout.PositionAxis], keepdim: true) : activation.mean([0], keepdim: true);
        if (given.Rank != shape.Length ||
            Enumerable.Range(0, given.Rank).Any(d => given.Shape[d] != shape[d] && !(given.Shape[d] == 1 && (d == 0 || d == layout.PositionAxis))))
            throw new ArgumentException($"Mean on {Hook} {HostTensor.Format(shape)} needs a mean of that shape with batch and position axes of size 1; got {given.ShapeString}.");
        return OnDevice(given, activation);
    }

    static Tensor OnDevice(HostTensor host, Tensor like) => TorchRuntime.FromHost(host, like.device.ToString(), Precision(like));

    static Precision Precision(Tensor t) => t.dtype == ScalarType.Float64 ? Torch.Precision.Float64 : Torch.Precision.Float32;
}

/// <summary>Where the batch, position and head axes are in a hook's activation.</summary>
public readonly record struct HookLayout(int PositionAxis, int HeadAxis)
{
    public static HookLayout Of(string hook, int[] shape)
    {
        if (hook.EndsWith("hook_attn_scores", StringComparison.Ordinal) || hook.EndsWith("hook_pattern", StringComparison.Ordinal))
            return new HookLayout(2, 1); // [batch, head, query, key]
        if (shape.Length == 4) return new HookLayout(1, 2); // [batch, pos, head, d]
        return new HookLayout(shape.Length >= 2 ? 1 : -1, -1); // [batch, pos, d]
    }

    /// <summary>
    /// The selected entries as a boolean tensor that broadcasts to the activation: one factor per axis the intervention
    /// names (batch items, heads, positions, or positions per batch item), each checked against the shape first.
    /// </summary>
    public Tensor Selection(Intervention what, int[] shape, Device device)
    {
        foreach (var h in what.Heads ?? [])
            if (HeadAxis < 0 || (uint)h >= (uint)shape[HeadAxis])
                throw new ArgumentOutOfRangeException(nameof(what), $"Head {h} is outside {what.Hook} {HostTensor.Format(shape)}.");
        foreach (var p in what.Positions ?? [])
            if (PositionAxis < 0 || (uint)p >= (uint)shape[PositionAxis])
                throw new ArgumentOutOfRangeException(nameof(what), $"Position {p} is outside {what.Hook} {HostTensor.Format(shape)}.");
        foreach (var b in what.BatchItems ?? [])
            if ((uint)b >= (uint)shape[0])
                throw new ArgumentOutOfRangeException(nameof(what), $"Batch item {b} is outside {what.Hook} {HostTensor.Format(shape)} (a batch of {shape[0]}).");
        if (what.PositionsPerItem is { } perItem)
        {
            if (perItem.Length != shape[0])
                throw new ArgumentException($"PositionsPerItem has {perItem.Length} entries for a batch of {shape[0]} in {what.Hook}.");
            for (var b = 0; b < perItem.Length; b++)
                foreach (var p in perItem[b] ?? throw new ArgumentException($"PositionsPerItem[{b}] is null in {what.Hook}."))
                    if (PositionAxis < 0 || (uint)p >= (uint)shape[PositionAxis])
                        throw new ArgumentOutOfRangeException(nameof(what), $"Position {p} of batch item {b} is outside {what.Hook} {HostTensor.Format(shape)}.");
        }
        var selected = torch.ones(Ones(shape.Length), ScalarType.Bool, device);
        // One axis: a mask over that axis, shaped [1, …, n, …, 1] to broadcast.
        Tensor Along(int axis, IEnumerable<int> chosen)
        {
            var mask = new bool[shape[axis]];
            foreach (var i in chosen) mask[i] = true;
            var view = Ones(shape.Length);
            view[axis] = shape[axis];
            return torch.tensor(mask, device: device).view(view);
        }
        if (what.BatchItems is { } items) selected = selected.logical_and(Along(0, items));
        if (what.Heads is { } heads) selected = selected.logical_and(Along(HeadAxis, heads));
        if (what.PositionsPerItem is { } perItemPositions)
        {
            var mask = new bool[shape[0] * shape[PositionAxis]];
            for (var b = 0; b < shape[0]; b++)
                foreach (var p in perItemPositions[b]) mask[b * shape[PositionAxis] + p] = true;
            var view = Ones(shape.Length);
            (view[0], view[PositionAxis]) = (shape[0], shape[PositionAxis]);
            selected = selected.logical_and(torch.tensor(mask, device: device).view(view));
        }
        else if (what.Positions is { } positions) selected = selected.logical_and(Along(PositionAxis, positions));
        return selected;
    }

    static long[] Ones(int rank) => [.. Enumerable.Repeat(1L, rank)];
}
