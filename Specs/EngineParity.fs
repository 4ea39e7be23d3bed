/// The engine's kernels against independent answers: the double-precision reference path, OpenBLAS against the
/// managed kernel, and PyTorch's outputs and gradients for every operation.
module Verification.Specs.EngineParity

open System
open System.Numerics.Tensors
open NUnit.Framework
open Verification.Engine.Autodiff
open Verification.Engine.Loading
open Verification.Engine.Tensors
open Verification.Fixtures.Golden
open Verification.Specs.Support

// ---- matrix products ----------------------------------------------------------------------------------------

let private gemmShapes = [ (1, 1, 1); (3, 5, 7); (17, 33, 65); (64, 64, 64); (130, 47, 300); (9, 300, 1); (257, 129, 31) ]

/// C = 1.5·op(A)·op(B) + 0.5·C in float32 on the given backend, against the same in double. The bound is the
/// a-priori float32 error of a k-term dot product, (k + 2)·2⁻²⁴·(Σ|α·a·b| + |β·c|), doubled for safety.
let private checkGemm (backend: GemmBackend) =
    use _ = Gemm.Use backend
    let rnd = Random 5
    let mutable worst = 0.0
    for (m, n, k) in gemmShapes do
        for ta in [ false; true ] do
            for tb in [ false; true ] do
                let a = Tensor.RandomNormal(rnd, 1.0f, (if ta then [| k; m |] else [| m; k |]))
                let b = Tensor.RandomNormal(rnd, 1.0f, (if tb then [| n; k |] else [| k; n |]))
                let c = Tensor.RandomNormal(rnd, 1.0f, [| m; n |])
                let expectedC = c.Clone()
                Gemm.Multiply(ta, tb, m, n, k, 1.5f, ReadOnlySpan a.Data, (if ta then m else k), ReadOnlySpan b.Data,
                              (if tb then k else n), 0.5f, Span c.Data, n)
                for i in 0 .. m - 1 do
                    for j in 0 .. n - 1 do
                        let mutable exact = 0.0
                        let mutable magnitude = 0.0
                        for p in 0 .. k - 1 do
                            let av = float (if ta then a.Data.[p * m + i] else a.Data.[i * k + p])
                            let bv = float (if tb then b.Data.[j * k + p] else b.Data.[p * n + j])
                            exact <- exact + av * bv
                            magnitude <- magnitude + abs (av * bv)
                        let c0 = float expectedC.Data.[i * n + j]
                        let expected = 1.5 * exact + 0.5 * c0
                        let bound = 2.0 * float (k + 2) * Math.Pow(2.0, -24.0) * (1.5 * magnitude + 0.5 * abs c0)
                        let err = abs (float c.Data.[i * n + j] - expected)
                        worst <- max worst (err / bound)
                        if err > bound then
                            Assert.Fail(sprintf "%A m=%d n=%d k=%d ta=%b tb=%b: C[%d,%d] = %g, exact %g, error %g > bound %g"
                                            backend m n k ta tb i j c.Data.[i * n + j] expected err bound)
    log (sprintf "%A: worst error %.3f of the float32 bound" backend worst)

[<Test>]
let ``the managed matrix product agrees with the double-precision reference for every transpose and odd size`` () =
    checkGemm GemmBackend.Managed

[<Test>]
let ``OpenBLAS agrees with the double-precision reference for every transpose and odd size`` () =
    if not OpenBlas.IsAvailable then
        Assert.Inconclusive("OpenBLAS is not installed (apt-get install -y libopenblas0-pthread); the managed kernel was checked alone.")
    checkGemm GemmBackend.OpenBlas

[<Test>]
let ``OpenBLAS and the managed kernel give the same transformer-sized product within float32 rounding`` () =
    if not OpenBlas.IsAvailable then
        Assert.Inconclusive("OpenBLAS is not installed (apt-get install -y libopenblas0-pthread).")
    let x = randn 1 [ 96; 768 ]
    let w = randn 2 [ 768; 300 ]
    let viaBlas = (use _ = Gemm.Use GemmBackend.OpenBlas in Ops.MatMul(x, w))
    let viaManaged = (use _ = Gemm.Use GemmBackend.Managed in Ops.MatMul(x, w))
    // Each entry sums 768 products of N(0,1) values (size ≈ √768 ≈ 28); float32 summation orders differ.
    assertTensorClose "OpenBLAS vs managed" 2e-3 1e-5 viaBlas viaManaged

[<Test>]
let ``VERIFICATION_BLAS=off selects the managed kernel and the engine says which backend it uses and why`` () =
    let struct (forced, why) = Gemm.Choose("off", true, "libopenblas.so.0", [])
    Assert.That(forced, eq GemmBackend.Managed)
    Assert.That(why, eq "VERIFICATION_BLAS=off")
    let struct (found, foundWhy) = Gemm.Choose(null, true, "libopenblas.so.0", [])
    Assert.That(found, eq GemmBackend.OpenBlas)
    Assert.That(foundWhy, Does.Contain "libopenblas.so.0")
    let struct (fallback, fallbackWhy) = Gemm.Choose(null, false, null, [ "libblas.so.3: not OpenBLAS" ])
    Assert.That(fallback, eq GemmBackend.Managed)
    fallbackWhy |> mentions [ "apt-get install libopenblas0-pthread"; "libblas.so.3" ]
    Assert.That(Gemm.Description, Does.Contain(if Gemm.Backend = GemmBackend.OpenBlas then "OpenBLAS" else "managed"))
    log Gemm.Description

// ---- softmax --------------------------------------------------------------------------------------------------

[<Test>]
let ``System Numerics Tensors SoftMax overflows at a logit of 89 and ours does not because it subtracts the row maximum`` () =
    let logits = [| 89.0f; 0.0f; -3.0f |]
    let theirs = Array.zeroCreate<float32> 3
    TensorPrimitives.SoftMax(ReadOnlySpan logits, Span theirs)
    // Pinned: if a later System.Numerics.Tensors fixes this, the spec tells us the workaround can go.
    Assert.That(Single.IsNaN theirs.[0], Is.True, sprintf "TensorPrimitives.SoftMax gave %A" theirs)
    let ours = Ops.Softmax(Tensor.FromArray(logits, 3))
    assertClose "softmax of large logits" 1e-30 1e-6 [| 1.0; exp -89.0; exp -92.0 |] (toDoubles ours)

[<Test>]
let ``masked attention entries are exactly zero and a fully masked row is all zeros`` () =
    let scores = randn 3 [ 1; 1; 4; 4 ]
    let pattern = Ops.Softmax(Ops.MaskScores(scores, true))
    for q in 0 .. 3 do
        for k in q + 1 .. 3 do
            Assert.That(pattern.[0, 0, q, k], eq 0.0f)
        let rowSum = [ for k in 0 .. 3 -> float pattern.[0, 0, q, k] ] |> List.sum
        Assert.That(rowSum, Is.EqualTo(1.0).Within(1e-6))
    let allMasked = Ops.Softmax(Tensor.FromArray([| -infinityf; -infinityf |], 1, 2))
    Assert.That(allMasked.Data, eq [| 0.0f; 0.0f |])

// ---- every op against the double reference ---------------------------------------------------------------------

let opNames = OpCases.names

[<TestCaseSource(nameof opNames)>]
let ``each operation agrees with its double-precision reference`` (name: string) =
    let case = OpCases.byName name
    let inputs = case.Inputs()
    let fast = case.Fast inputs
    let reference = case.Reference(inputs |> List.map RefTensor.From)
    Assert.That(fast.Shape, eq reference.Shape, "shape")
    assertClose name 1e-5 1e-5 reference.Data (toDoubles fast)

[<Test>]
let ``erf is accurate to 1e-7 against MathNet's double-precision implementation`` () =
    let xs = [| for i in -600 .. 600 -> float i / 100.0 |]
    let expected = xs |> Array.map MathNet.Numerics.SpecialFunctions.Erf
    let actual = xs |> Array.map (fun x -> Ops.Erf(x: float))
    assertClose "erf (double)" 1e-12 1e-12 expected actual
    let single = xs |> Array.map (fun x -> float (Ops.Erf(float32 x)))
    assertClose "erf (float)" 1e-7 0.0 (xs |> Array.map (fun x -> MathNet.Numerics.SpecialFunctions.Erf(float (float32 x)))) single

// ---- PyTorch golden outputs and gradients --------------------------------------------------------------------

let private golden = lazy GoldenFiles.Ops

/// Our implementation of each case in make_ops.py, from its inputs.
let private goldenOps: Map<string, Map<string, Tensor> -> Map<string, int[]> -> Tensor> =
    Map.ofList
        [ "linear", fun x _ -> Ops.MatMul(x.["x"], x.["w"], bias = x.["b"])
          "linear_t", fun x _ -> Ops.MatMul(x.["x"], x.["w"], transposeW = true, bias = x.["b"])
          "bmm", fun x _ -> Ops.BatchedMatMul(x.["a"], x.["b"])
          "bmm_tt", fun x _ -> Ops.BatchedMatMul(x.["a"], x.["b"], true, true)
          "gelu_tanh", fun x _ -> Ops.Gelu(x.["x"], GeluForm.Tanh)
          "gelu_erf", fun x _ -> Ops.Gelu(x.["x"], GeluForm.Erf)
          "silu", fun x _ -> Ops.Silu x.["x"]
          "relu", fun x _ -> Ops.Relu x.["x"]
          "layer_norm", fun x _ -> Ops.LayerNorm(x.["x"], x.["g"], x.["b"], 1e-5f)
          "rms_norm", fun x _ -> Ops.RmsNorm(x.["x"], x.["g"], 1e-6f)
          "softmax_large", fun x _ -> Ops.Softmax x.["x"]
          "causal_softmax", fun x _ -> Ops.Softmax(Ops.MaskScores(x.["s"], true))
          "embedding", fun x n -> Ops.Embedding(ReadOnlySpan n.["ids"], x.["table"])
          "rope_half", fun x _ -> Ops.Rotary(x.["x"], 8, 10000.0f, RotaryLayout.HalfSplit)
          "rope_half_partial", fun x _ -> Ops.Rotary(x.["x"], 4, 10000.0f, RotaryLayout.HalfSplit)
          "rope_interleaved", fun x _ -> Ops.Rotary(x.["x"], 8, 10000.0f, RotaryLayout.Interleaved)
          "cross_entropy", fun x n -> Ops.CrossEntropy(x.["logits"], ReadOnlySpan n.["targets"])
          "permute", fun x _ -> Ops.Permute(x.["x"], 0, 2, 1, 3)
          "repeat_kv", fun x _ -> Ops.RepeatKv(x.["x"], 3)
          "mse", fun x _ -> Ops.MeanSquaredError(x.["a"], x.["b"])
          "topk", fun x _ -> Ops.TopK(x.["x"], 3)
          "per_head_output", fun x _ -> Ops.PerHeadOutput(x.["z"], x.["w"]) ]

let goldenNames =
    [| "linear"; "linear_t"; "bmm"; "bmm_tt"; "gelu_tanh"; "gelu_erf"; "silu"; "relu"; "layer_norm"; "rms_norm"
       "softmax_large"; "causal_softmax"; "embedding"; "rope_half"; "rope_half_partial"; "rope_interleaved"
       "cross_entropy"; "permute"; "repeat_kv"; "mse"; "topk"; "per_head_output" |]

[<TestCaseSource(nameof goldenNames)>]
let ``each operation and its gradients match PyTorch`` (name: string) =
    let file = golden.Force()
    let prefix = name + "."
    let floats =
        file.Tensors.Keys
        |> Seq.filter (fun k -> k.StartsWith(prefix + "in."))
        |> Seq.map (fun k -> k.Substring((prefix + "in.").Length), file.Read k)
        |> Map.ofSeq
    let ints =
        file.Tensors.Keys
        |> Seq.filter (fun k -> k.StartsWith(prefix + "int."))
        |> Seq.map (fun k -> k.Substring((prefix + "int.").Length), (let struct (values, _) = file.ReadInts k in values))
        |> Map.ofSeq
    for t in floats.Values do
        t.RequiresGrad <- true
    use tape = Tape.Record()
    let output = goldenOps.[name] floats ints
    let expected = file.Read(prefix + "out")
    assertClose (name + " output") 2e-5 2e-5 (toDoubles expected) (toDoubles output)
    let up = file.Read(prefix + "up")
    let loss = Ops.Sum(Ops.Mul(Ops.Reshape(output, expected.Shape), up))
    tape.Backward loss
    for KeyValue(input, t) in floats do
        let expectedGrad = file.Read(prefix + "grad." + input)
        assertClose (sprintf "%s d/d%s" name input) 5e-5 5e-5 (toDoubles expectedGrad) (toDoubles t.Grad)

[<Test>]
let ``every case in the PyTorch golden file is checked`` () =
    let cases =
        golden.Force().Tensors.Keys
        |> Seq.filter (fun k -> k.EndsWith ".out")
        |> Seq.map (fun k -> k.Substring(0, k.Length - 4))
        |> Set.ofSeq
    Assert.That(cases, eq (Set.ofArray goldenNames))

// ---- bad input -------------------------------------------------------------------------------------------------

[<Test>]
let ``a product of mismatched shapes fails with both shapes in the message`` () =
    let error = throws<ArgumentException> (fun () -> Ops.MatMul(randn 1 [ 2; 3 ], randn 2 [ 4; 5 ]) |> ignore)
    error.Message |> mentions [ "[2, 3]"; "[4, 5]"; "inner size 3"; "has 4" ]
    let batched = throws<ArgumentException> (fun () -> Ops.BatchedMatMul(randn 1 [ 2; 3; 4 ], randn 2 [ 3; 4; 5 ]) |> ignore)
    batched.Message |> mentions [ "[2, 3, 4]"; "[3, 4, 5]"; "batch" ]

[<Test>]
let ``an operation given the wrong rank names the layout it expects`` () =
    let error = throws<ArgumentException> (fun () -> Ops.Rotary(randn 1 [ 4; 8 ], 8, 10000.0f, RotaryLayout.HalfSplit) |> ignore)
    error.Message |> mentions [ "[batch, pos, head, dHead]"; "[4, 8]" ]
    let w = randn 2 [ 3 ]
    w.Name <- "blocks.0.attn.W_Q"
    let named = throws<ArgumentException> (fun () -> Ops.MatMul(randn 1 [ 2; 3 ], w) |> ignore)
    named.Message |> mentions [ "2-D weight"; "blocks.0.attn.W_Q" ]

[<Test>]
let ``a token id out of range names the id, its position and the vocabulary size`` () =
    let error = throws<ArgumentOutOfRangeException> (fun () -> Ops.Embedding(ReadOnlySpan [| 1; 2; 600 |], randn 1 [ 512; 4 ]) |> ignore)
    error.Message |> mentions [ "Token id 600"; "position 2"; "vocabulary of 512" ]
    let target = throws<ArgumentOutOfRangeException> (fun () -> Ops.CrossEntropy(randn 1 [ 2; 5 ], ReadOnlySpan [| 0; 5 |]) |> ignore)
    target.Message |> mentions [ "Target id 5"; "5 classes" ]

[<Test>]
let ``a tensor given the wrong number of values names its shape`` () =
    let error = throws<ArgumentException> (fun () -> Tensor.FromArray(Array.zeroCreate 5, 2, 3) |> ignore)
    error.Message |> mentions [ "[2, 3]"; "6 values"; "5 were given" ]
    let view = throws<ArgumentException> (fun () -> (randn 1 [ 2; 3 ]).View(4, -1) |> ignore)
    view.Message |> mentions [ "[2, 3]"; "[4, -1]" ]
