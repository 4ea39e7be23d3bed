/// Training on libtorch: the loop's AdamW step against PyTorch's, a small network that learns, and a model whose host
/// parameters follow its live weights.
module Verification.Specs.Training

open System
open NUnit.Framework
open TorchSharp
open Verification.Engine.Models
open Verification.Engine.Tensors
open Verification.Engine.Torch
open Verification.Engine.Training
open Verification.Fixtures.Golden
open Verification.Specs.Support

let private parameter (t: Tensor) = new Modules.Parameter(TorchRuntime.FromHost(t, "cpu"), true)

[<Test>]
let ``the training loop's AdamW step with weight decay and gradient clipping matches PyTorch 1 13's over five steps`` () =
    // PyTorch's torch.optim.AdamW(lr 0.01, weight_decay 0.1) after clip_grad_norm_(1.0) on five given gradients
    // (Fixtures/Golden/make_adamw.py). The loss Σ p·g has gradient g, so the loop sees exactly those gradients.
    let file = GoldenFiles.AdamW
    let grads = file.Read "adamw.grads"
    let p = parameter (file.Read "adamw.p0")
    let settings = TrainingSettings(Steps = 5, LearningRate = 0.01f, WeightDecay = 0.1f, ClipNorm = 1.0f)
    let history =
        Trainer.Train([| p |], (fun step ->
            use g = TorchRuntime.FromHost(Tensor.FromArray(grads.Data.[(step - 1) * 15 .. (step - 1) * 15 + 14], 5, 3), "cpu")
            struct ((p * g).sum(), 0)), settings)
    let norms = history |> Seq.map (fun h -> h.GradientNorm) |> Seq.toArray
    assertClose "gradient norms before clipping" 1e-5 1e-5 (toDoubles (file.Read "adamw.norms")) norms
    assertTensorClose "parameters after five steps" 1e-6 1e-5 (file.Read "adamw.p5") (TorchRuntime.ToHost(p, "p"))

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
    // Stated before running: 2→64→64→2 with gelu, full batch, AdamW lr 1e-2, no weight decay, clip 1, 400 steps, loss < 0.1.
    let data = spirals ()
    use x = TorchRuntime.FromHost(Tensor.FromArray(data |> Array.collect fst, 200, 2), "cpu")
    let y = data |> Array.map snd
    let rnd = Random 11
    let w1, b1 = parameter (Tensor.RandomNormal(rnd, 0.7f, 2, 64)), parameter (Tensor.Zeros 64)
    let w2, b2 = parameter (Tensor.RandomNormal(rnd, 0.125f, 64, 64)), parameter (Tensor.Zeros 64)
    let w3, b3 = parameter (Tensor.RandomNormal(rnd, 0.125f, 64, 2)), parameter (Tensor.Zeros 2)
    let settings = TrainingSettings(Steps = 400, LearningRate = 1e-2f, WeightDecay = 0.0f, ClipNorm = 1.0f)
    let history =
        Trainer.Train([| w1; b1; w2; b2; w3; b3 |], (fun _ ->
            let h1 = Layers.Gelu(Linear.Apply(x, w1, b1), GeluForm.Tanh)
            let h2 = Layers.Gelu(Linear.Apply(h1, w2, b2), GeluForm.Tanh)
            struct (Losses.CrossEntropy(Linear.Apply(h2, w3, b3), y), 200)), settings)
    let first, last = history.[0].Loss, history.[399].Loss
    log (sprintf "spirals: loss %.4f at step 1, %.4f at step 400" first last)
    Assert.That(first, Is.GreaterThan 0.6, "starts near ln 2")
    Assert.That(last, Is.LessThan 0.1)

[<Test>]
let ``training a model updates its host parameters, which a checkpoint after each step reads`` () =
    let config = AttentionOnlyConfig(VocabularySize = 16, ContextLength = 8, ModelWidth = 16, LayerCount = 1, HeadCount = 2)
    let model = ParameterLayout.Create(config, seed = 3, std = 0.3f)
    let before = model.Parameter("blocks.0.attn.W_Q").Data |> Array.copy
    let batch = [| [| 1; 2; 3; 4; 1; 2; 3; 4 |] |]
    let logitsBefore = model.Run(batch).Logits.Data |> Array.copy
    let seen = Collections.Generic.List<float32[]>()
    let history =
        model.Train((fun _ -> struct (Losses.NextToken(model.Logits batch, batch), 8)), TrainingSettings(Steps = 3, LearningRate = 0.05f),
                    afterStep = (fun _ -> seen.Add(Array.copy (model.Parameter("blocks.0.attn.W_Q").Data))))
    Assert.That(history.[2].Loss, Is.LessThan history.[0].Loss, "the loss falls")
    Assert.That(seen.Count, eq 3)
    Assert.That(seen.[0], Is.Not.EqualTo before, "after step 1 the host parameters have moved")
    Assert.That(seen.[1], Is.Not.EqualTo seen.[0], "and again after step 2")
    Assert.That(model.Parameter("blocks.0.attn.W_Q").Data, eq seen.[2], "after training they are the last step's")
    let logitsAfter = model.Run(batch).Logits.Data
    Assert.That(logitsAfter, Is.Not.EqualTo logitsBefore, "a run after training uses the trained weights")
    // A float64 run made after training starts from the trained host parameters, not a stale copy.
    let double = model.Run(batch, RunOptions(Precision = Precision.Float64)).Logits.Data
    assertClose "float64 after training" 1e-4 1e-4 (Array.map float double) (Array.map float logitsAfter)
    Assert.That(model.Live.Tensors.Values |> Seq.forall (fun p -> not p.requires_grad), "no parameter still records gradients")

[<Test>]
let ``weights first asked for inside a dispose scope outlive it`` () =
    // A model's device weights are made on first use, which may be inside a training step's scope or the hook-name probe.
    let fresh () = ParameterLayout.Create(AttentionOnlyConfig(VocabularySize = 16, ContextLength = 8, ModelWidth = 16, LayerCount = 1, HeadCount = 2), seed = 3)
    let batch = [| [| 1; 2; 3; 4 |] |]
    let first = fresh ()
    Assert.That(first.HookNames, Does.Contain(Hooks.Pattern 0))
    Assert.That(first.Run(batch).Logits.Size, eq (4 * 16), "a run after the hook names were listed")
    let second = fresh ()
    do
        use scope = torch.NewDisposeScope()
        second.Logits(batch).sum().item<float32>() |> ignore
    Assert.That(second.Run(batch).Logits.Size, eq (4 * 16), "a run after logits were taken inside a scope")

[<Test>]
let ``a loss that stops being finite ends training with the step and what to do`` () =
    let p = parameter (Tensor.Full(1.0f, 3))
    let error =
        throws<InvalidOperationException> (fun () ->
            Trainer.Train([| p |], (fun step -> struct ((if step = 2 then p.Times Double.NaN else p.Times 1.0).sum(), 0)),
                          TrainingSettings(Steps = 5, LearningRate = 0.1f)) |> ignore)
    error.Message |> mentions [ "NaN"; "step 2"; "learning rate" ]
