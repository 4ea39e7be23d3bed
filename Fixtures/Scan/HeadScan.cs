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

    /// <summary>Names for the IOI prompts (only single-token names are used).</summary>
    public IReadOnlyList<string> Names { get; init; } = IoiNames;

    /// <summary>Names of the IOI dataset of Wang et al. that GPT-2 encodes as one token, and the zoo's names.</summary>
    public static readonly IReadOnlyList<string> IoiNames =
        ["Mary", "John", "Alice", "Bob", "Carol", "Dave", "Eve", "Frank", "Tom", "James", "Dan", "Sid", "Martin", "Amy", "Anna", "Paul"];

    public static ScanProtocol For(Transformer model) => new()
    {
        Induction = model.Config.ContextLength >= 512 ? InductionProtocol.Spd : InductionProtocol.Arena,
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
    public static ScanResult Run(ModelChoice choice, ScanProtocol? protocol = null, IProgress<string>? progress = null)
    {
        var model = choice.Model;
        var tokenizer = choice.Tokenizer ?? throw new ArgumentException($"{choice.Name} has no tokenizer: the real-text detectors need one.");
        protocol ??= ScanProtocol.For(model);
        var notes = new List<string>();
        string Text(int id) => tokenizer.TokenText(id);

        progress?.Report("real text");
        var realText = RealText(tokenizer).Where(p => p.Length <= model.Config.ContextLength).ToList();
        notes.Add($"real text: {realText.Count} prompts, {realText.Sum(p => p.Length)} tokens");
        var textPatterns = PromptPatterns.FromModel(model, realText, Text, batchSize: 1).ToList();
        // Offsets up to half the shortest prompt, so every profile[d] averages over many queries (SPD: d < 128 on long text).
        var positional = new PositionalDetector(Math.Min(128, realText.Min(p => p.Length) / 2));
        notes.Add($"positional: offsets d < {Math.Min(128, realText.Min(p => p.Length) / 2)}");
        var tables = new List<HeadScores>(Detectors.Run(textPatterns,
            new PreviousTokenDetector("previous-token"), new BosDetector(), positional, new DuplicateTokenDetector(), new DelimiterDetector()));

        progress?.Report("random-token control");
        var random = new Random(protocol.Seed);
        var control = Enumerable.Range(0, protocol.ControlSequences)
            .Select(_ => Enumerable.Range(0, protocol.ControlLength).Select(_ => random.Next(model.Config.VocabularySize)).ToArray()).ToList();
        tables.Add(Detectors.Run(PromptPatterns.FromModel(model, control, Text), new PreviousTokenDetector("previous-token (random tokens)"))[0]);

        var induction = protocol.Induction ?? ScanProtocol.For(model).Induction!;
        progress?.Report($"induction: {induction.Sequences} sequences of 2 × {induction.HalfLength} tokens");
        tables.Add(Ablations.InductionScores(model, induction, progress: new Progress<int>(n => progress?.Report($"induction: {n}/{induction.Sequences}"))));
        notes.Add($"induction: {induction.Sequences} sequences x ++ x, L = {induction.HalfLength}, seed {induction.Seed}");

        progress?.Report("successor lists");
        try
        {
            var (ordinal, randomLists) = PromptSets.SuccessorLists(tokenizer);
            tables.Add(StructuredDetectors.Successor(ListPrompts(model, ordinal, Text), ListPrompts(model, randomLists, Text)));
            notes.Add($"successor: {ordinal.Count} ordinal lists and {randomLists.Count} random-word lists of 5 elements");
        }
        catch (ArgumentException e)
        {
            notes.Add("successor: not run (" + e.Message + ")");
        }

        progress?.Report("IOI prompts");
        try
        {
            var ioi = PromptSets.Ioi(tokenizer, protocol.Names);
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

        progress?.Report("TransformerLens detection matrices");
        foreach (var pattern in new[] { DetectionPattern.PreviousToken, DetectionPattern.DuplicateToken, DetectionPattern.Induction })
            tables.Add(DetectionMatrices.Detect(textPatterns, pattern));

        progress?.Report("OV copying scores");
        var copying = Circuits.CopyingScores(model);
        tables.Add(new HeadScores("copying", "Σ Re(λ) / Σ |λ| over the eigenvalues of W_E W_V,h W_O,h W_U (Elhage et al.)", copying, 0.0));
        return new ScanResult(choice.Name, tables, positional.Profiles(), notes);
    }

    static IEnumerable<ListPrompt> ListPrompts(Transformer model, IReadOnlyList<BuiltPrompt> prompts, Func<int, string> text) =>
        PromptPatterns.FromModel(model, prompts.Select(p => p.Tokens), text, batchSize: 1).Select((p, i) => new ListPrompt(p, prompts[i].PieceEnds));

    /// <summary>The real-text prompts for a tokenizer: the zoo's sentences for its vocabulary, English prose otherwise.</summary>
    public static IReadOnlyList<int[]> RealText(ITokenizer tokenizer) => tokenizer switch
    {
        WordTokenizer w when w.Words.SequenceEqual(CompiledVocabulary.All) => ZooText.Prompts(w),
        _ => [.. EnglishText.Lines.Select(line => PromptBuilder.For(tokenizer).Build([line]).Tokens)],
    };
}
