/// libtorch in the build: TorchSharp 0.107.0's glue library asks for GLIBCXX_3.4.32, which Debian 12's libstdc++
/// lacks, for one symbol nothing calls; the build marks that need weak in its copy, and only where the host lacks it.
module Verification.Specs.Torch

open System.IO
open System.Text
open NUnit.Framework
open TorchSharp
open Verification.Engine.Torch
open Verification.Specs.Support

let private hostLacksVersion () =
    let host = "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"
    File.Exists host && not ((Encoding.ASCII.GetString(File.ReadAllBytes host)).Contains "GLIBCXX_3.4.32\u0000")

[<Test>]
let ``libtorch loads and multiplies matrices as the float64 reference does`` () =
    log (TorchRuntime.EnsureLoaded())
    let a = randn 1 [ 7; 5 ]
    let b = randn 2 [ 5; 3 ]
    use ta = torch.tensor(a.Data, System.ReadOnlySpan<int64>([| 7L; 5L |]))
    use tb = torch.tensor(b.Data, System.ReadOnlySpan<int64>([| 5L; 3L |]))
    use product = (ta: torch.Tensor).matmul tb
    let ours = product.data<float32>().ToArray() |> Array.map float
    let reference =
        [| for i in 0 .. 6 do
               for j in 0 .. 2 -> Seq.sum (seq { for k in 0 .. 4 -> float a.Data[i * 5 + k] * float b.Data[k * 3 + j] }) |]
    let worst, _ = maxAbsDiff reference ours
    Assert.That(worst, Is.LessThan 1e-5)

[<Test>]
let ``the build's libLibTorchSharp differs from the package's by the one weak flag, and only where libstdc++ lacks GLIBCXX 3 4 32`` () =
    let shipped = TorchRuntime.ShippedGlueLibrary
    Assert.That(shipped, Is.Not.Null, "the package path is recorded when Engine is built")
    Assert.That(File.Exists shipped, sprintf "the package's copy at %s" shipped)
    let original = File.ReadAllBytes shipped
    let built = File.ReadAllBytes TorchRuntime.BuiltGlueLibrary
    Assert.That(built.Length, eq original.Length)
    let differing = [ for i in 0 .. original.Length - 1 do if original[i] <> built[i] then yield i, original[i], built[i] ]
    if hostLacksVersion () then
        // vna_flags of the GLIBCXX_3.4.32 entry: 0 → VER_FLG_WEAK (2); nothing else.
        Assert.That(differing |> List.map (fun (_, o, b) -> o, b), eq [ (0uy, 2uy) ], "one flag byte set")
    else
        Assert.That(differing, Is.Empty, "a libstdc++ with GLIBCXX_3.4.32 gets the library as shipped")

// ---- the first model on libtorch tensors -------------------------------------------------------------------------

open Verification.Engine.Loading
open Verification.Engine.Models
open Verification.Fixtures.Golden

/// PyTorch's GPT-2 golden model, its outputs, and the token rows they are for.
let private gpt2Tiny () =
    let expected = GoldenModels.Expected "gpt2-tiny"
    ModelLoader.Load(GoldenModels.Folder "gpt2-tiny") :?> Gpt2Model, expected, Verification.Specs.Loading.rows expected "input_ids"

[<Test>]
let ``GPT-2 run in float64 gives PyTorch's logits and patterns too`` () =
    let model, expected, tokens = gpt2Tiny ()
    let run = model.Run(tokens, RunOptions(Cache = [| for l in 0 .. model.Config.LayerCount - 1 -> Hooks.Pattern l |], Precision = Precision.Float64))
    // PyTorch's own run was float32: the float64 one differs from it only by float32's rounding.
    assertClose "float64 logits vs PyTorch" 1e-4 1e-4 (toDoubles (expected.Read "logits")) (toDoubles run.Logits)
    for l in 0 .. model.Config.LayerCount - 1 do
        assertClose (sprintf "float64 pattern %d vs PyTorch" l) 1e-5 1e-4 (toDoubles (expected.Read(sprintf "pattern.%d" l))) (toDoubles run.Cache.[Hooks.Pattern l])
