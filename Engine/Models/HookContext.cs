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

    public IEnumerable<string> Keys => activations.Keys;
    public IEnumerable<HostTensor> Values => activations.Values;
    public int Count => activations.Count;
    public bool ContainsKey(string key) => activations.ContainsKey(key);
    public bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out HostTensor value) => activations.TryGetValue(key, out value);
    public IEnumerator<KeyValuePair<string, HostTensor>> GetEnumerator() => activations.GetEnumerator();
    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>
/// Carries one run's cache requests and interventions through the forward pass. Every component passes its
/// activations (torch tensors) through <see cref="Hook"/>, which records the name, applies the interventions for it in
/// order, and caches a host copy of the result if asked. Hooks are explicit calls in the forward code, never module
/// hooks, so no path through a model skips one.
/// </summary>
public sealed class HookContext
{
    readonly HashSet<string>? cacheNames;
    readonly bool cacheAll;
    readonly Dictionary<string, List<Intervention>> interventions = [];
    readonly Dictionary<string, HostTensor> cache = [];
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

    /// <summary>Whether per-head outputs (hook_result) are computed: asked for, cached or intervened on.</summary>
    public bool ComputeResult { get; }

    public bool WantsResult(int layer) =>
        ComputeResult || Caches(Hooks.Result(layer)) || interventions.ContainsKey(Hooks.Result(layer));

    public bool Caches(string name) => cacheAll || cacheNames?.Contains(name) == true;

    public Tensor Hook(string name, Tensor activation)
    {
        visited.Add(name);
        if (interventions.TryGetValue(name, out var list))
        {
            used.Add(name);
            foreach (var i in list) activation = i.Apply(activation);
        }
        // A host copy per hook: one tensor can pass two hooks (resid_post of one block is resid_pre of the next), and
        // editing one cached entry must never edit another, nor the run's own values.
        if (Caches(name)) cache[name] = TorchRuntime.ToHost(activation, name);
        return activation;
    }

    /// <summary>
    /// Whether a hook's activation must exist in this run: it is cached or intervened on. Attention skips materialising
    /// hook_attn_scores and hook_pattern (a fused kernel) when neither is.
    /// </summary>
    public bool Needs(string name) => Caches(name) || interventions.ContainsKey(name);

    /// <summary>Records that the forward pass went past a hook whose activation it did not make (see <see cref="Needs"/>).</summary>
    public void Pass(string name) => visited.Add(name);

    /// <summary>Set by <see cref="Transformer.Run"/>: the logits leave for the host, so the unembedding may write them there.</summary>
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

    /// <summary>Fails when an intervention or cache request names a hook the run never passed (a typo).</summary>
    public void CheckAllUsed()
    {
        var unknownInterventions = interventions.Keys.Where(k => !used.Contains(k)).ToList();
        var passed = visited.ToHashSet();
        var unknownCache = cacheNames?.Where(n => n != "*" && !passed.Contains(n)).ToList() ?? [];
        if (unknownInterventions.Count + unknownCache.Count == 0) return;
        throw new ArgumentException(
            $"No such hook in this model: {string.Join(", ", unknownInterventions.Concat(unknownCache).Distinct())}. " +
            $"Hooks are named like {string.Join(", ", visited.Take(6))}, … (see the model's HookNames).");
    }
}
