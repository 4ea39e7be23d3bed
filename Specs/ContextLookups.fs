/// CLAIMS.md §5: context look-ups (Neo, Cohen, Barez 2024) — next-token neurons and the attention heads that drive them.
/// First on a compiled circuit whose answer is known, then on a model trained on stories whose names and things can only
/// be predicted by looking them up earlier in the text.
module Verification.Specs.ContextLookups

open System
open NUnit.Framework
open Verification.Analysis
open Verification.Engine.Models
open Verification.Engine.Tensors
open Verification.Fixtures
open Verification.Reports
open Verification.Specs.Snapshots
open Verification.Reports.Plots
open Verification.Fixtures.Prompts
open Verification.Fixtures.Zoo
open Verification.Specs.Support

let private lookup = lazy (CompiledLookup.Model())
let private words = CompiledVocabulary.Tokenizer
let private geluTanh (x: float) = 0.5 * x * (1.0 + tanh (sqrt (2.0 / Math.PI) * (x + 0.044715 * x * x * x)))

// ---- the compiled lookup circuit --------------------------------------------------------------------------------

[<Test>]
let ``the compiled lookup circuit's next-token neurons are neuron 0 for cat and neuron 1 for Tuesday, congruence 4`` () =
    let neurons = ContextLookups.NextTokenNeurons(lookup.Force(), perLayer = 2)
    Assert.That(neurons |> Seq.map (fun n -> n.Layer, n.Neuron, words.TokenText n.Token, n.Congruence) |> Seq.toList,
                eq [ (0, CompiledLookup.CatNeuron, "cat", 4.0); (0, CompiledLookup.TuesdayNeuron, "Tuesday", 4.0) ])

[<Test>]
let ``neuron 0 fires after the, and zeroing it lowers the logit of cat by four times its activation`` () =
    let tokens = words.Encode "the cat sat on the mat ."
    let acts = ContextLookups.Activations(lookup.Force(), tokens, 0, CompiledLookup.CatNeuron)
    // <bos> the cat sat on the mat .: positions 2 and 6 follow "the".
    for p in 0 .. tokens.Length - 1 do
        let expected = if p = 2 || p = 6 then geluTanh 1.0 else geluTanh -1.0
        Assert.That(float acts.[p], Is.EqualTo(expected).Within(1e-5), sprintf "position %d" p)
    let cat = CompiledVocabulary.Id "cat"
    let logit (interventions: Intervention list) = float (lookup.Force().Run(tokens, RunOptions(Interventions = interventions)).Logits.[0, 2, cat])
    let removed = logit [ ContextLookups.ScaleNeuron(0, CompiledLookup.CatNeuron, 2, 0.0f) ]
    Assert.That(logit [] - removed, Is.EqualTo(4.0 * geluTanh 1.0).Within(1e-4), "the direct effect, measured with an intervention")

[<Test>]
let ``neuron 0's max-activating examples end just after the, and trimming keeps only the token before`` () =
    let corpus = ZooText.Prompts words
    let top = ContextLookups.MaxActivating(lookup.Force(), corpus, 0, CompiledLookup.CatNeuron, 5)
    for a in top do
        Assert.That(words.TokenText a.Tokens.[a.Tokens.Length - 2], eq "the")
        Assert.That(float a.Value, Is.EqualTo(geluTanh 1.0).Within(1e-5))
        let trimmed = ContextLookups.TrimLeftContext(lookup.Force(), a, 0, CompiledLookup.CatNeuron, firstToken = words.Bos.Value)
        Assert.That(trimmed.Tokens |> Array.map words.TokenText, eq [| "<bos>"; "the"; words.TokenText a.Tokens.[a.Tokens.Length - 1] |])
        Assert.That(float trimmed.Value, Is.GreaterThanOrEqualTo(0.8 * float a.Value))

[<Test>]
let ``only the previous-token head drives neuron 0, and doubling it raises the activation from gelu 1 to gelu 3`` () =
    let heads = ContextLookups.ResponsibleHeads(lookup.Force(), words.Encode "the cat", 0, CompiledLookup.CatNeuron)
    let flagged = heads |> Seq.filter (fun h -> h.Flagged) |> Seq.map (fun h -> h.Layer, h.Head) |> Seq.toList
    Assert.That(flagged, eq [ (0, 0) ])
    let h0 = heads |> Seq.find (fun h -> h.Head = 0)
    Assert.That(h0.Projection, Is.EqualTo(2.0).Within(1e-4), "PREV(the) · W_in = 2")
    Assert.That(h0.DoublingEffect, Is.EqualTo(geluTanh 3.0 - geluTanh 1.0).Within(1e-4))
    for h in heads |> Seq.filter (fun h -> h.Head <> 0) do
        Assert.That((h.Projection, h.DoublingEffect), eq (0.0, 0.0))

[<Test>]
let ``neuron 1 reads the current token, so no head is responsible for it`` () =
    let heads = ContextLookups.ResponsibleHeads(lookup.Force(), words.Encode "on Monday", 0, CompiledLookup.TuesdayNeuron)
    Assert.That(heads |> Seq.filter (fun h -> h.Flagged), Is.Empty)
    let acts = ContextLookups.Activations(lookup.Force(), words.Encode "on Monday", 0, CompiledLookup.TuesdayNeuron)
    Assert.That(float acts.[2], Is.EqualTo(geluTanh 1.0).Within(1e-5))

[<Test>]
let ``an explanation is scored as the mean of its true-positive and true-negative rates`` () =
    let corpus = ZooText.Prompts words
    let prefixes = [ for s in corpus do for p in 1 .. s.Length - 1 -> s.[..p] ]
    let active, inactive =
        prefixes |> List.partition (fun t -> (ContextLookups.Activations(lookup.Force(), t, 0, CompiledLookup.CatNeuron) |> Array.last) > 0.0f)
    let previousIsThe (t: int[]) = t.Length >= 2 && words.TokenText t.[t.Length - 2] = "the"
    let containsThe (t: int[]) = t |> Array.exists (fun id -> words.TokenText id = "the")
    Assert.That(ContextLookups.ExplanationScore(previousIsThe, active, inactive), eq 1.0)
    let loose = ContextLookups.ExplanationScore(containsThe, active, inactive)
    log (sprintf "'the anywhere before' scores %.3f" loose)
    Assert.That(loose, Is.InRange(0.5, 0.99), "a looser rule is right on every active prompt but wrong on many inactive ones")
    (throws<ArgumentException> (fun () -> ContextLookups.ExplanationScore(previousIsThe, active, []) |> ignore)).Message |> mentions [ "inactive" ]

// ---- the trained context model ----------------------------------------------------------------------------------

let private context = lazy (ContextModel.Load())
let private gpt2 = ContextModel.Tokenizer
let private show (tokens: int[]) = gpt2.Decode tokens

[<Test>]
let ``the context model predicts the tokens it has to look up earlier in the story`` () =
    let struct (lookedUp, other) = ContextModel.Losses(context.Force(), ContextModel.Evaluation 32)
    log (sprintf "held-out loss: %.3f at looked-up tokens, %.3f elsewhere" lookedUp other)
    // Ten names, eight animals, six things: guessing a looked-up token without the context costs ln 6 ≈ 1.8 nats or more.
    Assert.That(lookedUp, Is.LessThan 0.3)

/// Next-token neurons over the corpus's tokens (the source's filter: candidate tokens the model can produce).
let private neurons = lazy (ContextLookups.NextTokenNeurons(context.Force(), 20, ContextModel.CorpusVocabulary))

[<Test>]
let ``next-token neurons concentrate in the later layers of the context model`` () =
    let table = Table(Column("layer", 0), Column("neuron", 0), Column("token", 0), Column("congruence", 3))
    for n in neurons.Force() do
        table.AddRow(n.Layer, n.Neuron, gpt2.TokenText n.Token, n.Congruence) |> ignore
    Approve.Table(table, "neurons")
    let perLayer = [ for l in 0 .. ContextModel.Config.LayerCount - 1 -> l, neurons.Force() |> Seq.filter (fun n -> n.Layer = l) |> Seq.averageBy (fun n -> n.Congruence) ]
    Approve.Svg(Plot.Bars([ for (l, c) in perLayer -> Bar(sprintf "layer %d" l, c) ], "mean congruence of the top 20 neurons", "W_out · W_U"), "by_layer")
    let increasing = perLayer |> List.pairwise |> List.forall (fun ((_, a), (_, b)) -> b > a)
    Approve.Finding(
        Finding("5.1", "next-token neurons concentrate in later layers", "Neo, Cohen, Barez 2024", "zoo: context",
                "congruence of the top neurons grows with depth",
                String.Join(", ", perLayer |> List.map (fun (l, c) -> sprintf "layer %d %.2f" l c)),
                (if increasing then Verdict.Holds else Verdict.Refuted)))
    Assert.That(increasing, Is.True)

/// log P(token) over the corpus vocabulary at the last position, with one neuron's activation there scaled.
let private logProbability (model: Transformer) (tokens: int[]) (n: NextTokenNeuron) (factor: float32) =
    let last = tokens.Length - 1
    let logits = model.Run(tokens, RunOptions(Interventions = [ ContextLookups.ScaleNeuron(n.Layer, n.Neuron, last, factor) ])).Logits
    let vocab = logits.Shape.[2]
    let row = ContextModel.CorpusVocabulary |> Array.map (fun id -> logits.Data.[last * vocab + id])
    Verification.Engine.Training.Losses.LogSoftmaxAt(ReadOnlySpan row, Array.IndexOf(ContextModel.CorpusVocabulary, n.Token))

[<Test>]
let ``most of the top next-token neurons raise their token's probability where they fire, measured with an intervention`` () =
    // The raw logit is the wrong measure after the final LayerNorm (a large activation inflates the residual's norm and
    // every logit shrinks with it), so the effect is read as log P(token) over the corpus vocabulary.
    let stories = ContextModel.Evaluation 32 |> Array.map (fun s -> s.Tokens)
    let top = neurons.Force() |> Seq.filter (fun n -> n.Layer = ContextModel.Config.LayerCount - 1) |> Seq.truncate 5 |> Seq.toList
    let table =
        Table(Column("neuron", 0), Column("token", 0), Column("congruence", 3), Column("activation", 3), Column("log P, neuron zeroed", 3),
              Column("log P, halved", 3), Column("log P", 3), Column("log P, doubled", 3), Column("raises its token", 0))
    let raises =
        [ for n in top ->
              let example = ContextLookups.MaxActivating(context.Force(), stories, n.Layer, n.Neuron, 1).[0]
              let lp f = logProbability (context.Force()) example.Tokens n f
              let zero, half, full, doubled = lp 0.0f, lp 0.5f, lp 1.0f, lp 2.0f
              let up = full > half && half > zero
              table.AddRow(sprintf "L%dN%d" n.Layer n.Neuron, gpt2.TokenText n.Token, n.Congruence, float example.Value, zero, half, full, doubled, up) |> ignore
              up ]
    Approve.Table table
    let count = raises |> List.filter id |> List.length
    Approve.Finding(
        Finding("5.0", "a next-token neuron's activation raises its token's probability (direct effect, by intervention)", "Neo, Cohen, Barez 2024",
                "zoo: context", "each of the 5 most congruent last-layer neurons", sprintf "%d of 5 at their strongest example" count,
                (if count = 5 then Verdict.Holds elif count >= 1 then Verdict.Partly else Verdict.Refuted)))
    Assert.That(count, Is.GreaterThanOrEqualTo 3)

[<Test>]
let ``max-activating examples of the last layer's top neurons keep their activation with a trimmed left context`` () =
    let stories = ContextModel.Evaluation 32 |> Array.map (fun s -> s.Tokens)
    let table =
        Table(Column("neuron", 0), Column("token", 0), Column("activation", 3), Column("example (last 10 tokens)", 0), Column("trimmed context", 0),
              Column("trimmed activation", 3))
    let top = neurons.Force() |> Seq.filter (fun n -> n.Layer = ContextModel.Config.LayerCount - 1) |> Seq.truncate 3
    for n in top do
        // Distinct prompts only: many stories share their opening words.
        let examples = ContextLookups.MaxActivating(context.Force(), stories, n.Layer, n.Neuron, 40) |> Seq.distinctBy (fun a -> show a.Tokens) |> Seq.truncate 3
        for a in examples do
            let trimmed = ContextLookups.TrimLeftContext(context.Force(), a, n.Layer, n.Neuron, firstToken = ContextModel.EndOfText)
            Assert.That(float trimmed.Value, Is.GreaterThanOrEqualTo(0.8 * float a.Value - 1e-6))
            Assert.That(trimmed.Tokens.Length, Is.LessThanOrEqualTo a.Tokens.Length)
            table.AddRow(sprintf "L%dN%d" n.Layer n.Neuron, gpt2.TokenText n.Token, float a.Value, show a.Tokens.[max 0 (a.Tokens.Length - 10) ..],
                         show trimmed.Tokens, float trimmed.Value) |> ignore
    Approve.Table table

/// The context-lookup protocol: at every position whose next token repeats an earlier one, the last layer's neuron
/// that does most for that token (activation × congruence), its responsible heads, and how much of their attention goes
/// to the earlier mention.
let lookupProtocol (model: Transformer) (stories: Story seq) =
    let c = model.Config
    let layer = c.LayerCount - 1
    let wOut = model.Parameter(sprintf "blocks.%d.mlp.W_out" layer)
    let wU = Circuits.Unembedding model
    let vocab, width = wU.Shape.[1], wOut.Shape.[1]
    let congruence n y = Seq.sum (seq { for i in 0 .. width - 1 -> float wOut.Data.[n * width + i] * float wU.Data.[i * vocab + y] })
    [ for s in stories do
          let hooks = [| for l in 0 .. layer -> Hooks.Pattern l |] |> Array.append [| Hooks.MlpPost layer |]
          let cache = model.Run(s.Tokens, RunOptions.Caching hooks).Cache
          let post = cache.[Hooks.MlpPost layer]
          let dMlp = post.Shape.[2]
          for p in 0 .. s.Tokens.Length - 2 do
              let y = s.Tokens.[p + 1]
              let earlier = [ for k in 0 .. p do if s.Tokens.[k] = y then yield k ]
              if s.LookedUp.[p] && not earlier.IsEmpty then
                  let n = [ 0 .. dMlp - 1 ] |> List.maxBy (fun n -> float post.Data.[p * dMlp + n] * congruence n y)
                  let heads = ContextLookups.ResponsibleHeads(model, s.Tokens.[.. p], layer, n)
                  let attention (h: HeadContribution) = earlier |> List.sumBy (fun k -> float cache.[Hooks.Pattern h.Layer].[0, h.Head, p, k])
                  yield y, n, [ for h in heads -> h, attention h ] ]

let private lookups = lazy (lookupProtocol (context.Force()) (ContextModel.Evaluation 12))

[<Test>]
let ``the heads that drive a look-up neuron attend to the earlier mention of its token`` () =
    let rows = lookups.Force()
    let all = rows |> List.collect (fun (_, _, heads) -> heads)
    let flagged = all |> List.filter (fun (h, _) -> h.Flagged) |> List.map snd
    let others = all |> List.filter (fun (h, _) -> not h.Flagged) |> List.map snd
    let f, o = List.average flagged, List.average others
    let heatmapHeads = [ for l in 0 .. ContextModel.Config.LayerCount - 1 do for h in 0 .. ContextModel.Config.HeadCount - 1 -> l, h ]
    let byNeuron = rows |> List.groupBy (fun (_, n, _) -> n) |> List.sortByDescending (fun (_, r) -> r.Length) |> List.truncate 8
    let matrix =
        Array2D.init heatmapHeads.Length byNeuron.Length (fun i j ->
            let (l, h) = heatmapHeads.[i]
            snd byNeuron.[j] |> List.averageBy (fun (_, _, heads) -> heads |> List.pick (fun (c, _) -> if (c.Layer, c.Head) = (l, h) then Some c.Projection else None)))
    let neuronLabels = byNeuron |> List.map (fun (n, r) -> let (y, _, _) = r.Head in sprintf "N%d→%s" n (gpt2.TokenText y)) |> List.toArray
    let headLabels = heatmapHeads |> List.map (fun (l, h) -> HeadScores.Name(l, h)) |> List.toArray
    Approve.Svg(Plot.AttentionHeatmap(matrix, headLabels, neuronLabels, "head output · neuron input weight, at look-up positions"), "attribution")
    let table = Table(Column("heads", 0), Column("count", 0), Column("attention to the earlier mention", 3))
    table.AddRow("flagged (projection > mean + 2σ)", flagged.Length, f).AddRow("not flagged", others.Length, o) |> ignore
    Approve.Table table
    Approve.Finding(
        Finding("5.2", "heads that attend to the relevant earlier token drive the next-token neurons", "Neo, Cohen, Barez 2024", "zoo: context",
                "responsible heads attend to the earlier mention far more than other heads",
                sprintf "%d look-ups: flagged heads %.2f of their attention on the earlier mention, other heads %.2f" rows.Length f o,
                (if f > 3.0 * o then Verdict.Holds else Verdict.Refuted)))
    Assert.That(f, Is.GreaterThan(3.0 * o))

[<Test>]
let ``doubling a head's output confirms the heads the projection flags`` () =
    let rows = lookups.Force()
    let agreeing = rows |> List.filter (fun (_, _, heads) -> (heads |> List.maxBy (fun (h, _) -> h.DoublingEffect) |> fst).Flagged)
    let table = Table(Column("look-up", 0), Column("neuron", 0), Column("flagged heads", 0), Column("largest doubling effect", 0), Column("effect", 3))
    for (i, (y, n, heads)) in List.indexed rows |> List.truncate 20 do
        let best = heads |> List.maxBy (fun (h, _) -> h.DoublingEffect) |> fst
        let flaggedNames = heads |> List.filter (fun (h, _) -> h.Flagged) |> List.map (fun (h, _) -> HeadScores.Name(h.Layer, h.Head)) |> String.concat " "
        table.AddRow(sprintf "%d %s" i (gpt2.TokenText y), sprintf "N%d" n, flaggedNames, HeadScores.Name(best.Layer, best.Head), best.DoublingEffect) |> ignore
    Approve.Table table
    let share = float agreeing.Length / float rows.Length
    Approve.Finding(
        Finding("5.3", "doubling a responsible head's output raises the neuron's activation (the two methods agree)", "Neo, Cohen, Barez 2024", "zoo: context",
                "the head with the largest doubling effect is a flagged head in at least 90 % of look-ups (the methods agree); more often than not: partly",
                sprintf "%d of %d look-ups (%.0f %%)" agreeing.Length rows.Length (100.0 * share),
                (if share >= 0.9 then Verdict.Holds elif share > 0.5 then Verdict.Partly else Verdict.Refuted)))
    Assert.That(share, Is.GreaterThan 0.5)

// ---- published: GPT-2 large ---------------------------------------------------------------------------------------

/// The protocol for real checkpoints: the top 20 next-token neurons of each layer over the whole vocabulary, and the
/// mean congruence of the early and the late layers (the source studied GPT-2 large's layers 31–35).
let congruenceByLayer (model: Transformer) =
    let top = ContextLookups.NextTokenNeurons(model, 20)
    [ for l in 0 .. model.Config.LayerCount - 1 -> top |> Seq.filter (fun n -> n.Layer = l) |> Seq.averageBy (fun n -> n.Congruence) ]

[<Test>]
let ``the published protocol's congruence by layer runs on the zoo's context model`` () =
    let byLayer = congruenceByLayer (context.Force())
    Assert.That(byLayer, Has.Length.EqualTo 3)
    Assert.That(List.last byLayer, Is.GreaterThan(List.head byLayer))

[<Test; Category("Published")>]
let ``in GPT-2 large the next-token neurons of layers 31 to 35 are more congruent than those of the first layers`` () =
    let found, path, looked = Verification.Fixtures.Real.SharedData.Locator.TryFind "gpt2-large"
    if not found then
        Assert.Inconclusive(sprintf "gpt2-large is not on this machine (looked in %s). %s" (String.Join(", ", looked))
                                (Verification.Engine.Loading.ModelLocator.DownloadHint "gpt2-large"))
    let byLayer = congruenceByLayer (Verification.Engine.Loading.ModelLoader.Load path)
    Assert.That(List.average byLayer.[31..35], Is.GreaterThan(List.average byLayer.[0..4]))

[<Test>]
let ``the GPT-2 large spec runs end to end on a stand-in folder laid out like openai-community gpt2-large`` () =
    // gpt2-large's download has gpt2's layout (config.json, model.safetensors, vocab.json, merges.txt).
    use dir = new TempFolder()
    let standIn, model = Verification.Specs.StandIns.gpt2StandIn dir.Path
    let viaFolder = congruenceByLayer (Verification.Engine.Loading.ModelLoader.Load dir.Path)
    let direct = congruenceByLayer model
    Assert.That(viaFolder, Has.Length.EqualTo standIn.Model.Config.LayerCount)
    assertClose "congruence by layer" 1e-6 1e-6 (List.toArray direct) (List.toArray viaFolder)
