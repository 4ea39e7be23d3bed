/// The SVG plot writers: valid, deterministic, one cell per value, labels present, colour scales monotone.
module Verification.Specs.Plots

open System.Xml.Linq
open NUnit.Framework
open Verification.Reports
open Verification.Specs.Snapshots
open Verification.Reports.Plots
open Verification.Specs.Support

let private svgNs = XNamespace.Get "http://www.w3.org/2000/svg"

let private parse (svg: string) =
    let doc = XDocument.Parse svg
    Assert.That(doc.Root.Name, eq(svgNs + "svg"))
    doc

let private elements (cls: string) (doc: XDocument) =
    doc.Descendants()
    |> Seq.filter (fun e -> e.Attribute(XName.Get "class") |> isNull |> not && e.Attribute(XName.Get "class").Value = cls)
    |> Seq.toList

let private texts cls doc = elements cls doc |> List.map (fun e -> e.Value) |> List.toArray
let private fills cls doc = elements cls doc |> List.map (fun e -> e.Attribute(XName.Get "fill").Value)

/// The previous-token pattern of a 6-token sentence: each token attends 0.9 to the one before, 0.1 to itself.
let private tokens = [| "The"; " cat"; " sat"; " on"; " the"; " mat" |]

let private previousTokenPattern () =
    let n = tokens.Length
    Array2D.init n n (fun q k -> if q = 0 then (if k = 0 then 1.0 else 0.0) elif k = q - 1 then 0.9 elif k = q then 0.1 else 0.0)

/// Published previous-token scores of SPD's 4-layer, 6-head model (CLAIMS.md §1); unlisted heads are
/// written as 0.05 (the source says "all others < 0.1").
let private spdPrevToken () =
    let grid = Array2D.create 4 6 0.05
    grid.[1, 1] <- 0.604
    grid.[0, 5] <- 0.308
    grid

[<Test>]
let ``an attention heatmap has one cell per query-key pair and every token label on both axes`` () =
    let svg = Plot.AttentionHeatmap(previousTokenPattern (), tokens, tokens, "previous-token head")
    let doc = parse svg
    Assert.That(elements "cell" doc, Has.Length.EqualTo 36)
    Assert.That(texts "row-label" doc, eq tokens)
    Assert.That(texts "column-label" doc, eq tokens)
    // The cell for query " sat" and key " cat" carries its value in a tooltip.
    let cell = (elements "cell" doc).[2 * 6 + 1]
    Assert.That(cell.Value, eq " sat →  cat: 0.900")
    Approve.Svg svg

[<Test>]
let ``a heatmap makes control characters in tokens visible and stays valid XML`` () =
    let labels = [| "<|endoftext|>"; "a&b"; "\n"; "\u0001" |]
    let svg = Plot.AttentionHeatmap(Array2D.create 4 4 0.25, labels, labels, "odd tokens")
    let doc = parse svg
    Assert.That(texts "row-label" doc, eq [| "<|endoftext|>"; "a&b"; "↵"; "\\x01" |])

[<Test>]
let ``a layer by head grid has one cell and one value per head and outlines exactly the flagged heads`` () =
    let scores = spdPrevToken ()
    let svg = Plot.HeadGrid(scores, "previous-token score (SPD model, published)", threshold = 0.3)
    let doc = parse svg
    Assert.That(elements "cell" doc, Has.Length.EqualTo 24)
    Assert.That(texts "value" doc |> Array.filter (fun v -> v = "0.60" || v = "0.31"), Has.Length.EqualTo 2)
    Assert.That(elements "flag" doc, Has.Length.EqualTo 2)
    Assert.That(texts "row-label" doc, eq [| "L0"; "L1"; "L2"; "L3" |])
    Assert.That(texts "column-label" doc, eq [| "H0"; "H1"; "H2"; "H3"; "H4"; "H5" |])
    Approve.Svg svg

[<Test>]
let ``larger values are always drawn darker on a sequential colour scale`` () =
    let scale = ColourScale.Probability
    let lum = [ for i in 0..100 -> ColourScale.Luminance(scale.Colour(float i / 100.0)) ]
    lum |> List.pairwise |> List.iter (fun (a, b) -> Assert.That(b, Is.LessThanOrEqualTo a))
    Assert.That(List.last lum, Is.LessThan(List.head lum - 0.5))
    // And in a drawn grid: order the cells by value, their luminance never rises.
    let doc = parse (Plot.HeadGrid(Array2D.init 3 4 (fun l h -> float (l * 4 + h) / 11.0), "ramp"))
    let lums = fills "cell" doc |> List.map ColourScale.Luminance
    lums |> List.pairwise |> List.iter (fun (a, b) -> Assert.That(b, Is.LessThan a))
    // The colour bar runs from the maximum (top, darkest) to the minimum.
    let bar = fills "scale" doc |> List.map ColourScale.Luminance
    bar |> List.pairwise |> List.iter (fun (a, b) -> Assert.That(b, Is.GreaterThanOrEqualTo a))

[<Test>]
let ``a diverging colour scale is lightest at its centre and darkens towards both ends`` () =
    let scale = ColourScale(-1.0, 1.0, Diverging = true)
    let lum v = ColourScale.Luminance(scale.Colour v)
    for v in [ 0.1 .. 0.1 .. 1.0 ] do
        Assert.That(lum v, Is.LessThan(lum (v - 0.1) + 1e-12))
        Assert.That(lum -v, Is.LessThan(lum (-v + 0.1) + 1e-12))
    Assert.That(scale.Colour -1.0, Is.Not.EqualTo(scale.Colour 1.0), "the two sides have different hues")

[<Test>]
let ``the same input gives byte-identical SVG`` () =
    let draw () =
        [ Plot.AttentionHeatmap(previousTokenPattern (), tokens, tokens, "p")
          Plot.HeadGrid(spdPrevToken (), "g", threshold = 0.3)
          Plot.Line([ Series("a", [ 1.0; 2.0 ], [ 0.1; 0.2 ]) ], "l", "x", "y")
          Plot.Scatter([ ScatterPoint(1.0, 2.0, "p") ], "s", "x", "y")
          Plot.Bars([ Bar("b", 1.0 / 3.0) ], "b", "y") ]
    Assert.That(draw (), eq(draw ()))

[<Test>]
let ``a line plot draws one marker per point and a legend entry per series`` () =
    let offsets = [ 1.0 .. 8.0 ]
    let profile = [ 0.05; 0.82; 0.04; 0.03; 0.02; 0.02; 0.01; 0.01 ]
    let uniform = offsets |> List.map (fun d -> 1.0 / (d + 1.0))
    let svg =
        Plot.Line([ Series("offset-2 head", offsets, profile); Series("1/(d+1)", offsets, uniform) ],
                  "attention against offset", "offset d", "mean A[q, q-d]", yMin = 0.0, yMax = 1.0, horizontalLine = 0.3)
    let doc = parse svg
    Assert.That(elements "point" doc, Has.Length.EqualTo 16)
    Assert.That(elements "series" doc, Has.Length.EqualTo 2)
    Assert.That(texts "legend" doc, eq [| "offset-2 head"; "1/(d+1)" |])
    let ticks = texts "tick-label" doc
    Assert.That(ticks, Does.Contain "0.4")
    Assert.That(ticks, Does.Contain "1.0")
    Assert.That(ticks, Does.Not.Contain "-0.2", "the axis starts at the requested minimum")
    Approve.Svg svg

[<Test>]
let ``a scatter labels every point and colours its groups`` () =
    let points =
        [ ScatterPoint(0.604, 0.02, "L1H1", "previous-token")
          ScatterPoint(0.308, 0.01, "L0H5", "previous-token")
          ScatterPoint(0.03, 0.629, "L2H4", "induction")
          ScatterPoint(0.05, 0.04, "L3H0", "other") ]
    let svg = Plot.Scatter(points, "previous-token against induction score", "previous-token", "induction")
    let doc = parse svg
    Assert.That(elements "point" doc, Has.Length.EqualTo 4)
    Assert.That(texts "point-label" doc, eq [| "L1H1"; "L0H5"; "L2H4"; "L3H0" |])
    Assert.That(texts "legend" doc, eq [| "previous-token"; "induction"; "other" |])
    let f = fills "point" doc
    Assert.That(f.[0], eq f.[1])
    Assert.That(f.[0], Is.Not.EqualTo f.[2])
    Approve.Svg svg

[<Test>]
let ``a bar chart has one bar per value, bars below zero drawn downwards`` () =
    let bars = [ Bar("L0H2", 0.307); Bar("L0H4", 0.154); Bar("L3H2", -0.029) ]
    let svg = Plot.Bars(bars, "successor signal", "signal", referenceLine = 0.05, referenceLabel = "flag 0.05")
    let doc = parse svg
    let rects = elements "bar" doc
    Assert.That(rects, Has.Length.EqualTo 3)
    Assert.That(texts "bar-label" doc, eq [| "L0H2"; "L0H4"; "L3H2" |])
    let y (e: XElement) = float (e.Attribute(XName.Get "y").Value)
    let h (e: XElement) = float (e.Attribute(XName.Get "height").Value)
    Assert.That(h rects.[0], Is.GreaterThan(h rects.[1] * 1.9), "0.307 is about twice 0.154")
    Assert.That(y rects.[2], Is.GreaterThanOrEqualTo(y rects.[0] + h rects.[0] - 0.01), "the negative bar starts at the baseline")
    Approve.Svg svg
