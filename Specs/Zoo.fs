/// The compiled circuits: each head's behaviour shown directly on its attention pattern, on a prompt chosen to
/// exercise it. A heatmap of each is approved.
module Verification.Specs.Zoo

open NUnit.Framework
open Verification.Engine.Models
open Verification.Analysis
open Verification.Reports
open Verification.Specs.Snapshots
open Verification.Fixtures.Protocols
open Verification.Fixtures.Zoo
open Verification.Specs.Support

let private model = lazy (Compiled.Heads())
let private tokenizer = CompiledVocabulary.Tokenizer
let private patterns (text: string) = AttentionPatterns.Of(model.Force(), tokenizer, tokenizer.Encode text)

/// At least this share of a row sits where the circuit says (the rest is e⁻¹² leakage and below).
let private sharp = 0.999

let private approveHeatmap (p: AttentionPatterns) layer head =
    let kind = Compiled.HeadKinds.[HeadScores.Name(layer, head)]
    Approve.Svg(ScanReport.AttentionHeatmap(p, layer, head, sprintf "compiled L%dH%d (%s)" layer head kind))

[<Test>]
let ``the previous-token head L0H0 puts all its attention on the token before`` () =
    let p = patterns "the cat sat on the mat ."
    for q in 1 .. p.Length - 1 do
        Assert.That(p.A(0, 0, q, q - 1), Is.GreaterThan sharp)
    approveHeatmap p 0 0

[<Test>]
let ``the BOS sink L0H1 attends to position 0 from every query`` () =
    let p = patterns "the cat sat on the mat ."
    for q in 0 .. p.Length - 1 do
        Assert.That(p.A(0, 1, q, 0), Is.GreaterThan sharp)
    approveHeatmap p 0 1

[<Test>]
let ``the duplicate-token head L0H2 attends to earlier copies of its token and otherwise to itself`` () =
    let p = patterns "the cat sat on the mat , the cat ran ."
    // "the" at 1, 5, 8; "cat" at 2, 9. Queries 5, 8 and 9 have earlier copies.
    Assert.That(p.A(0, 2, 5, 1), Is.GreaterThan sharp)
    Assert.That(p.A(0, 2, 8, 1) + p.A(0, 2, 8, 5), Is.GreaterThan sharp)
    Assert.That(p.A(0, 2, 8, 1), Is.EqualTo(0.5).Within(1e-3), "two earlier copies share the attention")
    Assert.That(p.A(0, 2, 9, 2), Is.GreaterThan sharp)
    for q in [ 1; 2; 3; 4; 6; 7; 10; 11 ] do
        Assert.That(p.A(0, 2, q, q), Is.GreaterThan sharp, sprintf "new token at %d attends to itself" q)
    approveHeatmap p 0 2

[<Test>]
let ``the self head L0H3 attends only to its own position`` () =
    let p = patterns "the cat sat on the mat ."
    for q in 0 .. p.Length - 1 do
        Assert.That(p.A(0, 3, q, q), Is.GreaterThan sharp)

[<Test>]
let ``the uniform head L0H4 spreads its attention evenly over the keys it may see`` () =
    let p = patterns "the cat sat on the mat ."
    for q in 0 .. p.Length - 1 do
        for k in 0 .. q do
            Assert.That(float (p.A(0, 4, q, k)), Is.EqualTo(1.0 / float (q + 1)).Within(1e-6))

[<Test>]
let ``the offset-2 head L0H5 attends two tokens back`` () =
    let p = patterns "the cat sat on the mat ."
    for q in 2 .. p.Length - 1 do
        Assert.That(p.A(0, 5, q, q - 2), Is.GreaterThan sharp)
    approveHeatmap p 0 5

[<Test>]
let ``the successor head L0H6 attends from each ordinal item to its predecessor`` () =
    let p = patterns "Monday , Tuesday , Wednesday , Thursday"
    // <bos> Monday , Tuesday , Wednesday , Thursday: items at 1, 3, 5, 7.
    for (item, previous) in [ 3, 1; 5, 3; 7, 5 ] do
        Assert.That(p.A(0, 6, item, previous), Is.GreaterThan sharp)
    Assert.That(p.A(0, 6, 1, 1), Is.GreaterThan sharp, "Monday has no predecessor here: itself")
    approveHeatmap p 0 6

[<Test>]
let ``the induction head L1H0 attends to the token after the previous occurrence of the current token`` () =
    let p = patterns "the big red cat ran home , the big red cat ran home"
    // <bos> the big red cat ran home , the(8) big red cat ran home: the query at q repeats position q − 7 and
    // attends to the token after it, q − 6.
    for q in 8 .. p.Length - 1 do
        Assert.That(p.A(1, 0, q, q - 6), Is.GreaterThan sharp, sprintf "query %d" q)
    approveHeatmap p 1 0

[<Test>]
let ``the S-inhibition head L1H1 attends from the last IOI token to S2`` () =
    let p = patterns "When Mary and John went to the store , John gave a drink to"
    // <bos> When Mary and John went to the store , John(10) gave a drink to(14)
    Assert.That(p.Tokens.[10], eq "John")
    Assert.That(p.A(1, 1, 14, 10), Is.GreaterThan sharp)
    approveHeatmap p 1 1

[<Test>]
let ``the delimiter head L1H2 attends to the delimiters before it`` () =
    let p = patterns "the cat sat . the dog ran , then he went home !"
    // Delimiters at 4 (.) and 8 (,); later queries split their attention between them.
    for q in 4 .. 11 do
        let onDelimiters = [ for k in [ 4; 8 ] do if k <= q then yield float (p.A(1, 2, q, k)) ] |> List.sum
        Assert.That(onDelimiters, Is.GreaterThan sharp, sprintf "query %d" q)
    approveHeatmap p 1 2

[<Test>]
let ``every head of the compiled model has a stated kind`` () =
    let c = Compiled.HeadsConfig
    Assert.That(Compiled.HeadKinds.Count, eq (c.LayerCount * c.HeadCount))
