using Verification.Engine.Torch;
using static TorchSharp.torch;
using HostTensor = Verification.Engine.Tensors.Tensor;

namespace Verification.Engine.Models;

/// <summary>
/// The activations one run recorded, by hook name, with the batch dimension kept. Read-only: nothing in the
/// engine writes to a cached tensor after the run.
/// </summary>
public sealed class ActivationCache(IReadOnlyDictionary<string, HostTensor> activations) : IReadOnlyDictionary<string, HostTensor>
{
    public HostTensor this[string key] => activations.TryGetValue(key, out var t)
        ? t
        : throw new KeyNotFoundException($"Hook '{key}' was not cached in this run (cached: {string.Join(", ", activations.Keys.Take(8))}{(activations.Count > 8 ? ", …" : "")}).");

    /// <summary>Layer <paramref name="layer"/>'s attention pattern [batch, head, query, key]: <c>cache.Pattern(0)[b, h, q, k]</c>.</summary>
    public HostTensor Pattern(int layer) => this[Hooks.Pattern(layer)];

    public IEnumerable<string> Keys => activations.Keys;
    public IEnumerable<HostTensor> Values => activations.Values;
    public int Count => activations.Count;
    public bool ContainsKey(string key) => activations.ContainsKey(key);
    public bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out HostTensor value) => activations.TryGetValue(key, out value);
    public IEnumerator<KeyValuePair<string, HostTensor>> GetEnumerator() => activations.GetEnumerator();
    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>What a run computes of the logits: all positions, the last one only (generation), or none (a scan).</summary>
public enum LogitsOutput
{
    All,
    LastPosition,
    None,
}

/// <summary>
/// Code that reads one hook's activation on the run's device while the run is in it (TransformerLens's forward hooks,
/// read-only): a detector that reduces a pattern to per-head sums needs nothing else to leave the device. The tensor is
/// valid only during the call; what the reader keeps it must copy.
/// </summary>
public sealed record HookReader(string Hook, Action<Tensor> Read);

/// <summary>
/// Carries one run's cache requests, readers and interventions through the forward pass. Every component passes its
/// activations (torch tensors) through <see cref="Hook"/>, which records the name, applies the interventions for it in
/// order, hands it to its readers, and caches it if asked: on the device (a <see cref="Trace"/>) or as a host copy
/// (<see cref="Transformer.Run(int[][], RunOptions?)"/>). Hooks are explicit calls in the forward code, never module
/// hooks, so no path through a model skips one.
/// </summary>
public sealed class HookContext
{
    readonly HashSet<string>? cacheNames;
    readonly Func<string, bool>? cacheFilter;
    readonly bool cacheAll;
    readonly bool keepOnDevice;
    readonly Dictionary<string, List<Intervention>> interventions = [];
    readonly Dictionary<string, List<Action<Tensor>>> readers = [];
    readonly Dictionary<string, HostTensor> cache = [];
    readonly Dictionary<string, Tensor> deviceCache = [];
    readonly List<string> visited = [];
    readonly HashSet<string> used = [];

    public HookContext(IEnumerable<string>? cache = null, IEnumerable<Intervention>? interventions = null, bool computeResult = false)
    {
        if (cache is not null)
        {
            cacheNames = [.. cache];
            cacheAll = cacheNames.Contains("*");
        }
        foreach (var i in interventions ?? [])
        {
            if (!this.interventions.TryGetValue(i.Hook, out var list)) this.interventions[i.Hook] = list = [];
            list.Add(i);
        }
        ComputeResult = computeResult;
    }

    /// <summary>
    /// A run's context from its options. With <paramref name="keepOnDevice"/> cached activations stay torch tensors on the
    /// run's device (owned by the <see cref="Trace"/> that takes them); otherwise each is copied to the host at its hook,
    /// so a run never holds a device and a host copy of everything at once.
    /// </summary>
    public HookContext(RunOptions options, bool keepOnDevice) : this(options.Cache, options.Interventions, options.ComputeResult)
    {
        cacheFilter = options.CacheFilter;
        this.keepOnDevice = keepOnDevice;
        Output = options.Logits;
        foreach (var r in options.Readers ?? [])
        {
            if (!readers.TryGetValue(r.Hook, out var list)) readers[r.Hook] = list = [];
            list.Add(r.Read);
        }
    }

    /// <summary>Whether per-head outputs (hook_result) are computed: asked for, cached, read or intervened on.</summary>
    public bool ComputeResult { get; }

    /// <summary>What the run computes of the logits.</summary>
    public LogitsOutput Output { get; init; } = LogitsOutput.All;

    /// <summary>
    /// The last block whose hooks the run needs, when it computes no logits: the forward pass stops after it
    /// (TransformerLens's stop_at_layer, found from what is cached, read or changed). Null: run every block.
    /// </summary>
    public int? LastBlock { get; private set; }

    /// <summary>
    /// Finds <see cref="LastBlock"/> from the model's hook names in forward order: hooks before the first block (the
    /// embeddings) need none, a block's hooks need that block, and a hook after the last block (ln_final, an MLM head)
    /// needs them all. Nothing stops early while logits are wanted.
    /// </summary>
    public void PlanStop(IReadOnlyList<string> hookNames, int layerCount)
    {
        if (Output != LogitsOutput.None) return;
        var last = -1;
        var seenBlock = false;
        foreach (var name in hookNames)
        {
            var inBlock = name.StartsWith("blocks.", StringComparison.Ordinal);
            seenBlock |= inBlock;
            if (!Needs(name)) continue;
            if (!inBlock)
            {
                if (seenBlock) return;
                continue;
            }
            var layer = int.Parse(name.AsSpan(7, name.IndexOf('.', 7) - 7), System.Globalization.CultureInfo.InvariantCulture);
            last = Math.Max(last, layer);
        }
        LastBlock = Math.Min(last, layerCount - 1);
    }

    /// <summary>Whether the forward pass may end after block <paramref name="layer"/>: nothing later is needed.</summary>
    public bool StopsAfter(int layer) => LastBlock is { } last && layer >= last;

    public bool WantsResult(int layer) =>
        ComputeResult || Needs(Hooks.Result(layer));

    public bool Caches(string name) => cacheAll || cacheNames?.Contains(name) == true || cacheFilter?.Invoke(name) == true;

    public Tensor Hook(string name, Tensor activation)
    {
        visited.Add(name);
        if (interventions.TryGetValue(name, out var list))
        {
            used.Add(name);
            foreach (var i in list) activation = i.Apply(activation);
        }
        if (readers.TryGetValue(name, out var read))
        {
            used.Add(name);
            foreach (var r in read) r(activation);
        }
        if (Caches(name))
        {
            if (keepOnDevice)
            {
                // A detached alias (no copy) that outlives the block's and the run's dispose scopes; the trace disposes it.
                var kept = activation.detach();
                kept.DetachFromDisposeScope();
                if (deviceCache.Remove(name, out var earlier)) earlier.Dispose();
                deviceCache[name] = kept;
            }
            // A host copy per hook: one tensor can pass two hooks (resid_post of one block is resid_pre of the next), and
            // editing one cached entry must never edit another, nor the run's own values.
            else cache[name] = TorchRuntime.ToHost(activation, name);
        }
        return activation;
    }

    /// <summary>
    /// Whether a hook's activation must exist in this run: it is cached, read or intervened on. Attention skips
    /// materialising hook_attn_scores and hook_pattern (a fused kernel) when neither is.
    /// </summary>
    public bool Needs(string name) => Caches(name) || interventions.ContainsKey(name) || readers.ContainsKey(name);

    /// <summary>Records that the forward pass went past a hook whose activation it did not make (see <see cref="Needs"/>).</summary>
    public void Pass(string name) => visited.Add(name);

    /// <summary>Set by <see cref="Transformer.Run(int[][], RunOptions?)"/>: the logits leave for the host, so the unembedding may write them there.</summary>
    public bool LogitsToHost { get; init; }

    /// <summary>The host array the unembedding wrote the logits into, when it did.</summary>
    public HostTensor? HostLogits { get; set; }

    /// <summary>A hook's cached host copy, if this run cached it.</summary>
    public HostTensor? Cached(string name) => cache.GetValueOrDefault(name);

    /// <summary>Caches a host value computed outside the forward pass (the logits).</summary>
    public void Store(string name, HostTensor value) => cache[name] = value;

    /// <summary>The hook names in the order the forward pass visited them.</summary>
    public IReadOnlyList<string> Visited => visited;

    public ActivationCache Cache => new(cache);

    /// <summary>The activations kept on the device, handed to a <see cref="Trace"/> (which then owns them).</summary>
    public Dictionary<string, Tensor> TakeDeviceCache()
    {
        var taken = new Dictionary<string, Tensor>(deviceCache);
        deviceCache.Clear();
        return taken;
    }

    /// <summary>Fails when an intervention, reader or cache request names a hook the run never passed (a typo).</summary>
    public void CheckAllUsed()
    {
        var unknownInterventions = interventions.Keys.Concat(readers.Keys).Where(k => !used.Contains(k)).ToList();
        var passed = visited.ToHashSet();
        var unknownCache = cacheNames?.Where(n => n != "*" && !passed.Contains(n)).ToList() ?? [];
        if (unknownInterventions.Count + unknownCache.Count == 0) return;
        foreach (var t in deviceCache.Values) t.Dispose();
        deviceCache.Clear();
        throw new ArgumentException(
            $"No such hook in this model: {string.Join(", ", unknownInterventions.Concat(unknownCache).Distinct())}. " +
            $"Hooks are named like {string.Join(", ", visited.Take(6))}, … (see the model's HookNames).");
    }
}
