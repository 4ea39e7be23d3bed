using Verification.Engine.Tensors;

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

/// <summary>Per-run options: what to cache, what to change, and (for BERT) padding and token types.</summary>
public sealed record RunOptions
{
    /// <summary>Hook names to cache; "*" caches every hook.</summary>
    public IReadOnlyCollection<string>? Cache { get; init; }

    public IReadOnlyList<Intervention>? Interventions { get; init; }

    /// <summary>Compute per-head outputs (hook_result) even when not cached.</summary>
    public bool ComputeResult { get; init; }

    /// <summary>[batch][pos]: false marks padding that no query may attend to (BERT).</summary>
    public bool[][]? AttentionMask { get; init; }

    /// <summary>[batch][pos] segment ids (BERT); zeros when absent.</summary>
    public int[][]? TokenTypes { get; init; }

    public static RunOptions CacheAll { get; } = new() { Cache = ["*"] };

    public static RunOptions Caching(params string[] hooks) => new() { Cache = hooks };
}

public sealed record RunResult(Tensor Logits, ActivationCache Cache);

/// <summary>
/// A transformer built from a config and named tensors. <see cref="Run"/> takes token ids [batch][pos] and
/// returns logits [batch, pos, vocab] and the cached activations.
/// </summary>
public abstract class Transformer
{
    readonly Lazy<IReadOnlyList<string>> hookNames;

    protected Transformer(ModelConfig config, IReadOnlyDictionary<string, Tensor> parameters, string source)
    {
        config.Validate();
        Config = config;
        Parameters = new ParameterSet(parameters);
        Source = source;
        hookNames = new Lazy<IReadOnlyList<string>>(() =>
        {
            var context = new HookContext(computeResult: true);
            Forward(context, [[0, 0]], new RunOptions());
            return context.Visited.Distinct().Append(Models.Hooks.Logits).ToList();
        });
    }

    public ModelConfig Config { get; }

    /// <summary>The model's tensors by name (TransformerLens's names; matrices laid out as x·W).</summary>
    public ParameterSet Parameters { get; }

    /// <summary>Where the weights came from (a file, or a zoo builder).</summary>
    public string Source { get; }

    /// <summary>Every hook name, in the order one forward pass visits them (hook_result included).</summary>
    public IReadOnlyList<string> HookNames => hookNames.Value;

    public Tensor Parameter(string name) => Parameters.TryGetValue(name, out var t)
        ? t
        : throw new KeyNotFoundException($"{Source} has no tensor '{name}'.");

    public RunResult Run(int[][] tokens, RunOptions? options = null)
    {
        options ??= new RunOptions();
        ValidateTokens(tokens, options);
        var context = new HookContext(options.Cache, options.Interventions, options.ComputeResult);
        var logits = Forward(context, tokens, options);
        context.CheckAllUsed();
        var cache = context.Cache;
        if (context.Caches(Models.Hooks.Logits))
        {
            var all = cache.ToDictionary(kv => kv.Key, kv => kv.Value);
            all[Models.Hooks.Logits] = logits;
            cache = new ActivationCache(all);
        }
        return new RunResult(logits, cache);
    }

    public RunResult Run(int[] tokens, RunOptions? options = null) => Run([tokens], options);

    /// <summary>The forward pass; logits [batch, pos, vocab]. Runs on a tape when one records.</summary>
    protected internal abstract Tensor Forward(HookContext context, int[][] tokens, RunOptions options);

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
            var logits = Run([.. tokens]).Logits;
            var vocab = Config.VocabularySize;
            var last = logits.Data.AsSpan((tokens.Count - 1) * vocab, vocab);
            tokens.Add(System.Numerics.Tensors.TensorPrimitives.IndexOfMax(last));
        }
        return [.. tokens.Skip(prompt.Length)];
    }

    /// <summary>Token ids flattened batch-major: [batch·pos].</summary>
    protected static int[] Flatten(int[][] tokens) => [.. tokens.SelectMany(t => t)];
}
