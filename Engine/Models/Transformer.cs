using TorchSharp;
using Verification.Engine.Torch;
using Verification.Engine.Training;
using static TorchSharp.torch;
using HostTensor = Verification.Engine.Tensors.Tensor;

namespace Verification.Engine.Models;

public enum ModelFamily
{
    Gpt2,
    Bert,
    Llama,
    AttentionOnly,
}

/// <summary>What every family's config says about its shape; the families add their own fields.</summary>
public abstract record ModelConfig
{
    public abstract ModelFamily Family { get; }
    public required int VocabularySize { get; init; }
    public required int ContextLength { get; init; }
    public required int ModelWidth { get; init; }
    public required int LayerCount { get; init; }
    public required int HeadCount { get; init; }
    public virtual int KeyValueHeadCount => HeadCount;
    public virtual int HeadWidth => ModelWidth / HeadCount;
    public virtual bool Causal => true;

    /// <summary>A short description for tables and logs.</summary>
    public virtual string Describe() =>
        $"{Family}: {LayerCount} layers × {HeadCount} heads, width {ModelWidth}, head width {HeadWidth}, vocabulary {VocabularySize}, context {ContextLength}";

    public void Validate()
    {
        if (VocabularySize <= 0 || ContextLength <= 0 || ModelWidth <= 0 || LayerCount <= 0 || HeadCount <= 0)
            throw new ArgumentException($"Config has a non-positive size: {this}");
        if (HeadWidth <= 0 || (HeadWidth == ModelWidth / HeadCount && ModelWidth % HeadCount != 0))
            throw new ArgumentException($"A width of {ModelWidth} does not split evenly over {HeadCount} heads.");
        if (KeyValueHeadCount <= 0 || HeadCount % KeyValueHeadCount != 0)
            throw new ArgumentException($"{HeadCount} query heads cannot share {KeyValueHeadCount} key/value heads evenly.");
    }
}

/// <summary>Per-run options: what to cache, what to change, where and in which precision, and (for BERT) padding and token types.</summary>
public sealed record RunOptions
{
    /// <summary>Hook names to cache; "*" caches every hook.</summary>
    public IReadOnlyCollection<string>? Cache { get; init; }

    /// <summary>Caches every hook whose name passes this test too (TransformerLens's names_filter).</summary>
    public Func<string, bool>? CacheFilter { get; init; }

    /// <summary>Code that reads hooks' activations on the device during the run (a detector's reduction).</summary>
    public IReadOnlyList<HookReader>? Readers { get; init; }

    /// <summary>
    /// What to compute of the logits: all positions (the default), the last position (generation), or none (a scan:
    /// the forward pass then also stops after the last block anything reads).
    /// </summary>
    public LogitsOutput Logits { get; init; } = LogitsOutput.All;

    public IReadOnlyList<Intervention>? Interventions { get; init; }

    /// <summary>Compute per-head outputs (hook_result) even when not cached.</summary>
    public bool ComputeResult { get; init; }

    /// <summary>[batch][pos]: false marks padding that no query may attend to (BERT).</summary>
    public bool[][]? AttentionMask { get; init; }

    /// <summary>[batch][pos] segment ids (BERT); zeros when absent.</summary>
    public int[][]? TokenTypes { get; init; }

    /// <summary>cpu, cuda or cuda:N; null runs on <see cref="Devices.Default"/>.</summary>
    public string? Device { get; init; }

    /// <summary>Float64 runs the same code in double precision: the engine's slow reference.</summary>
    public Precision Precision { get; init; }

    public static RunOptions CacheAll { get; } = new() { Cache = ["*"] };

    public static RunOptions Caching(params string[] hooks) => new() { Cache = hooks };
}

/// <summary>What a run returns: host copies, so nothing of libtorch outlives the run.</summary>
public sealed record RunResult(HostTensor? ComputedLogits, ActivationCache Cache)
{
    /// <summary>The logits [batch, pos, vocab] ([batch, 1, vocab] for the last position only).</summary>
    public HostTensor Logits => ComputedLogits ?? throw new InvalidOperationException("This run computed no logits (RunOptions.Logits = None).");
}

/// <summary>
/// A transformer built from a config and named tensors, computing on libtorch tensors. <see cref="Run"/> takes token ids
/// [batch][pos] and returns host copies of the logits [batch, pos, vocab] and the cached activations; <see cref="Logits"/>
/// returns the torch tensor on the live weights, for a training loss. <see cref="Dispose"/> frees the device copies of the
/// weights at once rather than leaving them to the garbage collector; a later run makes them again.
/// </summary>
public abstract class Transformer : IDisposable
{
    readonly Lazy<IReadOnlyList<string>> hookNames;
    readonly Dictionary<(string Device, Precision Precision), WeightSet> weightSets = [];
    readonly object weightsLock = new();

    protected Transformer(ModelConfig config, IReadOnlyDictionary<string, HostTensor> parameters, string source)
    {
        config.Validate();
        Config = config;
        Parameters = new ParameterSet(parameters);
        Source = source;
        hookNames = new Lazy<IReadOnlyList<string>>(() =>
        {
            var context = new HookContext(computeResult: true);
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            Forward(context, WeightsOn(Devices.Default, Precision.Float32), TorchRuntime.Ids([[0, 0]], Devices.Default), new RunOptions());
            return context.Visited.Distinct().Append(Models.Hooks.Logits).ToList();
        });
    }

    public ModelConfig Config { get; }

    /// <summary>The model's tensors by name on the host (TransformerLens's names; matrices laid out as x·W).</summary>
    public ParameterSet Parameters { get; }

    /// <summary>Where the weights came from (a file, or a zoo builder).</summary>
    public string Source { get; }

    /// <summary>Every hook name, in the order one forward pass visits them (hook_result included).</summary>
    public IReadOnlyList<string> HookNames => hookNames.Value;

    public HostTensor Parameter(string name) => Parameters.TryGetValue(name, out var t)
        ? t
        : throw new KeyNotFoundException($"{Source} has no tensor '{name}'.");

    /// <summary>The weights on a device in a precision, copied from <see cref="Parameters"/> on first use.</summary>
    public WeightSet WeightsOn(string device, Precision precision)
    {
        lock (weightsLock)
        {
            if (!weightSets.TryGetValue((device, precision), out var set))
                weightSets[(device, precision)] = set = new WeightSet(Parameters, device, precision);
            return set;
        }
    }

    /// <summary>The float32 weights on the default device: the ones <see cref="Train"/> updates and <see cref="Logits"/> reads.</summary>
    public WeightSet Live => WeightsOn(Devices.Default, Precision.Float32);

    public RunResult Run(int[][] tokens, RunOptions? options = null)
    {
        options ??= new RunOptions();
        ValidateTokens(tokens, options);
        var device = options.Device is { } named ? Devices.Check(named, "RunOptions.Device") : Devices.Default;
        var weights = WeightsOn(device, options.Precision);
        var context = new HookContext(options, keepOnDevice: false) { LogitsToHost = true, Output = options.Logits };
        context.PlanStop(HookNames, Config.LayerCount);
        // One dispose scope per run: every intermediate is freed here; what leaves is copied to the host.
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var logits = Forward(context, weights, TorchRuntime.Ids(tokens, device), options);
        context.CheckAllUsed();
        var hostLogits = logits is null ? null : context.HostLogits ?? context.Cached(Models.Hooks.Logits) ?? TorchRuntime.ToHost(logits, Models.Hooks.Logits);
        if (hostLogits is not null && context.Caches(Models.Hooks.Logits)) context.Store(Models.Hooks.Logits, hostLogits);
        return new RunResult(hostLogits, context.Cache);
    }

    /// <summary>
    /// Runs the model and keeps what it cached on the run's device: the returned <see cref="Trace"/> owns those tensors
    /// (and the logits, unless <see cref="RunOptions.Logits"/> is None) until it is disposed. Copying to the host is
    /// explicit (<see cref="Trace.ToHost"/>). Nothing else of the run outlives it.
    /// </summary>
    public Trace Trace(int[][] tokens, RunOptions? options = null)
    {
        options ??= new RunOptions();
        ValidateTokens(tokens, options);
        var device = options.Device is { } named ? Devices.Check(named, "RunOptions.Device") : Devices.Default;
        var weights = WeightsOn(device, options.Precision);
        var context = new HookContext(options, keepOnDevice: true) { Output = options.Logits };
        context.PlanStop(HookNames, Config.LayerCount);
        Tensor? logits;
        using (var scope = torch.NewDisposeScope())
        using (var noGrad = torch.no_grad())
        {
            logits = Forward(context, weights, TorchRuntime.Ids(tokens, device), options);
            context.CheckAllUsed();
            logits?.DetachFromDisposeScope();
        }
        var activations = context.TakeDeviceCache();
        if (logits is not null && context.Caches(Models.Hooks.Logits) && !activations.ContainsKey(Models.Hooks.Logits))
        {
            var alias = logits.alias();
            activations[Models.Hooks.Logits] = alias;
        }
        return new Trace(logits, activations, device);
    }

    public RunResult Run(int[] tokens, RunOptions? options = null) => Run([tokens], options);

    /// <summary>
    /// Logits [batch, pos, vocab] on the live weights, as a torch tensor that records gradients when training: for a loss.
    /// The caller owns the dispose scope (the training loop opens one per step).
    /// </summary>
    public Tensor Logits(int[][] tokens, RunOptions? options = null)
    {
        options ??= new RunOptions();
        ValidateTokens(tokens, options);
        if (options.Logits == LogitsOutput.None) throw new ArgumentException("Logits(…) computes logits: RunOptions.Logits cannot be None here.");
        var context = new HookContext(options, keepOnDevice: false) { Output = options.Logits };
        var logits = Forward(context, Live, TorchRuntime.Ids(tokens, Live.Device), options)!;
        context.CheckAllUsed();
        return logits;
    }

    /// <summary>
    /// The forward pass on weights <paramref name="w"/>; ids [batch, pos] int64 → logits [batch, pos, vocab] (or
    /// [batch, 1, vocab] for the last position), or null when the context asks for none.
    /// </summary>
    protected internal abstract Tensor? Forward(HookContext context, WeightSet w, Tensor ids, RunOptions options);

    /// <summary>
    /// Trains every parameter with <see cref="Trainer"/> on the live weights; the host <see cref="Parameters"/> are brought
    /// up to date before each <paramref name="afterStep"/> (a checkpoint reads them) and at the end.
    /// </summary>
    /// <param name="lossAt">The loss of step s (1-based), computed from <see cref="Logits"/> (or the family's own heads), and its token count.</param>
    public IReadOnlyList<TrainingProgress> Train(Func<int, (Tensor Loss, int Tokens)> lossAt, TrainingSettings settings,
        IProgress<TrainingProgress>? progress = null, Action<int>? afterStep = null)
    {
        var live = Live;
        lock (weightsLock)
        {
            // Copies in other devices or precisions would go stale: they are made again when next asked for.
            foreach (var key in weightSets.Keys.Where(k => weightSets[k] != live).ToList())
            {
                weightSets[key].Dispose();
                weightSets.Remove(key);
            }
        }
        var parameters = live.Tensors.Values.ToList();
        foreach (var p in parameters) p.requires_grad = true;
        try
        {
            return Trainer.Train(parameters, lossAt, settings, progress, afterStep: afterStep is null ? null : step =>
            {
                CopyToHost(live);
                afterStep(step);
            });
        }
        finally
        {
            foreach (var p in parameters) p.requires_grad = false;
            CopyToHost(live);
        }
    }

    /// <summary>
    /// Frees every device copy of the weights now, on this thread (libtorch objects are never left to the finalizer). The
    /// host <see cref="Parameters"/> stay: the model can run again, and makes its device weights again when it does.
    /// </summary>
    public void Dispose()
    {
        lock (weightsLock)
        {
            foreach (var set in weightSets.Values) set.Dispose();
            weightSets.Clear();
        }
        GC.SuppressFinalize(this);
    }

    void CopyToHost(WeightSet weights)
    {
        if (weights.SharesHostMemory) return;
        foreach (var (name, t) in weights.Tensors) TorchRuntime.CopyToHost(t, Parameters[name].Data);
    }

    void ValidateTokens(int[][] tokens, RunOptions options)
    {
        if (tokens.Length == 0) throw new ArgumentException("No token sequences given (batch of 0).");
        var length = tokens[0].Length;
        if (length == 0) throw new ArgumentException("Token sequences are empty.");
        for (var b = 0; b < tokens.Length; b++)
        {
            if (tokens[b].Length != length)
                throw new ArgumentException($"Batch item {b} has {tokens[b].Length} tokens but item 0 has {length}: pad to one length.");
            for (var p = 0; p < length; p++)
                if ((uint)tokens[b][p] >= (uint)Config.VocabularySize)
                    throw new ArgumentOutOfRangeException(nameof(tokens),
                        $"Token id {tokens[b][p]} (batch item {b}, position {p}) is out of range for a vocabulary of {Config.VocabularySize}.");
        }
        if (length > Config.ContextLength)
            throw new ArgumentException($"{length} tokens exceed the model's context length of {Config.ContextLength}.");
        if (options.AttentionMask is { } mask && (mask.Length != tokens.Length || mask.Any(m => m.Length != length)))
            throw new ArgumentException("The attention mask must have the same [batch][pos] shape as the tokens.");
        if (options.TokenTypes is { } types && (types.Length != tokens.Length || types.Any(t => t.Length != length)))
            throw new ArgumentException("The token types must have the same [batch][pos] shape as the tokens.");
        // Only the encoder applies padding masks and segment ids; a causal model would silently ignore them.
        if (Config.Causal && options.AttentionMask is { } padding && padding.Any(m => m.Contains(false)))
            throw new ArgumentException($"{Config.Family} is causal and takes no attention mask: run sequences of one length together, or one at a time.");
        if (Config.Causal && options.TokenTypes is { } segments && segments.Any(t => t.Any(id => id != 0)))
            throw new ArgumentException($"{Config.Family} has no token types (segment ids): they are a BERT input.");
    }

    /// <summary>Greedy decoding: appends the most likely next token <paramref name="steps"/> times.</summary>
    public int[] Generate(int[] prompt, int steps)
    {
        var tokens = new List<int>(prompt);
        for (var s = 0; s < steps; s++)
        {
            if (tokens.Count >= Config.ContextLength) break;
            // Only the last position is unembedded: at GPT-2's vocabulary the others' logits would be most of the work.
            var logits = Run([.. tokens], new RunOptions { Logits = LogitsOutput.LastPosition }).Logits;
            var vocab = Config.VocabularySize;
            var last = logits.Data.AsSpan(0, vocab);
            tokens.Add(System.Numerics.Tensors.TensorPrimitives.IndexOfMax(last));
        }
        return [.. tokens.Skip(prompt.Length)];
    }

}
