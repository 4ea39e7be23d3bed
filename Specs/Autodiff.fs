/// The reverse-mode tape: every operation's gradient against central differences of its double-precision
/// reference, AdamW against PyTorch, and a small network that learns.
module Verification.Specs.Autodiff

open System
open NUnit.Framework
open Verification.Engine.Autodiff
open Verification.Engine.Tensors
open Verification.Fixtures.Golden
open Verification.Specs.Support

/// d(Σ op(x)·r)/dx from the tape against central differences of the reference in float64. The analytic
/// gradient is float32, accumulated over at most a few dozen terms: 1e-4 absolute + 1e-3 relative is ~100×
/// its rounding error and far below any real mistake (a wrong term is O(1)).
let private gradientCheck (case: OpCases.OpCase) =
    let inputs = case.Inputs()
    for x in inputs do
        x.RequiresGrad <- true
    use tape = Tape.Record()
    let output = case.Fast inputs
    let upstream = randn 99 (List.ofArray output.Shape)
    tape.Backward(Ops.Sum(Ops.Mul(output, upstream)))
    let r = RefTensor.From upstream
    let objective (xs: RefTensor list) =
        let y = case.Reference xs
        Array.fold2 (fun acc a b -> acc + a * b) 0.0 y.Data r.Data
    let refInputs = inputs |> List.map RefTensor.From
    inputs
    |> List.iteri (fun i x ->
        let numeric =
            Array.init x.Size (fun j ->
                let h = 1e-6 * max 1.0 (abs refInputs.[i].Data.[j])
                let shifted delta =
                    refInputs |> List.mapi (fun k t -> if k = i then (let d = Array.copy t.Data in d.[j] <- d.[j] + delta; RefTensor(d, t.Shape)) else t)
                (objective (shifted h) - objective (shifted -h)) / (2.0 * h))
        Assert.That(x.Grad, Is.Not.Null, sprintf "%s: input %d received no gradient" case.Name i)
        assertClose (sprintf "%s d/dx%d" case.Name i) 1e-4 1e-3 numeric (toDoubles x.Grad))

let opNames = OpCases.names

[<TestCaseSource(nameof opNames)>]
let ``each operation's gradient matches central finite differences of its definition`` (name: string) =
    gradientCheck (OpCases.byName name)

[<Test>]
let ``the tape is off unless asked for`` () =
    let w = randn 1 [ 3; 3 ]
    w.RequiresGrad <- true
    let y = Ops.MatMul(randn 2 [ 2; 3 ], w)
    Assert.That(y.RequiresGrad, Is.False, "nothing recorded without a tape")
    Assert.That(Tape.Current, Is.Null)
    use tape = Tape.Record()
    let recorded = Ops.MatMul(randn 2 [ 2; 3 ], w)
    Assert.That(recorded.RequiresGrad, Is.True)
    Assert.That(tape.StepCount, eq 1)
    let paused = Tape.Paused(fun () -> Ops.MatMul(randn 2 [ 2; 3 ], w))
    Assert.That(paused.RequiresGrad, Is.False, "Tape.Paused records nothing")

[<Test>]
let ``a parameter used twice receives the sum of both gradients`` () =
    // loss = Σ (x·w)·(x·w)ᵀ-free form: Σ(x·w) + Σ(x·w)·2  ⇒ dL/dw = 3·xᵀ·1
    let x = randn 1 [ 4; 3 ]
    let w = randn 2 [ 3; 2 ]
    w.RequiresGrad <- true
    use tape = Tape.Record()
    let a = Ops.MatMul(x, w)
    let b = Ops.Scale(Ops.MatMul(x, w), 2.0f)
    tape.Backward(Ops.Sum(Ops.Add(a, b)))
    let expected = Array.init 6 (fun idx -> let (i, _) = (idx / 2, idx % 2) in 3.0 * (Array.init 4 (fun r -> float x.[r, i]) |> Array.sum))
    assertClose "dL/dw" 1e-5 1e-5 expected (toDoubles w.Grad)

[<Test>]
let ``backward needs a scalar loss that the tape computed`` () =
    use tape = Tape.Record()
    let error = throws<ArgumentException> (fun () -> tape.Backward(randn 1 [ 2 ]))
    error.Message |> mentions [ "scalar"; "[2]" ]
    throws<InvalidOperationException> (fun () -> tape.Backward(Tensor.Scalar 1.0f)) |> ignore

[<Test>]
let ``AdamW with weight decay and gradient clipping matches torch optim AdamW over five steps`` () =
    let file = GoldenFiles.Ops
    let p = file.Read "adamw.p0"
    let grads = file.Read "adamw.grads"
    let optimizer = AdamW([ p ], learningRate = 0.01f, weightDecay = 0.1f)
    let norms =
        [ for step in 0 .. 4 ->
              p.Grad <- Tensor.FromArray(grads.Data.[step * 15 .. step * 15 + 14], 5, 3)
              let norm = optimizer.ClipGradNorm 1.0f
              optimizer.Step()
              float norm ]
    assertClose "gradient norms before clipping" 1e-5 1e-5 (toDoubles (file.Read "adamw.norms")) (List.toArray norms)
    assertTensorClose "parameters after five steps" 1e-6 1e-5 (file.Read "adamw.p5") p

/// Two interleaved spirals (a classic non-linear problem), 200 points.
let private spirals () =
    let rnd = Random 3
    [| for i in 0 .. 199 ->
           let label = i % 2
           let t = float (i / 2) / 100.0 * 3.0 * Math.PI
           let radius = 0.2 + t / (3.0 * Math.PI)
           let angle = t + float label * Math.PI
           let noise () = (rnd.NextDouble() - 0.5) * 0.04
           ([| float32 (radius * cos angle + noise ()); float32 (radius * sin angle + noise ()) |], label) |]

[<Test>]
let ``a small MLP learns two interleaved spirals to a cross-entropy below 0 point 1 in 400 AdamW steps`` () =
    // Stated before running: 2→64→64→2 with gelu, full batch, AdamW lr 1e-2, 400 steps, loss < 0.1.
    let data = spirals ()
    let x = Tensor.FromArray(data |> Array.collect fst, 200, 2)
    let y = data |> Array.map snd
    let rnd = Random 11
    let w1 = Tensor.RandomNormal(rnd, 0.7f, 2, 64)
    let b1 = Tensor.Zeros 64
    let w2 = Tensor.RandomNormal(rnd, 0.125f, 64, 64)
    let b2 = Tensor.Zeros 64
    let w3 = Tensor.RandomNormal(rnd, 0.125f, 64, 2)
    let b3 = Tensor.Zeros 2
    let optimizer = AdamW([ w1; b1; w2; b2; w3; b3 ], learningRate = 1e-2f, weightDecay = 0.0f)
    let mutable loss = nan
    let mutable first = nan
    for step in 1 .. 400 do
        use tape = Tape.Record()
        let h1 = Ops.Gelu(Ops.MatMul(x, w1, bias = b1), GeluForm.Tanh)
        let h2 = Ops.Gelu(Ops.MatMul(h1, w2, bias = b2), GeluForm.Tanh)
        let l = Ops.CrossEntropy(Ops.MatMul(h2, w3, bias = b3), ReadOnlySpan y)
        tape.Backward l
        optimizer.ClipGradNorm 1.0f |> ignore
        optimizer.Step()
        optimizer.ZeroGrad()
        loss <- float l.Data.[0]
        if step = 1 then first <- loss
    log (sprintf "spirals: loss %.4f at step 1, %.4f at step 400" first loss)
    Assert.That(first, Is.GreaterThan 0.6, "starts near ln 2")
    Assert.That(loss, Is.LessThan 0.1)
