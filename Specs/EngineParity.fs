/// The engine's slow reference: the same model code run in float64 against the float32 run, at every hook of every
/// family; masking and bad input. (The independent references are elsewhere: PyTorch's golden models in
/// Loading.fs, ONNX Runtime on the real encoders in RealEncoders.fs, llama2.c's run.c ids, NumPy on real patterns.)
module Verification.Specs.EngineParity

open System
open NUnit.Framework
open Verification.Engine.Models
open Verification.Engine.Tensors
open Verification.Engine.Torch
open Verification.Engine.Training
open Verification.Specs.Support

let families = Hooks.families

/// −∞ (masked scores) compared as a large finite number, so a masked entry must be masked in both runs.
let private finite (xs: float32[]) = xs |> Array.map (fun x -> if Single.IsNegativeInfinity x then -1e30 else float x)

[<TestCaseSource(nameof families)>]
let ``each family's float32 run agrees with its float64 run at every hook`` (family: string) =
    let m = Hooks.model family
    let options = RunOptions(Cache = [| "*" |], ComputeResult = true)
    let single = m.Run(Hooks.tokens, options)
    let double = m.Run(Hooks.tokens, RunOptions(Cache = [| "*" |], ComputeResult = true, Precision = Precision.Float64))
    Assert.That(Set.ofSeq single.Cache.Keys, eq (Set.ofSeq double.Cache.Keys), "the same hooks")
    let mutable worst = 0.0
    for hook in single.Cache.Keys do
        let a: Tensor = single.Cache.[hook]
        let b: Tensor = double.Cache.[hook]
        Assert.That(a.Shape, eq b.Shape, hook)
        // Activations of O(1–10) through a few float32 products and norms carry ~1e-6 relative rounding; 1e-4 is far
        // above that and far below any real mistake (a wrong term is O(0.1) or more).
        assertClose hook 1e-4 1e-4 (finite b.Data) (finite a.Data)
        worst <- max worst (fst (maxAbsDiff (finite b.Data) (finite a.Data)))
    log (sprintf "%s: %d hooks, largest |float32 − float64| %.2g" family single.Cache.Count worst)

[<TestCaseSource(nameof families)>]
let ``fused attention, used when no hook needs the pattern, gives what the explicit softmax gives`` (family: string) =
    let m = Hooks.model family
    let zs = [| for l in 0 .. m.Config.LayerCount - 1 -> Hooks.Z l |]
    let patterns = [| for l in 0 .. m.Config.LayerCount - 1 -> Hooks.Pattern l |]
    // Padding in BERT's second item, so its key mask goes through the fused kernel too.
    let mask = if family = "bert" then [| Array.create 8 true; Array.init 8 (fun i -> i < 5) |] else null
    let fused = m.Run(Hooks.tokens, RunOptions(Cache = zs, AttentionMask = mask))
    let explicitRun = m.Run(Hooks.tokens, RunOptions(Cache = Array.append zs patterns, AttentionMask = mask))
    for hook in zs do
        assertClose hook 1e-5 1e-5 (toDoubles explicitRun.Cache.[hook]) (toDoubles fused.Cache.[hook])
    assertClose "logits" 1e-5 1e-5 (toDoubles explicitRun.Logits) (toDoubles fused.Logits)

[<TestCaseSource(nameof families)>]
let ``logits written straight into the host array equal the ones libtorch returns`` (family: string) =
    let m = Hooks.model family
    let host = m.Run(Hooks.tokens).Logits
    use scope = TorchSharp.torch.NewDisposeScope()
    use noGrad = TorchSharp.torch.no_grad()
    let returned = TorchRuntime.ToHost(m.Logits Hooks.tokens, "logits")
    Assert.That(host.Shape, eq returned.Shape)
    assertClose "logits" 1e-6 1e-6 (toDoubles returned) (toDoubles host)

[<Test>]
let ``masked attention entries are exactly zero and a fully masked row is all zeros`` () =
    let bert = Hooks.model "bert"
    // Item 1 masks every key: its queries may attend to nothing, so they attend with weight 0, not NaN.
    let mask = [| Array.create 8 true; Array.create 8 false |]
    let run = bert.Run(Hooks.tokens, RunOptions(Cache = [| Hooks.Pattern 0 |], AttentionMask = mask))
    let pattern = run.Cache.[Hooks.Pattern 0] // [batch, head, query, key]
    let heads, n = pattern.Shape.[1], pattern.Shape.[2]
    for h in 0 .. heads - 1 do
        for q in 0 .. n - 1 do
            let row = [ for k in 0 .. n - 1 -> pattern.[1, h, q, k] ]
            Assert.That(row |> List.forall ((=) 0.0f), sprintf "fully masked row H%d q%d: %A" h q row)
            Assert.That([ for k in 0 .. n - 1 -> float pattern.[0, h, q, k] ] |> List.sum, Is.EqualTo(1.0).Within(1e-6))
    Assert.That(run.Logits.Data |> Array.forall Single.IsFinite, "logits stay finite")
    let gpt2 = Hooks.model "gpt2"
    let causal = gpt2.Run(Hooks.tokens, RunOptions.Caching(Hooks.Pattern 0)).Cache.[Hooks.Pattern 0]
    for h in 0 .. causal.Shape.[1] - 1 do
        for q in 0 .. 7 do
            for k in q + 1 .. 7 do
                Assert.That(causal.[0, h, q, k], eq 0.0f, sprintf "H%d: query %d sees key %d" h q k)

// ---- bad input -------------------------------------------------------------------------------------------------

[<Test>]
let ``a product of mismatched shapes fails with both shapes in the message`` () =
    let error = throws<ArgumentException> (fun () -> HostMath.MatMul(randn 1 [ 2; 3 ], randn 2 [ 4; 5 ]) |> ignore)
    error.Message |> mentions [ "[2, 3]"; "[4, 5]" ]

[<Test>]
let ``rotary embeddings given the wrong rank name the layout they expect`` () =
    use x = TorchSharp.torch.zeros(4L, 8L)
    let error = throws<ArgumentException> (fun () -> Rotary.Apply(x, 8, 10000.0f, RotaryLayout.HalfSplit) |> ignore)
    error.Message |> mentions [ "[batch, pos, head, dHead]"; "[4, 8]" ]

[<Test>]
let ``a token id out of range names the id, its position and the vocabulary size`` () =
    let m = Hooks.model "attention-only"
    let error = throws<ArgumentOutOfRangeException> (fun () -> m.Run([| 1; 2; 600 |]) |> ignore)
    error.Message |> mentions [ "Token id 600"; "position 2"; "vocabulary of 50" ]
    use logits = TorchSharp.torch.zeros(2L, 5L)
    let target = throws<ArgumentOutOfRangeException> (fun () -> Losses.CrossEntropy(logits, [| 0; 5 |]) |> ignore)
    target.Message |> mentions [ "Target 5"; "5 classes" ]

[<Test>]
let ``a tensor given the wrong number of values names its shape`` () =
    let error = throws<ArgumentException> (fun () -> Tensor.FromArray(Array.zeroCreate 5, 2, 3) |> ignore)
    error.Message |> mentions [ "[2, 3]"; "6 values"; "5 were given" ]
    let view = throws<ArgumentException> (fun () -> (randn 1 [ 2; 3 ]).View(4, -1) |> ignore)
    view.Message |> mentions [ "[2, 3]"; "[4, -1]" ]

[<Test>]
let ``a device that is not a device, or CUDA where there is none, is refused naming where it came from`` () =
    let bad = throws<ArgumentException> (fun () -> Devices.Check("tpu", "--device") |> ignore)
    bad.Message |> mentions [ "--device"; "'tpu'"; "cpu, cuda or cuda:N" ]
    Assert.That(Devices.Check("CPU", "--device"), eq "cpu")
    if Devices.CudaAvailable then
        Assert.That(Devices.Check("cuda", "VERIFICATION_DEVICE"), eq "cuda")
    else
        let cuda = throws<ArgumentException> (fun () -> Devices.Check("cuda", "VERIFICATION_DEVICE") |> ignore)
        cuda.Message |> mentions [ "VERIFICATION_DEVICE"; "no CUDA device"; "-p:TorchBackend=cuda" ]
    let settings = Verification.Engine.Settings.FromEnvironment(fun name -> if name = "VERIFICATION_DEVICE" then "cuda:1" else null)
    Assert.That(settings.Device, eq "cuda:1")
