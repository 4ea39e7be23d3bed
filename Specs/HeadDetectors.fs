/// CLAIMS.md §1: the attention-head detectors (goodfire-ai/spd PR #403; TransformerLens head_detector), proven on the
/// compiled circuits, whose answer is known because their weights were set by hand.
module Verification.Specs.HeadDetectors

open System
open NUnit.Framework
open Verification.Engine.Analysis
open Verification.Fixtures
open Verification.Fixtures.Approvals
open Verification.Fixtures.Prompts
open Verification.Fixtures.Scan
open Verification.Fixtures.Zoo
open Verification.Specs.Support

let private compiled = lazy (ModelCatalog.Load "compiled-heads")
let private scan = lazy (HeadScan.Run(compiled.Force()))

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

let private flagged (t: HeadScores) = t.Flagged |> Seq.map (fun struct (l, h, _) -> HeadScores.Name(l, h)) |> Seq.toList

[<TestCaseSource(nameof detectorNames)>]
let ``on the compiled circuits each detector flags exactly the heads built for it`` (detector: string) =
    let table = scan.Force().Table detector
    Assert.That(flagged table, eq (builtFor |> List.find (fun (d, _) -> d = detector) |> snd))
    Approve.Table(ScanReport.ToTable table)
    Approve.Svg(ScanReport.ToSvg(table, "compiled-heads"))

[<Test>]
let ``the positional detector puts the previous-token head's peak at offset 1 and the offset-2 head's at 2`` () =
    let table = scan.Force().Table "positional"
    Assert.That(table.Extra.["peak offset"].[0, 0], eq 1.0)
    Assert.That(table.Extra.["peak offset"].[0, 5], eq 2.0)
    Approve.Svg(ScanReport.PositionalProfiles(scan.Force().PositionalProfiles, table, "compiled-heads"))

[<Test>]
let ``uniform heads score what the definitions give for uniform attention`` () =
    // Computed here from the prompts' lengths alone, independently of the detectors' code.
    let prompts = HeadScan.RealText(CompiledVocabulary.Tokenizer) |> Seq.map Array.length |> Seq.toList
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

let private prevPrompt = lazy (Patterns.Of(compiled.Force().Model, CompiledVocabulary.Tokenizer, CompiledVocabulary.Tokenizer.Encode "the cat sat on the mat ."))

[<Test>]
let ``TransformerLens's mul score of the previous-token head is (T−1)/T, and 1 with BOS and the current token excluded`` () =
    let p = prevPrompt.Force()
    let t = float p.Length
    let d = DetectionMatrices.For(DetectionPattern.PreviousToken, p)
    // Row 0 has nowhere to look but itself: it adds 1 to sum(A) and 0 to sum(A ⊙ D).
    Assert.That(DetectionMatrices.Score(p, 0, 0, d, ErrorMeasure.Mul, false, false), Is.EqualTo((t - 1.0) / t).Within(1e-6))
    Assert.That(DetectionMatrices.Score(p, 0, 0, d, ErrorMeasure.Mul, true, true), Is.EqualTo(1.0).Within(1e-6))
    // abs: |A − D| is 1 only in row 0 (A[0,0] = 1, D[0,0] = 0): mean·T = 1/T, rounded to 3 decimals.
    Assert.That(DetectionMatrices.Score(p, 0, 0, d, ErrorMeasure.Abs, false, false), eq (1.0 - Math.Round(1.0 / t, 3)))

[<Test>]
let ``the exclude options never modify the patterns they score`` () =
    let p = prevPrompt.Force()
    let before = p.Layers |> Array.map Array.copy
    for pattern in [ DetectionPattern.PreviousToken; DetectionPattern.DuplicateToken; DetectionPattern.Induction ] do
        for measure in [ ErrorMeasure.Mul; ErrorMeasure.Abs ] do
            DetectionMatrices.Detect([ p ], pattern, measure, excludeBos = true, excludeCurrentToken = true) |> ignore
    for l in 0 .. p.LayerCount - 1 do
        Assert.That(p.Layers.[l], eq before.[l])

[<Test>]
let ``TransformerLens's detection matrices are built as its head_detector builds them`` () =
    let p = Patterns.Of(compiled.Force().Model, CompiledVocabulary.Tokenizer, CompiledVocabulary.Tokenizer.EncodeWithoutBos "a cat a cat a")
    // tokens: a cat a cat a (positions 0..4)
    let show (m: float[,]) = String.Join("/", [ for q in 0 .. 4 -> String.Join("", [ for k in 0 .. 4 -> string (int m.[q, k]) ]) ])
    Assert.That(show (DetectionMatrices.For(DetectionPattern.PreviousToken, p)), eq "00000/10000/01000/00100/00010")
    Assert.That(show (DetectionMatrices.For(DetectionPattern.DuplicateToken, p)), eq "00000/00000/10000/01000/10100")
    // The duplicate pattern shifted right one column, first column zero, diagonal kept.
    Assert.That(show (DetectionMatrices.For(DetectionPattern.Induction, p)), eq "00000/00000/01000/00100/01010")

[<Test>]
let ``TransformerLens's scores and the copying scores of the compiled model are approved`` () =
    for name in [ "TL previous_token (mul)"; "TL duplicate_token (mul)"; "TL induction (mul)"; "copying" ] do
        let table = scan.Force().Table name
        Approve.Table(ScanReport.ToTable table, ScanReport.Slug name)
        Approve.Svg(ScanReport.ToSvg(table, "compiled-heads"), ScanReport.Slug name)

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
