using Verification.Engine;
using Verification.Engine.Models;

namespace Verification.Analysis;

/// <summary>A list prompt's tokens and the position of each element's last token, in order.</summary>
public sealed record ListTokens(int[] Tokens, int[] ElementPositions);

/// <summary>An IOI prompt's tokens, its last position and the position of the second subject mention (S2).</summary>
public sealed record IoiTokens(int[] Tokens, int Last, int S2);

/// <summary>
/// What a head scan of one model runs on: the model, its token strings, and the prompts its protocol built (Fixtures'
/// Protocols builds them). A structured prompt set the vocabulary cannot express is empty, with the reason.
/// </summary>
public sealed record ScanInputs(string Model, Transformer Transformer, Func<int, string> TokenText, ScanProtocol Protocol, InductionProtocol Induction)
{
    public required IReadOnlyList<int[]> RealText { get; init; }

    public IReadOnlyList<ListTokens> OrdinalLists { get; init; } = [];
    public IReadOnlyList<ListTokens> RandomLists { get; init; } = [];
    public string? SuccessorUnavailable { get; init; }

    public IReadOnlyList<IoiTokens> Ioi { get; init; } = [];

    /// <summary>The IOI names' tokens, for the OV copy score.</summary>
    public IReadOnlyList<int> NameTokens { get; init; } = [];
    public string? IoiUnavailable { get; init; }
}

/// <summary>Every detector's table for one model, with what each ran on.</summary>
public sealed record ScanResult(string Model, IReadOnlyList<HeadScores> Tables, double[,,] PositionalProfiles, IReadOnlyList<string> Notes)
{
    public HeadScores Table(HeadDetector detector) =>
        Tables.FirstOrDefault(t => t.Detector == detector.Table) ?? throw new KeyNotFoundException($"No '{detector.Table}' table in the scan of {Model}.");

    public HeadScores Table(string table) =>
        Tables.FirstOrDefault(t => t.Detector == table) ?? throw new KeyNotFoundException($"No '{table}' table in the scan of {Model}.");
}

/// <summary>Runs the detectors of CLAIMS.md §1 (<see cref="DetectorRegistry"/>) on one model's scan inputs.</summary>
public static class HeadScan
{
    /// <param name="detectors">The detectors to run (null: all); work that only other detectors need is skipped.</param>
    public static ScanResult Run(ScanInputs inputs, IProgress<WorkProgress>? progress = null, IReadOnlySet<HeadDetector>? detectors = null)
    {
        var model = inputs.Transformer;
        var protocol = inputs.Protocol;
        var text = inputs.TokenText;
        var notes = new List<string>();
        bool Wanted(HeadDetector detector) => detectors is null || detectors.Contains(detector);
        var tables = new List<(HeadDetector Detector, HeadScores Table)>();
        var profiles = new double[0, 0, 0];

        if (DetectorRegistry.PatternOnly.Any(Wanted))
        {
            notes.Add($"real text: {inputs.RealText.Count} prompts, {inputs.RealText.Sum(p => p.Length)} tokens");
            progress.Start("real text", inputs.RealText.Count);
            (var patternTables, profiles, var maxOffset) = PatternOnlyOnDevice(model, inputs.RealText, text, progress.Counter("real text", inputs.RealText.Count));
            notes.Add($"positional: offsets d < {maxOffset}");
            tables.AddRange(patternTables);
        }

        if (Wanted(DetectorRegistry.PreviousTokenOnRandomTokens))
        {
            progress.Start("random-token control");
            var random = new Random(protocol.Seed);
            var control = Enumerable.Range(0, protocol.ControlSequences)
                .Select(_ => Enumerable.Range(0, protocol.ControlLength).Select(_ => random.Next(model.Config.VocabularySize)).ToArray()).ToList();
            using var detector = new DevicePreviousTokenDetector(model.Config.LayerCount, DetectorRegistry.PreviousTokenOnRandomTokens.Table);
            PatternPass.Run(model, control, text, [detector]);
            tables.Add((DetectorRegistry.PreviousTokenOnRandomTokens, detector.Result()));
            notes.Add($"random-token control: {protocol.ControlSequences} sequences of {protocol.ControlLength} tokens, seed {protocol.Seed}");
        }

        if (Wanted(DetectorRegistry.Induction))
        {
            var induction = inputs.Induction;
            var task = $"induction: sequences of 2 × {induction.HalfLength} tokens";
            progress.Start(task, induction.Sequences);
            tables.Add((DetectorRegistry.Induction, Ablations.InductionScores(model, induction, progress: progress.Counter(task, induction.Sequences))));
            notes.Add($"induction: {induction.Sequences} sequences x ++ x, L = {induction.HalfLength}, seed {induction.Seed}");
        }

        if (Wanted(DetectorRegistry.Successor))
        {
            progress.Start("successor lists");
            if (inputs.SuccessorUnavailable is { } why) notes.Add("successor: not run (" + why + ")");
            else
            {
                tables.Add((DetectorRegistry.Successor,
                    StructuredDetectors.Successor(ListPrompts(model, inputs.OrdinalLists, text), ListPrompts(model, inputs.RandomLists, text))));
                notes.Add($"successor: {inputs.OrdinalLists.Count} ordinal lists and {inputs.RandomLists.Count} random-word lists of " +
                    $"{inputs.OrdinalLists[0].ElementPositions.Length} elements");
            }
        }

        if (Wanted(DetectorRegistry.SInhibition))
        {
            progress.Start("IOI prompts");
            if (inputs.IoiUnavailable is { } why) notes.Add("S-inhibition: not run (" + why + ")");
            else
            {
                var patterns = AttentionPatterns.FromModel(model, inputs.Ioi.Select(p => p.Tokens), text).ToList();
                var copy = Circuits.OvCopyScores(model, inputs.NameTokens);
                tables.Add((DetectorRegistry.SInhibition,
                    StructuredDetectors.SInhibition(patterns.Select((p, i) => new IoiPrompt(p, inputs.Ioi[i].Last, inputs.Ioi[i].S2)), copy)));
                notes.Add($"S-inhibition: {inputs.Ioi.Count} IOI prompts over {inputs.NameTokens.Count} single-token names");
            }
        }

        if (Wanted(DetectorRegistry.Copying))
        {
            progress.Start("OV copying scores");
            tables.Add((DetectorRegistry.Copying, new HeadScores(DetectorRegistry.Copying.Table,
                "Σ Re(λ) / Σ |λ| over the eigenvalues of W_E W_V,h W_O,h W_U (Elhage et al.)", Circuits.CopyingScores(model), 0.0)));
        }
        return new ScanResult(inputs.Model, Ordered(tables, detectors), profiles, notes);
    }

    /// <summary>
    /// The pattern-only detectors on saved patterns (a pattern_lens folder): real models' patterns, no weights needed.
    /// <paramref name="notes"/> say where the patterns came from.
    /// </summary>
    public static ScanResult RunOnPatterns(string model, IReadOnlyList<AttentionPatterns> prompts, IEnumerable<string> notes,
        IReadOnlySet<HeadDetector>? detectors = null)
    {
        var (tables, profiles, maxOffset) = PatternOnly(prompts);
        return new ScanResult(model, Ordered(tables, detectors), profiles, [.. notes, $"positional: offsets d < {maxOffset}"]);
    }

    /// <summary>The wanted tables in the registry's order.</summary>
    static List<HeadScores> Ordered(IEnumerable<(HeadDetector Detector, HeadScores Table)> tables, IReadOnlySet<HeadDetector>? detectors) =>
        [.. tables.Where(t => detectors is null || detectors.Contains(t.Detector))
            .OrderBy(t => DetectorRegistry.All.ToList().IndexOf(t.Detector)).Select(t => t.Table)];

    /// <summary>The prompts concatenated and cut into windows of <paramref name="length"/> tokens (one shorter window when the text is short).</summary>
    public static List<int[]> Windows(IReadOnlyList<int[]> prompts, int length)
    {
        var all = prompts.SelectMany(p => p).ToArray();
        if (all.Length <= length) return [all];
        return [.. Enumerable.Range(0, all.Length / length).Select(w => all[(w * length)..((w + 1) * length)])];
    }

    /// <summary>
    /// Every detector that needs only patterns and token strings, in one pass: previous-token, BOS, positional (with its
    /// profiles), duplicate-token, delimiter, and TransformerLens's three detection matrices (mul).
    /// </summary>
    public static (IReadOnlyList<(HeadDetector Detector, HeadScores Table)> Tables, double[,,] Profiles, int MaxOffset) PatternOnly(
        IReadOnlyList<AttentionPatterns> prompts)
    {
        var maxOffset = MaxOffset(prompts.Select(p => p.Length));
        var positional = new PositionalDetector(maxOffset);
        var accumulated = Detectors.Run(prompts,
            new PreviousTokenDetector(DetectorRegistry.PreviousToken.Table), new BosDetector(), positional, new DuplicateTokenDetector(), new DelimiterDetector());
        List<(HeadDetector, HeadScores)> tables =
        [
            (DetectorRegistry.PreviousToken, accumulated[0]), (DetectorRegistry.Bos, accumulated[1]), (DetectorRegistry.Positional, accumulated[2]),
            (DetectorRegistry.DuplicateToken, accumulated[3]), (DetectorRegistry.Delimiter, accumulated[4]),
            (DetectorRegistry.MatrixPreviousToken, DetectionMatrices.Detect(prompts, DetectionTemplate.PreviousToken)),
            (DetectorRegistry.MatrixDuplicateToken, DetectionMatrices.Detect(prompts, DetectionTemplate.DuplicateToken)),
            (DetectorRegistry.MatrixInduction, DetectionMatrices.Detect(prompts, DetectionTemplate.Induction)),
        ];
        return (tables, positional.Profiles(), maxOffset);
    }

    /// <summary>
    /// <see cref="PatternOnly"/> on the device: the model runs over <paramref name="prompts"/> in memory-budgeted batches and
    /// every block's pattern is reduced there, so only per-head sums reach the host. The same tables as the host detectors
    /// on the same prompts (Specs/DevicePatterns.fs compares them).
    /// </summary>
    public static (IReadOnlyList<(HeadDetector Detector, HeadScores Table)> Tables, double[,,] Profiles, int MaxOffset) PatternOnlyOnDevice(
        Transformer model, IReadOnlyList<int[]> prompts, Func<int, string> tokenText, IProgress<int>? progress = null)
    {
        var layers = model.Config.LayerCount;
        var maxOffset = MaxOffset(prompts.Select(p => p.Length));
        using var previous = new DevicePreviousTokenDetector(layers, DetectorRegistry.PreviousToken.Table);
        using var bos = new DeviceBosDetector(layers);
        using var positional = new DevicePositionalDetector(layers, maxOffset);
        using var duplicate = new DeviceDuplicateTokenDetector(layers);
        using var delimiter = new DeviceDelimiterDetector(layers);
        using var matrixPrevious = new DeviceDetectionMatrix(layers, DetectionTemplate.PreviousToken);
        using var matrixDuplicate = new DeviceDetectionMatrix(layers, DetectionTemplate.DuplicateToken);
        using var matrixInduction = new DeviceDetectionMatrix(layers, DetectionTemplate.Induction);
        PatternPass.Run(model, prompts, tokenText, [previous, bos, positional, duplicate, delimiter, matrixPrevious, matrixDuplicate, matrixInduction], progress);
        List<(HeadDetector, HeadScores)> tables =
        [
            (DetectorRegistry.PreviousToken, previous.Result()), (DetectorRegistry.Bos, bos.Result()), (DetectorRegistry.Positional, positional.Result()),
            (DetectorRegistry.DuplicateToken, duplicate.Result()), (DetectorRegistry.Delimiter, delimiter.Result()),
            (DetectorRegistry.MatrixPreviousToken, matrixPrevious.Result()), (DetectorRegistry.MatrixDuplicateToken, matrixDuplicate.Result()),
            (DetectorRegistry.MatrixInduction, matrixInduction.Result()),
        ];
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

    static IEnumerable<ListPrompt> ListPrompts(Transformer model, IReadOnlyList<ListTokens> prompts, Func<int, string> text) =>
        AttentionPatterns.FromModel(model, prompts.Select(p => p.Tokens), text, batchSize: 1).Select((p, i) => new ListPrompt(p, prompts[i].ElementPositions));
}
