/// Every differentiable engine operation as a case: random inputs, the fast float32 kernel, and the slow double
/// reference written from the definition. EngineParity compares the two forwards; Autodiff checks each backward
/// against central differences of the reference.
module Verification.Specs.OpCases

open System
open Verification.Engine.Tensors
open Verification.Specs.Support

type OpCase =
    { Name: string
      Inputs: unit -> Tensor list
      Fast: Tensor list -> Tensor
      Reference: RefTensor list -> RefTensor }

let private r = randn
let private map f (x: RefTensor) = Reference.Map(x, Func<float, float> f)
let private shifted seed shape = let t = r seed shape in Ops.Scale(t, 1.7f)
let private awayFromZero seed shape =
    // Kinks (relu at 0) make finite differences meaningless; keep inputs at least 0.05 from them.
    let t = r seed shape
    for i in 0 .. t.Size - 1 do
        if abs t.Data.[i] < 0.05f then t.Data.[i] <- t.Data.[i] + (if t.Data.[i] >= 0.0f then 0.1f else -0.1f)
    t

let private ids = [| 3; 0; 10; 3; 7; 1 |]
let private targets = [| 1; 9; Ops.IgnoreIndex; 0; 4 |]

let cases: OpCase list =
    [ { Name = "matmul"
        Inputs = fun () -> [ r 1 [ 2; 3; 5 ]; r 2 [ 5; 4 ]; r 3 [ 4 ] ]
        Fast = fun xs -> Ops.MatMul(xs.[0], xs.[1], bias = xs.[2])
        Reference = fun xs -> Reference.Linear(xs.[0], xs.[1], false, xs.[2]) }
      { Name = "matmul transposed weight"
        Inputs = fun () -> [ r 4 [ 6; 5 ]; r 5 [ 3; 5 ] ]
        Fast = fun xs -> Ops.MatMul(xs.[0], xs.[1], transposeW = true)
        Reference = fun xs -> Reference.Linear(xs.[0], xs.[1], true, null) }
      { Name = "batched matmul"
        Inputs = fun () -> [ r 6 [ 2; 3; 4; 5 ]; r 7 [ 2; 3; 5; 2 ] ]
        Fast = fun xs -> Ops.BatchedMatMul(xs.[0], xs.[1])
        Reference = fun xs -> Reference.BatchedMatMul(xs.[0], xs.[1], false, false) }
      { Name = "batched matmul both transposed"
        Inputs = fun () -> [ r 8 [ 2; 4; 3 ]; r 9 [ 2; 5; 4 ] ]
        Fast = fun xs -> Ops.BatchedMatMul(xs.[0], xs.[1], true, true)
        Reference = fun xs -> Reference.BatchedMatMul(xs.[0], xs.[1], true, true) }
      { Name = "batched matmul b transposed"
        Inputs = fun () -> [ r 10 [ 3; 4; 6 ]; r 11 [ 3; 5; 6 ] ]
        Fast = fun xs -> Ops.BatchedMatMul(xs.[0], xs.[1], false, true)
        Reference = fun xs -> Reference.BatchedMatMul(xs.[0], xs.[1], false, true) }
      { Name = "add"
        Inputs = fun () -> [ r 12 [ 3; 4 ]; r 13 [ 3; 4 ] ]
        Fast = fun xs -> Ops.Add(xs.[0], xs.[1])
        Reference = fun xs -> Reference.Zip(xs.[0], xs.[1], Func<_, _, _>(fun a b -> a + b)) }
      { Name = "add broadcast"
        Inputs = fun () -> [ r 14 [ 2; 3; 4 ]; r 15 [ 3; 4 ] ]
        Fast = fun xs -> Ops.AddBroadcast(xs.[0], xs.[1])
        Reference = fun xs -> Reference.AddBroadcast(xs.[0], xs.[1]) }
      { Name = "mul"
        Inputs = fun () -> [ r 16 [ 3; 4 ]; r 17 [ 3; 4 ] ]
        Fast = fun xs -> Ops.Mul(xs.[0], xs.[1])
        Reference = fun xs -> Reference.Zip(xs.[0], xs.[1], Func<_, _, _>(fun a b -> a * b)) }
      { Name = "scale"
        Inputs = fun () -> [ r 18 [ 7 ] ]
        Fast = fun xs -> Ops.Scale(xs.[0], -2.5f)
        Reference = fun xs -> map (fun v -> -2.5 * v) xs.[0] }
      { Name = "gelu tanh"
        Inputs = fun () -> [ shifted 19 [ 40 ] ]
        Fast = fun xs -> Ops.Gelu(xs.[0], GeluForm.Tanh)
        Reference = fun xs -> map Reference.GeluTanh xs.[0] }
      { Name = "gelu erf"
        Inputs = fun () -> [ shifted 20 [ 40 ] ]
        Fast = fun xs -> Ops.Gelu(xs.[0], GeluForm.Erf)
        Reference = fun xs -> map Reference.GeluErf xs.[0] }
      { Name = "silu"
        Inputs = fun () -> [ shifted 21 [ 40 ] ]
        Fast = fun xs -> Ops.Silu xs.[0]
        Reference = fun xs -> map Reference.Silu xs.[0] }
      { Name = "relu"
        Inputs = fun () -> [ awayFromZero 22 [ 40 ] ]
        Fast = fun xs -> Ops.Relu xs.[0]
        Reference = fun xs -> map Reference.Relu xs.[0] }
      { Name = "layer norm"
        Inputs = fun () -> [ shifted 23 [ 3; 8 ]; r 24 [ 8 ]; r 25 [ 8 ] ]
        Fast = fun xs -> Ops.LayerNorm(xs.[0], xs.[1], xs.[2], 1e-5f)
        Reference = fun xs -> Reference.LayerNorm(xs.[0], xs.[1], xs.[2], 1e-5) }
      { Name = "layer norm without affine"
        Inputs = fun () -> [ shifted 26 [ 3; 8 ] ]
        Fast = fun xs -> Ops.LayerNorm(xs.[0], null, null, 1e-5f)
        Reference = fun xs -> Reference.LayerNorm(xs.[0], null, null, 1e-5) }
      { Name = "rms norm"
        Inputs = fun () -> [ shifted 27 [ 3; 8 ]; r 28 [ 8 ] ]
        Fast = fun xs -> Ops.RmsNorm(xs.[0], xs.[1], 1e-6f)
        Reference = fun xs -> Reference.RmsNorm(xs.[0], xs.[1], 1e-6) }
      { Name = "softmax"
        Inputs = fun () -> [ shifted 29 [ 4; 7 ] ]
        Fast = fun xs -> Ops.Softmax xs.[0]
        Reference = fun xs -> Reference.Softmax xs.[0] }
      { Name = "causal masked softmax"
        Inputs = fun () -> [ shifted 30 [ 2; 2; 5; 5 ] ]
        Fast = fun xs -> Ops.Softmax(Ops.MaskScores(xs.[0], true))
        Reference = fun xs -> Reference.CausalSoftmax xs.[0] }
      { Name = "embedding"
        Inputs = fun () -> [ r 31 [ 11; 4 ] ]
        Fast = fun xs -> Ops.Embedding(ReadOnlySpan ids, xs.[0])
        Reference = fun xs -> Reference.Embedding(ids, xs.[0]) }
      { Name = "select rows"
        Inputs = fun () -> [ r 32 [ 6; 3 ] ]
        Fast = fun xs -> Ops.SelectRows(xs.[0], [| 5; 0; 5 |])
        Reference = fun xs -> Reference.Embedding([| 5; 0; 5 |], xs.[0]) }
      { Name = "rotary interleaved"
        Inputs = fun () -> [ r 33 [ 2; 4; 2; 6 ] ]
        Fast = fun xs -> Ops.Rotary(xs.[0], 6, 10000.0f, RotaryLayout.Interleaved)
        Reference = fun xs -> Reference.Rotary(xs.[0], 6, 10000.0, RotaryLayout.Interleaved) }
      { Name = "rotary half split partial"
        Inputs = fun () -> [ r 34 [ 2; 4; 2; 6 ] ]
        Fast = fun xs -> Ops.Rotary(xs.[0], 4, 500.0f, RotaryLayout.HalfSplit, 3)
        Reference = fun xs -> Reference.Rotary(xs.[0], 4, 500.0, RotaryLayout.HalfSplit, 3) }
      { Name = "cross entropy"
        Inputs = fun () -> [ shifted 35 [ 5; 10 ] ]
        Fast = fun xs -> Ops.CrossEntropy(xs.[0], ReadOnlySpan targets)
        Reference = fun xs -> RefTensor([| Reference.CrossEntropy(xs.[0], targets) |], [||]) }
      { Name = "permute"
        Inputs = fun () -> [ r 36 [ 2; 3; 4; 5 ] ]
        Fast = fun xs -> Ops.Permute(xs.[0], 0, 2, 1, 3)
        Reference = fun xs -> Reference.Permute(xs.[0], [| 0; 2; 1; 3 |]) }
      { Name = "permute reversed"
        Inputs = fun () -> [ r 37 [ 2; 3; 4 ] ]
        Fast = fun xs -> Ops.Permute(xs.[0], 2, 1, 0)
        Reference = fun xs -> Reference.Permute(xs.[0], [| 2; 1; 0 |]) }
      { Name = "reshape"
        Inputs = fun () -> [ r 38 [ 2; 6 ] ]
        Fast = fun xs -> Ops.Reshape(xs.[0], 3, -1)
        Reference = fun xs -> RefTensor(xs.[0].Data, [| 3; 4 |]) }
      { Name = "repeat kv"
        Inputs = fun () -> [ r 39 [ 2; 3; 2; 4 ] ]
        Fast = fun xs -> Ops.RepeatKv(xs.[0], 3)
        Reference = fun xs -> Reference.RepeatKv(xs.[0], 3) }
      { Name = "per head output"
        Inputs = fun () -> [ r 40 [ 2; 3; 3; 4 ]; r 41 [ 12; 5 ] ]
        Fast = fun xs -> Ops.PerHeadOutput(xs.[0], xs.[1])
        Reference = fun xs -> Reference.PerHeadOutput(xs.[0], xs.[1]) }
      { Name = "sum heads"
        Inputs = fun () -> [ r 42 [ 2; 3; 3; 4 ] ]
        Fast = fun xs -> Ops.SumHeads xs.[0]
        Reference = fun xs -> Reference.SumHeads xs.[0] }
      { Name = "sum"
        Inputs = fun () -> [ r 43 [ 3; 4 ] ]
        Fast = fun xs -> Ops.Sum xs.[0]
        Reference = fun xs -> RefTensor([| Array.sum xs.[0].Data |], [||]) }
      { Name = "mean"
        Inputs = fun () -> [ r 44 [ 3; 4 ] ]
        Fast = fun xs -> Ops.Mean xs.[0]
        Reference = fun xs -> RefTensor([| Array.average xs.[0].Data |], [||]) }
      { Name = "row sum"
        Inputs = fun () -> [ r 45 [ 3; 4 ] ]
        Fast = fun xs -> Ops.RowSum xs.[0]
        Reference = fun xs -> Reference.RowReduce(xs.[0], Func<_, _>(Seq.sum)) }
      { Name = "row mean"
        Inputs = fun () -> [ r 46 [ 3; 4 ] ]
        Fast = fun xs -> Ops.RowMean xs.[0]
        Reference = fun xs -> Reference.RowReduce(xs.[0], Func<_, _>(Seq.average)) }
      { Name = "row max"
        Inputs = fun () -> [ r 47 [ 3; 4 ] ]
        Fast = fun xs -> Ops.RowMax xs.[0]
        Reference = fun xs -> Reference.RowReduce(xs.[0], Func<_, _>(Seq.max)) }
      { Name = "abs sum"
        Inputs = fun () -> [ awayFromZero 48 [ 3; 4 ] ]
        Fast = fun xs -> Ops.AbsSum xs.[0]
        Reference = fun xs -> RefTensor([| xs.[0].Data |> Array.sumBy abs |], [||]) }
      { Name = "top k"
        Inputs = fun () -> [ r 49 [ 3; 6 ] ]
        Fast = fun xs -> Ops.TopK(xs.[0], 2)
        Reference = fun xs -> Reference.TopK(xs.[0], 2) }
      { Name = "mean squared error"
        Inputs = fun () -> [ r 50 [ 3; 4 ]; r 51 [ 3; 4 ] ]
        Fast = fun xs -> Ops.MeanSquaredError(xs.[0], xs.[1])
        Reference = fun xs -> RefTensor([| Array.map2 (fun a b -> (a - b) * (a - b)) xs.[0].Data xs.[1].Data |> Array.average |], [||]) } ]

let byName name =
    cases |> List.tryFind (fun c -> c.Name = name) |> Option.defaultWith (fun () -> failwithf "no op case '%s'" name)

let names = cases |> List.map (fun c -> c.Name) |> List.toArray
