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
        var root = new RootCommand("verification: executable specs of published claims about attention heads.");

        var scanModel = new Option<string?>("--model") { Description = $"A zoo name, a real checkpoint's name, or a path (default: {ScanCommand.DefaultModel})." };
        var scanDetectors = new Option<string?>("--detectors") { Description = "all, or a comma-separated list of detector names." };
        var scanOut = new Option<string?>("--out") { Description = "Folder for the CSV and SVG files (default: out/scan/<model>)." };
        var scanPatterns = new Option<string?>("--patterns") { Description = "A pattern_lens model folder: scan its saved patterns, no weights needed." };
        var scan = new Command("scan", "Scan a model's attention heads with every detector (no arguments: a zoo model that needs no download).")
        {
            scanModel, scanDetectors, scanOut, scanPatterns,
        };
        scan.SetAction(p => Guard(() => ScanCommand.Run(p.GetValue(scanModel), p.GetValue(scanDetectors), p.GetValue(scanOut), p.GetValue(scanPatterns))));
        root.Add(scan);

        var modelOption = new Option<string>("--model") { Description = "A zoo name, a real checkpoint's name, or a path.", Required = true };
        var idsOption = new Option<string?>("--ids") { Description = "Comma-separated token ids, e.g. 1,2,3." };
        var textOption = new Option<string?>("--text") { Description = "Text, encoded with the tokenizer stored beside the model." };
        var outOption = new Option<string>("--out") { Description = "The safetensors file to write.", Required = true };
        var cache = new Command("cache", "Run a model once and write every hook's activation (and the logits) to safetensors.")
        {
            modelOption, idsOption, textOption, outOption,
        };
        cache.SetAction(p => Guard(() => ModelCommands.Cache(p.GetValue(modelOption)!, p.GetValue(idsOption), p.GetValue(textOption), p.GetValue(outOption)!)));
        root.Add(cache);

        var stepsOption = new Option<int>("--steps") { Description = "How many tokens to generate.", DefaultValueFactory = _ => 16 };
        var generate = new Command("generate", "Greedy decoding: print the next token ids.") { modelOption, idsOption, textOption, stepsOption };
        generate.SetAction(p => Guard(() => ModelCommands.Generate(p.GetValue(modelOption)!, p.GetValue(idsOption), p.GetValue(textOption), p.GetValue(stepsOption))));
        root.Add(generate);

        var trainModel = new Argument<string>("model") { Description = "The zoo model to retrain: " + string.Join(", ", TrainCommand.Models) };
        var trainOut = new Option<string?>("--out") { Description = "Folder for the checkpoints (default: the committed zoo folder)." };
        var trainSteps = new Option<int?>("--steps") { Description = "Train for fewer steps than the recipe (for a quick look)." };
        var train = new Command("train", "Retrain a zoo model from scratch with its recipe and write its checkpoints.") { trainModel, trainOut, trainSteps };
        train.SetAction(p => Guard(() => TrainCommand.Run(p.GetValue(trainModel)!, p.GetValue(trainOut), p.GetValue(trainSteps))));
        root.Add(train);

        var rulesModel = new Option<string>("--model") { Description = "A zoo name, a real checkpoint's name, or a path.", DefaultValueFactory = _ => "rules" };
        var rulesLayer = new Option<int>("--layer") { Description = "The head's layer.", DefaultValueFactory = _ => 0 };
        var rulesHead = new Option<int>("--head") { Description = "The head.", DefaultValueFactory = _ => 0 };
        var rulesSae = new Option<string?>("--sae") { Description = "An output SAE on the head's hook_z: a suite .safetensors file or a SAELens folder (default: train one)." };
        var rulesInputSae = new Option<string?>("--input-sae") { Description = "Input features: an SAE on hook_resid_pre of the head's layer, a suite .safetensors file or a SAELens folder (default: token identity)." };
        var rulesInputLatents = new Option<int>("--input-latents") { Description = "Train a residual SAE with this many latents here as the input features (0: token identity, unless --input-sae).", DefaultValueFactory = _ => 0 };
        var rulesLatents = new Option<int>("--latents") { Description = "Latents of an SAE trained here.", DefaultValueFactory = _ => 32 };
        var rulesSteps = new Option<int>("--sae-steps") { Description = "Training steps of an SAE trained here.", DefaultValueFactory = _ => 2000 };
        var rulesShown = new Option<int>("--features") { Description = "How many features to print (all go to the CSV).", DefaultValueFactory = _ => 12 };
        var rulesOut = new Option<string?>("--out") { Description = "Folder for features.csv and by-k.svg (default: out/rules/<model>-L<layer>H<head>)." };
        var rules = new Command("rules", "Describe one head's output SAE features by skip-gram rules, with precision, recall and distractors (default: the rules zoo model).")
        {
            rulesModel, rulesLayer, rulesHead, rulesSae, rulesInputSae, rulesInputLatents, rulesLatents, rulesSteps, rulesShown, rulesOut,
        };
        rules.SetAction(p => Guard(() => RulesCommand.Run(p.GetValue(rulesModel)!, p.GetValue(rulesLayer), p.GetValue(rulesHead), p.GetValue(rulesSae),
            p.GetValue(rulesInputSae), p.GetValue(rulesInputLatents), p.GetValue(rulesLatents), p.GetValue(rulesSteps), p.GetValue(rulesShown), p.GetValue(rulesOut))));
        root.Add(rules);

        var bench = new Command("bench", "Benchmarks, printed as ratios against a stated reference.");
        var seconds = new Option<double>("--seconds") { Description = "Seconds of timing per measurement.", DefaultValueFactory = _ => 1.0 };
        var gemm = new Command("gemm", "Matrix-product GFLOP/s: OpenBLAS from C, from C#, and the managed kernel.") { seconds };
        gemm.SetAction(p => BenchCommand.Gemm(p.GetValue(seconds)));
        bench.Add(gemm);
        var tokensOption = new Option<int>("--tokens") { Description = "Sequence length.", DefaultValueFactory = _ => 256 };
        var forward = new Command("forward", "Forward-pass tokens/s of a GPT-2-small-sized model, OpenBLAS and managed.") { tokensOption, seconds };
        forward.SetAction(p => ModelCommands.BenchForward(p.GetValue(tokensOption), p.GetValue(seconds)));
        bench.Add(forward);
        root.Add(bench);

        return root.Parse(args).Invoke();
    }

    /// <summary>Bad input ends with its message and exit code 1, not a stack trace.</summary>
    static int Guard(Func<int> command)
    {
        try
        {
            return command();
        }
        catch (Exception e) when (e is ArgumentException or ModelFileException or ModelNotFoundException or FileNotFoundException or InvalidDataException)
        {
            var message = e is ArgumentException { ParamName: { } name } ? e.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal) : e.Message;
            Console.Error.WriteLine("error: " + message);
            return 1;
        }
    }
}
