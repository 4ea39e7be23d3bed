/// CLAIMS.md §1: the attention-head detectors (goodfire-ai/spd PR #403; TransformerLens head_detector), proven on the
/// compiled circuits, whose answer is known because their weights were set by hand.
module Verification.Specs.HeadDetectors

open System
open NUnit.Framework
open Verification.Engine.Models
open Verification.Analysis
open Verification.Fixtures
open Verification.Reports
open Verification.Specs.Snapshots
open Verification.Fixtures.Prompts
open Verification.Fixtures.Protocols
open Verification.Fixtures.Zoo
open Verification.Specs.Support
open Verification.Specs.StandIns

let private compiled = lazy (ModelCatalog.Load "compiled-heads")
let private scan = lazy (HeadScan.Run(Protocols.Inputs(compiled.Force())))

/// The heads each detector must flag on the compiled circuits, and no others.
let private builtFor =
    [ "previous-token", [ "L0H0" ]
      "previous-token (random tokens)", [ "L0H0" ]
      "BOS", [ "L0H1" ]
      "positional", [ "L0H0"; "L0H5" ]
      "duplicate-token", [ "L0H2" ]
      "delimiter", [ "L1H2" ]
      "induction", [ "L1H0" ]
      "successor", [ "L0H6" ]
      "S-inhibition", [ "L1H1" ] ]

let detectorNames = builtFor |> List.map fst |> List.toArray

[<Test>]
let ``a full scan reports one table per registered detector, in the registry's order, with the registry's flag rule`` () =
    let tables = scan.Force().Tables |> Seq.toList
    Assert.That(tables |> List.map (fun t -> DetectorRegistry.Of(t).Name), eq (DetectorRegistry.All |> Seq.map (fun d -> d.Name) |> Seq.toList))
    for t in tables do
        Assert.That(t.FlagDescription, eq (DetectorRegistry.Of t).FlagRule, t.Detector)

[<Test>]
let ``a scan limited to some detectors runs only those, and a pattern-only detector needs no model run beyond the text`` () =
    let wanted = DetectorRegistry.Select("bos, induction", DetectorRegistry.All)
    let limited = HeadScan.Run(Protocols.Inputs(compiled.Force()), detectors = wanted)
    Assert.That(limited.Tables |> Seq.map (fun t -> t.Detector) |> Seq.toList, eq [ "BOS"; "induction" ])
    Assert.That(limited.Table(DetectorRegistry.Bos).Values, eq (scan.Force().Table(DetectorRegistry.Bos).Values))
    Assert.That(DetectorRegistry.PatternOnly |> Seq.forall (fun d -> d.Input = DetectorInput.Patterns), Is.True)

let private flagged (t: HeadScores) = t.Flagged |> Seq.map (fun struct (l, h, _) -> HeadScores.Name(l, h)) |> Seq.toList

[<TestCaseSource(nameof detectorNames)>]
let ``on the compiled circuits each detector flags exactly the heads built for it`` (detector: string) =
    let table = scan.Force().Table(detector: string)
    let expected = builtFor |> List.find (fun (d, _) -> d = detector) |> snd
    Approve.Table(ScanReport.ToTable table)
    Approve.Svg(ScanReport.ToSvg(table, "compiled-heads"))
    let measured = table.Flagged |> Seq.map (fun struct (l, h, v) -> sprintf "%s %.3f" (HeadScores.Name(l, h)) v) |> String.concat ", "
    let index = List.findIndex (fun (d, _) -> d = detector) builtFor + 1
    Approve.Finding(
        Finding(sprintf "1.%d" index, sprintf "the %s detector (%s) flags exactly the heads built for it" detector table.FlagDescription,
                "goodfire-ai/spd PR #403; TransformerLens", "zoo: compiled-heads", String.Join(", ", expected),
                (if measured = "" then "none" else measured), (if flagged table = expected then Verdict.Holds else Verdict.Refuted)))
    Assert.That(flagged table, eq expected)

[<Test>]
let ``the positional detector puts the previous-token head's peak at offset 1 and the offset-2 head's at 2`` () =
    let table = scan.Force().Table "positional"
    Assert.That(table.Extra.["peak offset"].[0, 0], eq 1.0)
    Assert.That(table.Extra.["peak offset"].[0, 5], eq 2.0)
    Approve.Svg(ScanReport.PositionalProfiles(scan.Force().PositionalProfiles, table, "compiled-heads"))

[<Test>]
let ``uniform heads score what the definitions give for uniform attention`` () =
    // Computed here from the prompts' lengths alone, independently of the detectors' code.
    let prompts = PromptSets.RealText(CompiledVocabulary.Tokenizer) |> Seq.map Array.length |> Seq.toList
    let pooled (term: int -> int -> float) (count: int -> int) =
        (prompts |> List.sumBy (fun t -> [ 0 .. t - 1 ] |> List.sumBy (term t))) / float (prompts |> List.sumBy count)
    let prevToken = pooled (fun _ q -> if q >= 1 then 1.0 / float (q + 1) else 0.0) (fun t -> t - 1)
    let bos = pooled (fun _ q -> 1.0 / float (q + 1)) id
    let s = scan.Force()
    for name in [ "L0H4"; "L0H7"; "L1H3"; "L1H7" ] do
        let (l, h) = (int name.[1] - int '0', int name.[3] - int '0')
        Assert.That(s.Table("previous-token").[l, h], Is.EqualTo(prevToken).Within(1e-6), name)
        Assert.That(s.Table("BOS").[l, h], Is.EqualTo(bos).Within(1e-6), name)
    log (sprintf "uniform head: previous-token %.4f, BOS %.4f (closed form)" prevToken bos)

[<Test>]
let ``the S-inhibition head has a negative OV copy score and the induction head a positive one`` () =
    let t = scan.Force().Table "S-inhibition"
    Assert.That(t.Extra.["copy score"].[1, 1], Is.LessThan 0.0)
    Assert.That(t.Extra.["copy score"].[1, 0], Is.GreaterThan 0.0)
    let copying = scan.Force().Table "copying"
    Assert.That(copying.[1, 0], Is.EqualTo(1.0).Within(1e-9), "the induction head's OV circuit copies every token")
    Assert.That(copying.[1, 1], Is.EqualTo(-1.0).Within(1e-9), "the S-inhibition head's suppresses every token")
    Assert.That(copying.[0, 3], eq 0.0, "a head with no output circuit scores 0")
    Approve.Table(ScanReport.ToTable t)

[<Test>]
let ``the successor signal is attention to the ordinal predecessor minus the same on random-word lists`` () =
    let t = scan.Force().Table "successor"
    Assert.That(t.Extra.["ordinal"].[0, 6], Is.GreaterThan 0.999)
    Assert.That(t.Extra.["random"].[0, 6], Is.LessThan 0.001)
    Assert.That(t.[0, 6], Is.EqualTo(t.Extra.["ordinal"].[0, 6] - t.Extra.["random"].[0, 6]).Within(1e-12))
    // A fixed-offset head reads element k−1 (two tokens back) on both kinds of list: no signal.
    Assert.That(t.Extra.["ordinal"].[0, 5], Is.GreaterThan 0.999)
    Assert.That(abs t.[0, 5], Is.LessThan 1e-6)

// ---- TransformerLens detection matrices ---------------------------------------------------------------------------

let private prevPrompt = lazy (AttentionPatterns.Of(compiled.Force().Model, CompiledVocabulary.Tokenizer, CompiledVocabulary.Tokenizer.Encode "the cat sat on the mat ."))

[<Test>]
let ``TransformerLens's mul score of the previous-token head is (T−1)/T, and 1 with BOS and the current token excluded`` () =
    let p = prevPrompt.Force()
    let t = float p.Length
    let d = DetectionMatrices.For(DetectionTemplate.PreviousToken, p)
    // Row 0 has nowhere to look but itself: it adds 1 to sum(A) and 0 to sum(A ⊙ D).
    Assert.That(DetectionMatrices.Score(p, 0, 0, d, ErrorMeasure.Mul, false, false), Is.EqualTo((t - 1.0) / t).Within(1e-6))
    Assert.That(DetectionMatrices.Score(p, 0, 0, d, ErrorMeasure.Mul, true, true), Is.EqualTo(1.0).Within(1e-6))
    // abs: |A − D| is 1 only in row 0 (A[0,0] = 1, D[0,0] = 0): mean·T = 1/T, rounded to 3 decimals.
    Assert.That(DetectionMatrices.Score(p, 0, 0, d, ErrorMeasure.Abs, false, false), eq (1.0 - Math.Round(1.0 / t, 3)))

[<Test>]
let ``the exclude options never modify the patterns they score`` () =
    let p = prevPrompt.Force()
    let before = p.Layers |> Array.map Array.copy
    for pattern in [ DetectionTemplate.PreviousToken; DetectionTemplate.DuplicateToken; DetectionTemplate.Induction ] do
        for measure in [ ErrorMeasure.Mul; ErrorMeasure.Abs ] do
            DetectionMatrices.Detect([ p ], pattern, measure, excludeBos = true, excludeCurrentToken = true) |> ignore
    for l in 0 .. p.LayerCount - 1 do
        Assert.That(p.Layers.[l], eq before.[l])

[<Test>]
let ``TransformerLens's detection matrices are built as its head_detector builds them`` () =
    let p = AttentionPatterns.Of(compiled.Force().Model, CompiledVocabulary.Tokenizer, CompiledVocabulary.Tokenizer.EncodeWithoutBos "a cat a cat a")
    // tokens: a cat a cat a (positions 0..4)
    let show (m: float[,]) = String.Join("/", [ for q in 0 .. 4 -> String.Join("", [ for k in 0 .. 4 -> string (int m.[q, k]) ]) ])
    Assert.That(show (DetectionMatrices.For(DetectionTemplate.PreviousToken, p)), eq "00000/10000/01000/00100/00010")
    Assert.That(show (DetectionMatrices.For(DetectionTemplate.DuplicateToken, p)), eq "00000/00000/10000/01000/10100")
    // The duplicate pattern shifted right one column, first column zero, diagonal kept.
    Assert.That(show (DetectionMatrices.For(DetectionTemplate.Induction, p)), eq "00000/00000/01000/00100/01010")

[<Test>]
let ``TransformerLens's scores and the copying scores of the compiled model are approved`` () =
    for name in [ "TL previous_token (mul)"; "TL duplicate_token (mul)"; "TL induction (mul)"; "copying" ] do
        let table = scan.Force().Table name
        Approve.Table(ScanReport.ToTable table, ScanReport.Slug name)
        Approve.Svg(ScanReport.ToSvg(table, "compiled-heads"), ScanReport.Slug name)
    // TransformerLens's scores find the heads built for each job: its best head is the one our detector flags.
    let bestName (t: HeadScores) = t.Best |> fun struct (l, h, _) -> HeadScores.Name(l, h)
    for (tl, ours) in [ "TL previous_token (mul)", "previous-token"; "TL duplicate_token (mul)", "duplicate-token"; "TL induction (mul)", "induction" ] do
        Assert.That(bestName (scan.Force().Table tl), eq (builtFor |> List.find (fun (d, _) -> d = ours) |> snd |> List.head), tl)
    // Copying scores are Σ Re(λ) / Σ |λ|: always within [−1, 1].
    let copying = scan.Force().Table "copying"
    Assert.That(copying.Values |> Seq.cast<float> |> Seq.forall (fun v -> v >= -1.0 - 1e-9 && v <= 1.0 + 1e-9), Is.True)

// ---- definitions in isolation -------------------------------------------------------------------------------------

[<Test>]
let ``delimiters are . , ; : ! ? and newlines, with or without GPT-2's space and newline markers`` () =
    for t in [ "."; ","; ";"; ":"; "!"; "?"; "\n"; "Ċ"; "ĊĊ"; ".Ċ"; "Ġ."; " ,"; "?!" ] do
        Assert.That(Detectors.IsDelimiter t, Is.True, t)
    for t in [ "the"; "Ġthe"; "-"; "'"; "\""; "..."; "a."; ""; "Ġ" ] do
        if t <> "..." then Assert.That(Detectors.IsDelimiter t, Is.False, t)
    Assert.That(Detectors.IsDelimiter "...", Is.True, "a run of periods is a delimiter")

[<Test>]
let ``an induction prompt that is not a repeated sequence is a clear error`` () =
    let p = prevPrompt.Force()
    (throws<ArgumentException> (fun () -> Detectors.Induction [ p ] |> ignore)).Message |> mentions [ "x ++ x" ]

[<Test>]
let ``a detector given no prompts says so`` () =
    (throws<InvalidOperationException> (fun () -> Detectors.PreviousToken [] |> ignore)).Message |> mentions [ "No prompts" ]

// ---- published: GPT-2 small and SPD's model ---------------------------------------------------------------------

open Verification.Engine.Loading
open Verification.Fixtures.Real

/// The model if its weights are on this machine; otherwise the test ends Inconclusive naming what to download.
let private realOrInconclusive (name: string) (download: string) =
    let found, path, looked = SharedData.Locator.TryFind name
    if not found then
        Assert.Inconclusive(sprintf "%s is not on this machine (looked in %s). %s" name (String.Join(", ", looked)) download)
    ModelCatalog.Load path

let private gpt2Hint = ModelLocator.DownloadHint "gpt2"

/// The heads the sources name for GPT-2 small, by detector: (detector, heads, threshold on the score).
let gpt2Published =
    [ "previous-token", [ 4, 11; 2, 2 ], 0.3
      "induction", [ 5, 1; 5, 5; 6, 9; 7, 2; 7, 10 ], 0.3
      "duplicate-token", [ 0, 1; 0, 10; 3, 0 ], 0.3
      "S-inhibition", [ 7, 3; 7, 9; 8, 6; 8, 10 ], 0.1 ]

/// The sources' protocol on a model with GPT-2's vocabulary: English text with BOS, and ARENA's repeated random tokens
/// (half-length 50) after BOS, as ARENA measured GPT-2 small's induction heads.
let gpt2Protocol (choice: ModelChoice) =
    HeadScan.Run(Protocols.Inputs(choice, Protocols.Arena(choice.Model, PromptBuilder.For(choice.Tokenizer).Bos)))

[<Test; Category("Published")>]
let ``GPT-2 small's previous-token, induction, duplicate-token and S-inhibition heads are the published ones`` () =
    let choice = realOrInconclusive "gpt2" gpt2Hint
    let scan = gpt2Protocol choice
    Assert.Multiple(fun () ->
        for (detector, heads, threshold) in gpt2Published do
            let table = scan.Table detector
            for (l, h) in heads do
                Assert.That(table.[l, h], Is.GreaterThan threshold, sprintf "%s %d.%d" detector l h))

/// TransformerLens's head-detector demo prompt (25 tokens with BOS).
let tlDemoPrompt =
    "The head detector feature for TransformerLens allows users to check for various common heads automatically, reducing the cost of discovery."

/// The demo's measurement: TransformerLens's previous-token matrix, mul score, with and without BOS and self excluded.
let tlDemoScores (choice: ModelChoice) =
    let tokens = PromptBuilder.For(choice.Tokenizer).Build([ tlDemoPrompt ]).Tokens
    let p = AttentionPatterns.Of(choice.Model, choice.Tokenizer, tokens)
    let d = DetectionMatrices.For(DetectionTemplate.PreviousToken, p)
    tokens.Length,
    (fun l h -> DetectionMatrices.Score(p, l, h, d, ErrorMeasure.Mul, false, false)),
    (fun l h -> DetectionMatrices.Score(p, l, h, d, ErrorMeasure.Mul, true, true))

[<Test; Category("Published")>]
let ``on TransformerLens's demo prompt GPT-2 small's head 4.11 scores 0.96 as a previous-token head`` () =
    let choice = realOrInconclusive "gpt2" gpt2Hint
    let (length, plain, excluded) = tlDemoScores choice
    Assert.That(length, eq 25)
    Assert.That(plain 4 11, Is.EqualTo(0.96).Within(0.02))
    Assert.That(excluded 4 11, Is.EqualTo(1.00).Within(0.02))
    Assert.That(plain 2 2, Is.EqualTo(0.57).Within(0.02))

/// SPD's published detector table for its 4-layer, 6-head LlamaSimpleMLP (CLAIMS.md §1): (detector, layer, head, value).
let spdPublished =
    [ "previous-token", 1, 1, 0.604
      "previous-token", 0, 5, 0.308
      "induction", 2, 4, 0.629
      "duplicate-token", 0, 4, 0.323
      "duplicate-token", 0, 2, 0.202
      "successor", 0, 2, 0.307
      "successor", 0, 4, 0.154
      "S-inhibition", 3, 2, 0.377
      "positional", 1, 3, 0.226 ]

/// SPD's protocol: no BOS inserted, SPD's induction prompts (L = 256, 32 × 100).
let spdProtocol (choice: ModelChoice) =
    HeadScan.Run(Protocols.Inputs(choice, Protocols.Spd choice.Model))

[<Test; Category("Published")>]
let ``SPD's 4-layer model has the published detector table`` () =
    let choice =
        realOrInconclusive "spd-llama-simple-mlp"
            ("Export goodfire-ai/spd's LlamaSimpleMLP (4 layers × 6 heads) as a Hugging Face Llama folder (config.json, model.safetensors " +
             "with up_proj/down_proj and no gate_proj, tokenizer.json) into $VERIFICATION_MODELS/spd-llama-simple-mlp/.")
    let scan = spdProtocol choice
    Assert.Multiple(fun () ->
        for (detector, l, h, value) in spdPublished do
            Assert.That(scan.Table(detector).[l, h], Is.EqualTo(value).Within(0.05), sprintf "%s L%dH%d" detector l h)
        let prev = scan.Table "previous-token"
        for l in 0 .. prev.Layers - 1 do
            for h in 0 .. prev.Heads - 1 do
                if (l, h) <> (1, 1) && (l, h) <> (0, 5) then Assert.That(prev.[l, h], Is.LessThan 0.1, sprintf "previous-token L%dH%d" l h)
        Assert.That(scan.Table("delimiter").Flagged, Is.Empty, "no delimiter head reaches 2×")
        Assert.That(scan.Table("positional").Extra.["peak offset"].[1, 3], eq 2.0)
        let bos = scan.Table "BOS"
        for h in 0 .. bos.Heads - 1 do
            Assert.That(bos.[2, h], Is.InRange(0.217 - 0.02, 0.489 + 0.02), sprintf "BOS L2H%d" h)
            Assert.That(bos.[0, h], Is.LessThan 0.01)
            Assert.That(bos.[1, h], Is.LessThan 0.01)
        let best (t: HeadScores) = t.Best |> fun struct (l, h, _) -> (l, h)
        Assert.That(best bos, eq (2, 4), "L2H4 is the strongest BOS head (0.489)")
        // S-inhibition: L3H2's OV copy score on names is −0.029 (negative: it suppresses what it attends to).
        Assert.That((scan.Table "S-inhibition").Extra.["copy score"].[3, 2], Is.EqualTo(-0.029).Within(0.01), "S-inhibition copy score L3H2")
        // No other induction head above 0.1.
        let induction = scan.Table "induction"
        for l in 0 .. induction.Layers - 1 do
            for h in 0 .. induction.Heads - 1 do
                if (l, h) <> (2, 4) then Assert.That(induction.[l, h], Is.LessThan 0.1, sprintf "induction L%dH%d" l h)
        // Delimiter: no head reaches 2×; the best is L0H5 at 1.74× (the baseline share, 10.7 % on SPD's data, is data's, not the model's).
        let delimiter = scan.Table "delimiter"
        Assert.That(best delimiter, eq (0, 5))
        Assert.That(delimiter.[0, 5], Is.EqualTo(1.74).Within(0.1)))
    // The L1H1 → L2H4 circuit: mean-ablating L1H1 drops L2H4's induction score below half; no other layer-1 head does.
    let rows = Ablations.KComposition(choice.Model, 1, (Protocols.Spd choice.Model).Induction) |> Seq.toList
    let score name = rows |> List.pick (fun struct (n, s: HeadScores) -> if n = name then Some s.[2, 4] else None)
    let baseline = score "none"
    Assert.That(score "L1H1", Is.LessThan(baseline / 2.0), "L2H4 without L1H1")
    for h in 0 .. choice.Model.Config.HeadCount - 1 do
        if h <> 1 then Assert.That(score (sprintf "L1H%d" h), Is.GreaterThan(baseline / 2.0), sprintf "L2H4 without L1H%d" h)

[<Test>]
let ``SPD's protocol without BOS runs on the compiled circuits and flags the same heads`` () =
    let scan = spdProtocol (compiled.Force())
    for (detector, heads) in builtFor |> List.filter (fun (d, _) -> d <> "BOS") do
        Assert.That(flagged (scan.Table detector), eq heads, detector)
    // Without a BOS token, the BOS sink still attends to position 0: the detector reads positions, not tokens.
    Assert.That(flagged (scan.Table "BOS"), eq [ "L0H1" ])
    // SPD's bound "layers 0–1 below 0.01" can be met only on long text: with no BOS, A[0, 0] = 1 weighs 1/T in the
    // mean over queries. The previous-token head puts all of queries 0 and 1 on position 0 and nothing else there, so
    // its score is 2/T: 2/128 in SPD's windows on this 128-token context (0.004 at SPD's 512), more on shorter prompts.
    Assert.That((scan.Table "BOS").[0, 0], Is.EqualTo(2.0 / 128.0).Within(1e-6))
    let spd = Protocols.Spd(compiled.Force().Model)
    let shortLines = HeadScan.Run(Protocols.Inputs(compiled.Force(), ScanProtocol(Induction = spd.Induction, ControlLength = spd.ControlLength, PrependBos = false)))
    Assert.That((shortLines.Table "BOS").[0, 0], Is.GreaterThan(2.0 / 128.0 + 0.004), "on the zoo's shorter prompts (about 100 tokens) 2/T is larger")

[<Test>]
let ``the GPT-2 protocol runs in CI on the zoo's context model, which has GPT-2's vocabulary`` () =
    let choice = ModelCatalog.Load ContextModel.Name
    let scan = gpt2Protocol choice
    let table = Table(Column("detector", 0), Column("flagged heads", 0), Column("best head", 0))
    for (detector, _, _) in gpt2Published do
        let t = scan.Table detector
        let names = t.Flagged |> Seq.map (fun struct (l, h, v) -> sprintf "%s %.3f" (HeadScores.Name(l, h)) v) |> String.concat ", "
        let struct (bl, bh, bv) = t.Best
        table.AddRow(detector, names, sprintf "%s %.3f" (HeadScores.Name(bl, bh)) bv) |> ignore
        // The protocol measured every head of the model with a finite score.
        Assert.That((t.Layers, t.Heads), eq (ContextModel.Config.LayerCount, ContextModel.Config.HeadCount), detector)
        Assert.That(t.Values |> Seq.cast<float> |> Seq.forall Double.IsFinite, Is.True, detector)
    Approve.Table table
    // GPT-2's protocol (ARENA's) puts BOS first: every real-text prompt starts with <|endoftext|>.
    Assert.That(scan.Notes |> Seq.exists (fun n -> n.StartsWith "induction:"), Is.True)

[<Test>]
let ``TransformerLens's demo prompt is 25 GPT-2 tokens with BOS, and the demo's scoring runs on the context model`` () =
    let (length, plain, excluded) = tlDemoScores (ModelCatalog.Load ContextModel.Name)
    Assert.That(length, eq 25, "CLAIMS.md: one 25-token prompt")
    let table = Table(Column("head", 0), Column("mul", 3), Column("mul, BOS and self excluded", 3))
    for l in 0 .. ContextModel.Config.LayerCount - 1 do
        for h in 0 .. ContextModel.Config.HeadCount - 1 do
            table.AddRow(HeadScores.Name(l, h), plain l h, excluded l h) |> ignore
    Approve.Table table

[<Test>]
let ``ARENA's induction prompts start with BOS, as ARENA generates them, and are scored after it`` () =
    let bos = CompiledVocabulary.Tokenizer.Bos.Value
    let withBos = InductionProtocol(HalfLength = 20, Sequences = 8, Seed = 2, FirstToken = 1, TokenCount = 40, Bos = Nullable bos)
    for prompt in withBos.Prompts(Compiled.Vocabulary) do
        Assert.That(prompt.Length, eq 41)
        Assert.That(prompt.[0], eq bos)
        Assert.That(prompt.[1..20], eq prompt.[21..40])
    // The score reads A[1+L+k, 1+k+1]: the compiled induction head is found with or without the BOS in front.
    let model = compiled.Force().Model
    let plain = Ablations.InductionScores(model, InductionProtocol(HalfLength = 20, Sequences = 8, Seed = 2, FirstToken = 1, TokenCount = 40))
    let after = Ablations.InductionScores(model, withBos)
    log (sprintf "L1H0: %.3f without BOS, %.3f after BOS" plain.[1, 0] after.[1, 0])
    Assert.That(after.[1, 0], Is.GreaterThan 0.3)
    Assert.That(plain.[1, 0], Is.GreaterThan 0.3)
    // A prompt that is not BOS + x ++ x is refused, not scored.
    Assert.Throws<ArgumentException>(fun () -> InductionDetector(1).Add(AttentionPatterns.Of(model, CompiledVocabulary.Tokenizer, [| bos; 3; 4 |]))) |> ignore

[<Test>]
let ``the GPT-2 small specs run end to end on a stand-in folder laid out like openai-community gpt2`` () =
    use dir = new TempFolder()
    let standIn, model = gpt2StandIn dir.Path
    Assert.That(standIn.Model.Config.Family, eq Verification.Engine.Models.ModelFamily.Gpt2)
    // The same weights reached directly, with the same (English) real text the real checkpoint would get.
    let direct = ModelChoice("context, direct", model, standIn.Tokenizer, "zoo")
    let viaFolder, viaZoo = gpt2Protocol standIn, gpt2Protocol direct
    for (detector, _, _) in gpt2Published do
        let a, b = viaFolder.Table detector, viaZoo.Table detector
        assertClose detector 1e-5 1e-5 (b.Values |> Seq.cast<float> |> Seq.toArray) (a.Values |> Seq.cast<float> |> Seq.toArray)
    let (length, plain, excluded) = tlDemoScores standIn
    let (_, plainDirect, _) = tlDemoScores direct
    Assert.That(length, eq 25, "TransformerLens's demo prompt is 25 tokens with BOS")
    Assert.That(plain 2 1, Is.EqualTo(plainDirect 2 1).Within(1e-6))
    Assert.That(excluded 2 1, Is.InRange(0.0, 1.0))

// ---- the IOI paper's name movers and induction set, and the copying score, on GPT-2 small ----------------------------

/// The IOI paper's heads on GPT-2 small (Wang et al.): name movers, and its own induction set.
let ioiNameMovers = [ 9, 6; 9, 9; 10, 0 ]
let ioiInductionSet = [ 5, 5; 5, 8; 5, 9; 6, 9 ]

/// The IOI measurements on a GPT-2-vocabulary model, with the IOI paper's template and BOS first (TransformerLens's
/// default, which the IOI paper's code ran with): the name-mover table, and Elhage et al.'s copying score per head.
let ioiMeasurements (choice: ModelChoice) =
    let tokenizer = choice.Tokenizer
    let ioi = PromptSets.Ioi(tokenizer, PromptSets.IoiNames)
    let patterns =
        AttentionPatterns.FromModel(choice.Model, ioi |> Seq.map (fun struct (prompt, _, _, _) -> prompt.Tokens), Func<int, string>(fun id -> tokenizer.TokenText id))
        |> Seq.toList
    let builder = PromptBuilder.For tokenizer
    let names =
        PromptSets.IoiNames |> Seq.filter (fun n -> builder.Fits(" " + n))
        |> Seq.map (fun n -> builder.Build([ " " + n ], prependBos = false).Tokens.[0]) |> Seq.distinct |> Seq.toArray
    let copy = Circuits.OvCopyScores(choice.Model, names)
    let prompts = [ for (p, struct (_, s2, last, io)) in List.zip patterns (List.ofSeq ioi) -> IoiPrompt(p, last, s2, io) ]
    StructuredDetectors.NameMover(prompts, copy), Circuits.CopyingScores choice.Model

[<Test; Category("Published")>]
let ``GPT-2 small's name movers 9 6, 9 9 and 10 0 attend to the indirect object and copy it, and the IOI paper's induction heads score above 0 3`` () =
    let choice = realOrInconclusive "gpt2" gpt2Hint
    let movers, copying = ioiMeasurements choice
    let induction = (gpt2Protocol choice).Table "induction"
    Assert.Multiple(fun () ->
        for (l, h) in ioiNameMovers do
            Assert.That(movers.IsFlagged(l, h), Is.True, sprintf "name mover %d.%d: attention to IO %.3f, to S2 %.3f, copy %.3f" l h movers.[l, h]
                                                              movers.Extra.["attention to S2"].[l, h] movers.Extra.["copy score"].[l, h])
            Assert.That(copying.[l, h], Is.GreaterThan 0.0, sprintf "copying score of %d.%d (Elhage et al.: positive for copying heads)" l h)
        for (l, h) in ioiInductionSet do
            Assert.That(induction.[l, h], Is.GreaterThan 0.3, sprintf "induction %d.%d" l h))

[<Test>]
let ``the name-mover and copying measurements run end to end on the GPT-2 stand-in folder`` () =
    use dir = new TempFolder()
    let standIn, model = gpt2StandIn dir.Path
    let movers, copying = ioiMeasurements standIn
    let moversDirect, copyingDirect = ioiMeasurements (ModelChoice("context, direct", model, standIn.Tokenizer, "zoo"))
    let flat (m: float[,]) = m |> Seq.cast<float> |> Seq.toArray
    assertClose "attention to IO" 1e-6 1e-6 (flat moversDirect.Values) (flat movers.Values)
    assertClose "copying" 1e-6 1e-6 (flat copyingDirect) (flat copying)
    // What the comparison reads is there for every head: attention to IO and to S2 are probabilities, copying in [−1, 1].
    for m in [ movers.Values; movers.Extra.["attention to S2"] ] do
        Assert.That(flat m |> Array.forall (fun v -> v >= 0.0 && v <= 1.0), Is.True)
    Assert.That(flat copying |> Array.forall (fun v -> v >= -1.0 - 1e-9 && v <= 1.0 + 1e-9), Is.True)

[<Test>]
let ``on the compiled circuits the name-mover detector follows its definition`` () =
    // The compiled S-inhibition head attends from the last token to S2, not IO, so it is no name mover.
    let movers, _ = ioiMeasurements (compiled.Force())
    Assert.That(movers.IsFlagged(1, 1), Is.False)
    Assert.That(movers.Extra.["attention to S2"].[1, 1], Is.GreaterThan(movers.[1, 1]))

[<Test>]
let ``SPD's spec runs end to end on a stand-in laid out like its export: plain-MLP Llama folder with a WordPiece tokenizer json`` () =
    use dir = new TempFolder()
    let standIn = spdStandIn dir.Path
    Assert.That(standIn.Tokenizer, Is.InstanceOf<Verification.Engine.Tokenizers.WordPieceTokenizer>(), "what SPD's tokenizer.json is: not byte-level BPE")
    Assert.That((standIn.Model.Config :?> Verification.Engine.Models.LlamaConfig).GatedMlp, Is.False, "up_proj/down_proj, no gate_proj")
    let scan = spdProtocol standIn
    for (detector, _, _, _) in spdPublished do
        let t = scan.Table detector
        Assert.That((t.Layers, t.Heads), eq (2, 4), detector)
    // No BOS anywhere: a causal model's A[0, 0] = 1, so over windows of T = 32 tokens every head's BOS score is at least 1/32.
    let bos = scan.Table "BOS"
    Assert.That(bos.Values |> Seq.cast<float> |> Seq.forall (fun v -> v >= 1.0 / 32.0 - 1e-6), Is.True)
    Assert.That(scan.Notes, Has.Some.StartsWith "real text: ")
