using Verification.Analysis;
using Verification.Engine.Models;
using Verification.Fixtures.Prompts;

namespace Verification.Fixtures.Protocols;

/// <summary>
/// The sources' protocols as values, in one place: which prompts, which seeds, BOS or not. Analysis takes them as
/// arguments; the specs and the CLI choose them here.
/// </summary>
public static class Protocols
{
    /// <summary>SPD's induction prompts (PR #403): x ++ x of half-length 256, 32 × 100 sequences, no BOS.</summary>
    public static InductionProtocol SpdInduction { get; } = new();

    /// <summary>ARENA's induction prompts: half-length 50, 64 sequences (a BOS is prepended by <see cref="Arena"/>).</summary>
    public static InductionProtocol ArenaInduction { get; } = new(HalfLength: 50, Sequences: 64);

    /// <summary>
    /// The default scan of a model: every detector with the sources' definitions on prompt sets sized to finish in minutes
    /// on two cores at GPT-2's size. Induction: SPD's half-length 256 (when the context allows) but one of SPD's batches
    /// of 32 sequences, not its 3,200 (<see cref="Spd"/> runs those); ARENA's L = 50 when the context is shorter; half the
    /// context when shorter still. An encoder gets ARENA's at most.
    /// </summary>
    public static ScanProtocol For(Transformer model) => new()
    {
        Name = "quick",
        Induction = InductionFor(model, SpdInduction with { Sequences = SpdInduction.BatchSize }),
        ControlLength = Math.Min(64, model.Config.ContextLength),
    };

    static InductionProtocol InductionFor(Transformer model, InductionProtocol longest) => model.Config.ContextLength switch
    {
        >= 512 when model.Config.Causal => longest,
        >= 100 => ArenaInduction,
        var c => ArenaInduction with { HalfLength = c / 2 },
    };

    /// <summary>
    /// SPD's protocol: no BOS inserted anywhere (real text, IOI, successor lists), real text in windows of up to 512
    /// tokens (SPD's eval split), its full induction prompts (3,200 sequences of 2 × 256) where the context allows.
    /// </summary>
    public static ScanProtocol Spd(Transformer model) =>
        For(model) with
        {
            Name = "spd",
            Induction = InductionFor(model, SpdInduction),
            PrependBos = false,
            RealTextWindow = Math.Min(512, model.Config.ContextLength),
        };

    /// <summary>The protocols a scan can be asked for by name.</summary>
    public static readonly IReadOnlyList<string> Names = ["quick", "spd", "arena"];

    /// <summary>A protocol by name (quick, spd, arena), with the induction sequence count overridden when given.</summary>
    public static ScanProtocol Named(string name, ModelChoice choice, int? inductionSequences = null)
    {
        var model = choice.Model;
        var protocol = name.ToLowerInvariant() switch
        {
            "quick" => For(model),
            "spd" => Spd(model),
            "arena" => Arena(model, choice.Tokenizer is { } t ? PromptBuilder.For(t).Bos : null),
            _ => throw new ArgumentException($"--protocol: '{name}' is not a protocol: {string.Join(", ", Names)}."),
        };
        if (inductionSequences is { } n)
            protocol = protocol with { Induction = (protocol.Induction ?? InductionFor(model, SpdInduction)) with { Sequences = n } };
        return protocol;
    }

    /// <summary>
    /// ARENA's protocol for GPT-2: BOS first on real text and on the repeated random tokens (half-length 50), as ARENA's
    /// generate_repeated_tokens prepends the tokenizer's BOS.
    /// </summary>
    public static ScanProtocol Arena(Transformer model, int? bos) =>
        For(model) with
        {
            Name = "arena",
            Induction = ArenaInduction with { HalfLength = Math.Min(50, (model.Config.ContextLength - (bos is null ? 0 : 1)) / 2), Bos = bos },
        };

    /// <summary>
    /// A head scan's inputs for a model: the protocol (default: <see cref="For"/>) applied to its tokenizer and real
    /// text, the IOI sentences over <see cref="PromptSets.IoiNames"/> and the successor lists where the vocabulary has them.
    /// </summary>
    public static ScanInputs Inputs(ModelChoice choice, ScanProtocol? protocol = null)
    {
        var model = choice.Model;
        var tokenizer = choice.Tokenizer ?? throw new ArgumentException($"{choice.Name} has no tokenizer: the real-text detectors need one.");
        protocol ??= For(model);
        var bos = PromptBuilder.For(tokenizer).Bos;
        var realText = (choice.Text ?? PromptSets.RealText(tokenizer)).Where(p => p.Length <= model.Config.ContextLength)
            .Select(p => protocol.PrependBos || p.Length < 2 || p[0] != bos ? p : p[1..]).ToList();
        if (protocol.RealTextWindow is { } window) realText = HeadScan.Windows(realText, Math.Min(window, model.Config.ContextLength));

        var inputs = new ScanInputs(choice.Name, model, tokenizer.TokenText, protocol, protocol.Induction ?? InductionFor(model, SpdInduction with { Sequences = SpdInduction.BatchSize })) { RealText = realText };
        try
        {
            var (ordinal, random) = PromptSets.SuccessorLists(tokenizer, prependBos: protocol.PrependBos);
            inputs = inputs with
            {
                OrdinalLists = [.. ordinal.Select(p => new ListTokens(p.Tokens, p.PieceEnds))],
                RandomLists = [.. random.Select(p => new ListTokens(p.Tokens, p.PieceEnds))],
            };
        }
        catch (ArgumentException e)
        {
            inputs = inputs with { SuccessorUnavailable = e.Message };
        }
        try
        {
            var ioi = PromptSets.Ioi(tokenizer, PromptSets.IoiNames, protocol.PrependBos);
            var builder = PromptBuilder.For(tokenizer);
            var names = PromptSets.IoiNames.Where(n => builder.Fits(" " + n)).Select(n => builder.Build([" " + n], prependBos: false).Tokens[0])
                .Distinct().ToList();
            inputs = inputs with { Ioi = [.. ioi.Select(p => new IoiTokens(p.Prompt.Tokens, p.Last, p.S2))], NameTokens = names };
        }
        catch (ArgumentException e)
        {
            inputs = inputs with { IoiUnavailable = e.Message };
        }
        return inputs;
    }

    /// <summary>
    /// The prompts that exercise every kind of head in a zoo model: its real text, repeated random tokens, ordinal
    /// and random-word lists, and IOI sentences, each with its attention patterns.
    /// </summary>
    public static IReadOnlyList<(string Prompt, AttentionPatterns Patterns)> MotifPrompts(ModelChoice choice, int seed = 0)
    {
        var tokenizer = choice.Tokenizer ?? throw new ArgumentException($"{choice.Name} has no tokenizer.");
        var model = choice.Model;
        var prompts = new List<(string, int[])>();
        prompts.AddRange((choice.Text ?? PromptSets.RealText(tokenizer)).Take(6).Select((t, i) => ($"text {i}", t)));
        var induction = new InductionProtocol(HalfLength: Math.Min(40, model.Config.ContextLength / 2), Sequences: 3, Seed: seed);
        prompts.AddRange(induction.Prompts(model.Config.VocabularySize).Select((t, i) => ($"repeat {i}", t)));
        // Lists and IOI sentences where the vocabulary can express them (not for models of bare token ids).
        try
        {
            var (ordinal, random) = PromptSets.SuccessorLists(tokenizer);
            prompts.AddRange(ordinal.Take(3).Select((p, i) => ($"ordinal {i}", p.Tokens)));
            prompts.AddRange(random.Take(2).Select((p, i) => ($"words {i}", p.Tokens)));
            prompts.AddRange(PromptSets.Ioi(tokenizer, PromptSets.IoiNames).Take(3).Select((p, i) => ($"ioi {i}", p.Prompt.Tokens)));
        }
        catch (ArgumentException)
        {
        }
        return [.. prompts.Select(p => (p.Item1, AttentionPatterns.Of(model, tokenizer.TokenText, p.Item2)))];
    }
}
