using Verification.Engine.Analysis;
using Verification.Engine.Models;
using Verification.Engine.Tokenizers;
using Verification.Fixtures.Prompts;
using Verification.Fixtures.Zoo;

namespace Verification.Fixtures.Scan;

/// <summary>How a scan builds its prompts. Defaults are the sources' protocols; small models get what fits.</summary>
public sealed record ScanProtocol
{
    /// <summary>The induction prompts; the default is SPD's (L = 256, 32 × 100), or ARENA's (L = 50) when the context is shorter.</summary>
    public InductionProtocol? Induction { get; init; }

    /// <summary>Random-token prompts for the previous-token control: count and length.</summary>
    public int ControlSequences { get; init; } = 64;
    public int ControlLength { get; init; } = 64;
    public int Seed { get; init; }

    /// <summary>
    /// Whether prompts start with the tokenizer's BOS (TransformerLens's default). SPD inserted none; then a model's
    /// first token plays the part of a sink.
    /// </summary>
    public bool PrependBos { get; init; } = true;

    /// <summary>
    /// When set, the real text is run as the corpus concatenated (without BOS) and cut into windows of this many tokens
    /// (at most the context), as SPD ran its eval split: a BOS-free causal model's A[0, 0] = 1 weighs 1/T in a score
    /// averaged over queries, so short lines would lift every head's BOS score to about 1/T.
    /// </summary>
    public int? RealTextWindow { get; init; }

    /// <summary>Names for the IOI prompts (only single-token names are used).</summary>
    public IReadOnlyList<string> Names { get; init; } = IoiNames;

    /// <summary>Names of the IOI dataset of Wang et al. that GPT-2 encodes as one token, and the zoo's names.</summary>
    public static readonly IReadOnlyList<string> IoiNames =
        ["Mary", "John", "Alice", "Bob", "Carol", "Dave", "Eve", "Frank", "Tom", "James", "Dan", "Sid", "Martin", "Amy", "Anna", "Paul"];

    /// <summary>
    /// SPD's protocol: no BOS inserted anywhere (real text, IOI, successor lists), real text in windows of up to 512
    /// tokens (SPD's eval split), its induction prompts where the context allows.
    /// </summary>
    public static ScanProtocol Spd(Transformer model) =>
        For(model) with { PrependBos = false, RealTextWindow = Math.Min(512, model.Config.ContextLength) };

    /// <summary>
    /// ARENA's protocol for GPT-2: BOS first on real text and on the repeated random tokens (half-length 50), as ARENA's
    /// generate_repeated_tokens prepends the tokenizer's BOS.
    /// </summary>
    public static ScanProtocol Arena(Transformer model, int? bos) =>
        For(model) with
        {
            Induction = InductionProtocol.Arena with { HalfLength = Math.Min(50, (model.Config.ContextLength - (bos is null ? 0 : 1)) / 2), Bos = bos },
        };

    /// <summary>SPD's induction protocol when the context allows it, ARENA's (L = 50) when not, else half the context.</summary>
    public static ScanProtocol For(Transformer model) => new()
    {
        Induction = model.Config.ContextLength switch
        {
            >= 512 => InductionProtocol.Spd,
            >= 100 => InductionProtocol.Arena,
            var c => InductionProtocol.Arena with { HalfLength = c / 2 },
        },
        ControlLength = Math.Min(64, model.Config.ContextLength),
    };
}

/// <summary>Every detector's table for one model, with what each ran on.</summary>
public sealed record ScanResult(string Model, IReadOnlyList<HeadScores> Tables, double[,,] PositionalProfiles, IReadOnlyList<string> Notes)
{
    public HeadScores Table(string detector) =>
        Tables.FirstOrDefault(t => t.Detector == detector) ?? throw new KeyNotFoundException($"No '{detector}' table in the scan of {Model}.");
}

/// <summary>Runs the detectors of CLAIMS.md §1 with their sources' protocols on one model.</summary>
public static class HeadScan
{
    /// <summary>The detectors that need only patterns and token strings (what a pattern_lens folder can be scanned with).</summary>
    public static readonly IReadOnlyList<string> PatternOnlyDetectors =
        ["previous-token", "bos", "positional", "duplicate-token", "delimiter", "tl_previous_token_mul", "tl_duplicate_token_mul", "tl_induction_mul"];

    /// <summary>Every detector a model scan runs, by the name its files get.</summary>
    public static readonly IReadOnlyList<string> Detectors =
        [.. PatternOnlyDetectors, "previous-token_random_tokens", "induction", "successor", "s-inhibition", "copying"];

    /// <summary>
    /// "all" (or nothing) → null, meaning every detector; otherwise the named ones, each checked against
    /// <paramref name="available"/> before any work starts.
    /// </summary>
    public static IReadOnlySet<string>? Select(string? list, IReadOnlyList<string> available)
    {
        if (list is null || list.Trim().Equals("all", StringComparison.OrdinalIgnoreCase)) return null;
        var names = list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(ScanReport.Slug).ToHashSet(StringComparer.Ordinal);
        if (names.Count == 0) throw new ArgumentException($"--detectors: give 'all' or a comma-separated list of: {string.Join(", ", available)}.");
        var unknown = names.Where(n => !available.Contains(n)).ToList();
        if (unknown.Count > 0)
            throw new ArgumentException($"--detectors: no detector named {string.Join(", ", unknown.Select(u => $"'{u}'"))}. Detectors: {string.Join(", ", available)}.");
        return names;
    }

    /// <param name="detectors">The detectors to run (null: all); work that only other detectors need is skipped.</param>
    public static ScanResult Run(ModelChoice choice, ScanProtocol? protocol = null, IProgress<string>? progress = null,
        IReadOnlySet<string>? detectors = null)
    {
        var model = choice.Model;
        var tokenizer = choice.Tokenizer ?? throw new ArgumentException($"{choice.Name} has no tokenizer: the real-text detectors need one.");
        protocol ??= ScanProtocol.For(model);
        var notes = new List<string>();
        string Text(int id) => tokenizer.TokenText(id);
        bool Wanted(string detector) => detectors is null || detectors.Contains(detector);
        var tables = new List<HeadScores>();
        var profiles = new double[0, 0, 0];

        if (PatternOnlyDetectors.Any(Wanted))
        {
            progress?.Report("real text");
            var realText = (choice.Text ?? RealText(tokenizer)).Where(p => p.Length <= model.Config.ContextLength)
                .Select(p => protocol.PrependBos || p.Length < 2 || !IsBos(tokenizer, p[0]) ? p : p[1..]).ToList();
            if (protocol.RealTextWindow is { } window) realText = Windows(realText, Math.Min(window, model.Config.ContextLength));
            notes.Add($"real text: {realText.Count} prompts, {realText.Sum(p => p.Length)} tokens");
            var textPatterns = PromptPatterns.FromModel(model, realText, Text, batchSize: 1).ToList();
            (var patternTables, profiles, var maxOffset) = PatternOnly(textPatterns);
            notes.Add($"positional: offsets d < {maxOffset}");
            tables.AddRange(patternTables);
        }

        if (Wanted("previous-token_random_tokens"))
        {
            progress?.Report("random-token control");
            var random = new Random(protocol.Seed);
            var control = Enumerable.Range(0, protocol.ControlSequences)
                .Select(_ => Enumerable.Range(0, protocol.ControlLength).Select(_ => random.Next(model.Config.VocabularySize)).ToArray()).ToList();
            tables.Add(Engine.Analysis.Detectors.Run(PromptPatterns.FromModel(model, control, Text), new PreviousTokenDetector("previous-token (random tokens)"))[0]);
        }

        if (Wanted("induction"))
        {
            var induction = protocol.Induction ?? ScanProtocol.For(model).Induction!;
            progress?.Report($"induction: {induction.Sequences} sequences of 2 × {induction.HalfLength} tokens");
            tables.Add(Ablations.InductionScores(model, induction, progress: new Progress<int>(n => progress?.Report($"induction: {n}/{induction.Sequences}"))));
            notes.Add($"induction: {induction.Sequences} sequences x ++ x, L = {induction.HalfLength}, seed {induction.Seed}");
        }

        if (Wanted("successor"))
        {
            progress?.Report("successor lists");
            try
            {
                var (ordinal, randomLists) = PromptSets.SuccessorLists(tokenizer, prependBos: protocol.PrependBos);
                tables.Add(StructuredDetectors.Successor(ListPrompts(model, ordinal, Text), ListPrompts(model, randomLists, Text)));
                notes.Add($"successor: {ordinal.Count} ordinal lists and {randomLists.Count} random-word lists of 5 elements");
            }
            catch (ArgumentException e)
            {
                notes.Add("successor: not run (" + e.Message + ")");
            }
        }

        if (Wanted("s-inhibition"))
        {
            progress?.Report("IOI prompts");
            try
            {
                var ioi = PromptSets.Ioi(tokenizer, protocol.Names, protocol.PrependBos);
                var patterns = PromptPatterns.FromModel(model, ioi.Select(p => p.Prompt.Tokens), Text).ToList();
                var builder = PromptBuilder.For(tokenizer);
                var names = protocol.Names.Where(n => builder.Fits(" " + n)).Select(n => builder.Build([" " + n], prependBos: false).Tokens[0])
                    .Distinct().ToList();
                var copy = Circuits.OvCopyScores(model, names);
                tables.Add(StructuredDetectors.SInhibition(patterns.Select((p, i) => new IoiPrompt(p, ioi[i].Last, ioi[i].S2)), copy));
                notes.Add($"S-inhibition: {ioi.Count} IOI prompts over {names.Count} single-token names");
            }
            catch (ArgumentException e)
            {
                notes.Add("S-inhibition: not run (" + e.Message + ")");
            }
        }

        if (Wanted("copying"))
        {
            progress?.Report("OV copying scores");
            var copying = Circuits.CopyingScores(model);
            tables.Add(new HeadScores("copying", "Σ Re(λ) / Σ |λ| over the eigenvalues of W_E W_V,h W_O,h W_U (Elhage et al.)", copying, 0.0));
        }
        // The scan's order: the real-text and structured detectors, then TransformerLens's matrices, then copying.
        List<HeadScores> ordered = [.. tables.Where(t => !IsTransformerLens(t) && t.Detector != "copying"), .. tables.Where(IsTransformerLens),
            .. tables.Where(t => t.Detector == "copying")];
        return new ScanResult(choice.Name, [.. ordered.Where(t => Wanted(ScanReport.Slug(t.Detector)))], profiles, notes);
    }

    /// <summary>The prompts concatenated and cut into windows of <paramref name="length"/> tokens (one shorter window when the text is short).</summary>
    public static List<int[]> Windows(IReadOnlyList<int[]> prompts, int length)
    {
        var all = prompts.SelectMany(p => p).ToArray();
        if (all.Length <= length) return [all];
        return [.. Enumerable.Range(0, all.Length / length).Select(w => all[(w * length)..((w + 1) * length)])];
    }

    static bool IsTransformerLens(HeadScores table) => table.Detector.StartsWith("TL ", StringComparison.Ordinal);

    /// <summary>
    /// Every detector that needs only patterns and token strings, in one pass: previous-token, BOS, positional (with its
    /// profiles), duplicate-token, delimiter, and TransformerLens's three detection matrices (mul).
    /// </summary>
    public static (IReadOnlyList<HeadScores> Tables, double[,,] Profiles, int MaxOffset) PatternOnly(IReadOnlyList<PromptPatterns> prompts)
    {
        var maxOffset = MaxOffset(prompts.Select(p => p.Length));
        var positional = new PositionalDetector(maxOffset);
        var tables = new List<HeadScores>(Engine.Analysis.Detectors.Run(prompts,
            new PreviousTokenDetector("previous-token"), new BosDetector(), positional, new DuplicateTokenDetector(), new DelimiterDetector()));
        foreach (var pattern in new[] { DetectionPattern.PreviousToken, DetectionPattern.DuplicateToken, DetectionPattern.Induction })
            tables.Add(DetectionMatrices.Detect(prompts, pattern));
        return (tables, positional.Profiles(), maxOffset);
    }

    /// <summary>
    /// The positional profile's offsets: d &lt; 128 as SPD on long text, but at most half the median prompt length, so that
    /// each profile[d] averages over many queries (at d near a prompt's length only a few queries remain, and a head
    /// resting on position 0 would show a spurious peak there).
    /// </summary>
    public static int MaxOffset(IEnumerable<int> promptLengths)
    {
        var sorted = promptLengths.Order().ToArray();
        return Math.Max(2, Math.Min(128, sorted[sorted.Length / 2] / 2));
    }

    static bool IsBos(ITokenizer tokenizer, int id) => PromptBuilder.For(tokenizer).Bos == id;

    static IEnumerable<ListPrompt> ListPrompts(Transformer model, IReadOnlyList<BuiltPrompt> prompts, Func<int, string> text) =>
        PromptPatterns.FromModel(model, prompts.Select(p => p.Tokens), text, batchSize: 1).Select((p, i) => new ListPrompt(p, prompts[i].PieceEnds));

    /// <summary>The real-text prompts for a tokenizer: the zoo's sentences for its vocabulary, English prose otherwise.</summary>
    public static IReadOnlyList<int[]> RealText(ITokenizer tokenizer) => tokenizer switch
    {
        WordTokenizer w when w.Words.SequenceEqual(CompiledVocabulary.All) => ZooText.Prompts(w),
        _ => [.. EnglishText.Lines.Select(line => PromptBuilder.For(tokenizer).Build([line]).Tokens)],
    };
}
