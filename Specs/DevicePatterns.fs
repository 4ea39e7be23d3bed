/// The detectors reduce patterns on the device; the host detectors, reading full host copies of every pattern, are their
/// slow reference. On the compiled circuits, the real encoder minilm (masked padding) and a GPT-2-small-shaped model
/// (right padding, 12 layers × 12 heads) both give the same tables on the same prompts.
module Verification.Specs.DevicePatterns

open System
open NUnit.Framework
open Verification.Analysis
open Verification.Engine.Models
open Verification.Fixtures
open Verification.Fixtures.Protocols
open Verification.Fixtures.Real
open Verification.Specs.Support

/// GPT-2 small's shape (12 × 12 heads, width 768, MLP 3072, GPT-2's vocabulary and context) with random weights, wide
/// enough (std 0.1) that patterns are far from uniform.
let gpt2SmallShaped =
    lazy
        (ParameterLayout.Create(
            Gpt2Config(VocabularySize = 50257, ContextLength = 1024, ModelWidth = 768, LayerCount = 12, HeadCount = 12, MlpWidth = 3072),
            seed = 5, std = 0.1f))

let private cases = [| "compiled-heads"; "minilm"; "gpt2-small-shaped" |]

/// The model, its token text and prompts of several lengths (so batches hold padding).
let private setup (name: string) =
    match name with
    | "gpt2-small-shaped" ->
        let tokenizer = SharedData.Gpt2Tokenizer()
        let text = Verification.Fixtures.Prompts.Sentences.All |> Seq.take 10 |> Seq.map tokenizer.Encode |> Seq.toList
        let repeated = InductionProtocol(HalfLength = 20, Sequences = 2, FirstToken = 1000, TokenCount = 2000).Prompts(50257) |> Seq.toList
        gpt2SmallShaped.Force(), Func<int, string>(tokenizer.TokenText), text @ repeated
    | _ ->
        let choice = ModelCatalog.Load name
        let inputs = Protocols.Inputs choice
        choice.Model, inputs.TokenText, inputs.RealText |> Seq.truncate 40 |> Seq.toList

let private close (what: string) (expected: float[,]) (actual: float[,]) =
    let flat (m: float[,]) = [| for i in 0 .. Array2D.length1 m - 1 do for j in 0 .. Array2D.length2 m - 1 -> m.[i, j] |]
    let e, a = flat expected, flat actual
    Assert.That(a.Length, eq e.Length, what)
    // Both sum float32 weights of runs on batches of other shapes (the device's padded, the host's one prompt each), so
    // patterns differ by float32 rounding, ~1e-7 per weight after 12 layers of a random GPT-2; a delimiter ratio divides
    // by a share of ~0.1. The bound, 1e-5, is a hundredth of the snapshots' last printed place; a wrong term is 1e-2 off.
    let worst = Array.map2 (fun x y -> if Double.IsNaN x && Double.IsNaN y then 0.0 else abs (x - y)) e a |> Array.max
    Assert.That(worst, Is.LessThanOrEqualTo 1e-5, sprintf "%s: largest difference %.3g" what worst)
    worst

[<TestCaseSource(nameof cases)>]
let ``every pattern-only detector on the device gives the host detectors' table on the same prompts`` (name: string) =
    let model, text, prompts = setup name
    Assert.That(prompts |> List.map Array.length |> List.distinct |> List.length, Is.GreaterThan 1, "prompts of several lengths: batches are padded")
    let struct (hostTables, hostProfiles, hostOffset) = HeadScan.PatternOnly(AttentionPatterns.FromModel(model, prompts, text, batchSize = 1) |> Seq.toList)
    let struct (deviceTables, deviceProfiles, deviceOffset) = HeadScan.PatternOnlyOnDevice(model, prompts |> List.toArray, text)
    Assert.That(deviceOffset, eq hostOffset)
    let mutable worst = 0.0
    for (struct (detector: HeadDetector, host: HeadScores), struct (_, device: HeadScores)) in Seq.zip hostTables deviceTables do
        Assert.That(device.Detector, eq host.Detector)
        Assert.That(device.Definition, eq host.Definition, "the same definition, in words")
        worst <- max worst (close host.Detector host.Values device.Values)
        for KeyValue(extra, values) in host.Extra do worst <- max worst (close (host.Detector + " " + extra) values device.Extra.[extra])
        let names (t: HeadScores) = t.Flagged |> Seq.map (fun struct (l, h, _) -> HeadScores.Name(l, h)) |> Seq.toList
        Assert.That(names device, eq (names host), detector.Table + ": the same heads flagged")
    let profile (p: float[,,]) = Array2D.init (Array3D.length1 p * Array3D.length2 p) (Array3D.length3 p) (fun i d -> p.[i / Array3D.length2 p, i % Array3D.length2 p, d])
    worst <- max worst (close "positional profiles" (profile hostProfiles) (profile deviceProfiles))
    log (sprintf "%s: %d prompts of %d–%d tokens; largest device − host difference %.2g" name prompts.Length
             (prompts |> List.map Array.length |> List.min) (prompts |> List.map Array.length |> List.max) worst)

[<TestCaseSource(nameof cases)>]
let ``the induction detector on the device gives the host's scores on repeated random tokens`` (name: string) =
    let model, _, _ = setup name
    let protocol = InductionProtocol(HalfLength = 12, Sequences = 6, BatchSize = 4, Seed = 3, FirstToken = 1, TokenCount = min 60 (model.Config.VocabularySize - 1))
    let host = Detectors.Induction(AttentionPatterns.FromModel(model, protocol.Prompts(model.Config.VocabularySize), string, batchSize = 4))
    let device = Ablations.InductionScores(model, protocol)
    close "induction" host.Values device.Values |> ignore

let private circuitModels = [| "compiled-heads"; "context"; "llama-gqa2-untied" |]

[<TestCaseSource(nameof circuitModels)>]
let ``OV copy and copying scores on the device equal their host references`` (name: string) =
    let model =
        if name = "llama-gqa2-untied" then Verification.Engine.Loading.ModelLoader.Load(Verification.Fixtures.Golden.GoldenModels.Folder name)
        else (ModelCatalog.Load name).Model
    let tokens = [| 1; 3; 5; 7; 11; 13 |]
    // Both in float64 from the same float32 weights; only the order of the sums differs.
    let worst (a: float[,]) (b: float[,]) = Seq.max [ for i in 0 .. Array2D.length1 a - 1 do for j in 0 .. Array2D.length2 a - 1 -> abs (a.[i, j] - b.[i, j]) ]
    let ov = worst (Circuits.OvCopyScoresOnHost(model, tokens)) (Circuits.OvCopyScores(model, tokens))
    let copying = worst (Circuits.CopyingScoresOnHost model) (Circuits.CopyingScores model)
    log (sprintf "%s: largest |device − host|: OV copy %.2g, copying %.2g" name ov copying)
    Assert.That(ov, Is.LessThanOrEqualTo 1e-9)
    Assert.That(copying, Is.LessThanOrEqualTo 1e-9)
