/// CLAIMS.md §3: negation attention (chandanms/tinyllm-mechinter). The metrics first, on the compiled circuits and on
/// patterns whose answers follow from the definitions.
module Verification.Specs.NegationAttention

open System
open NUnit.Framework
open Verification.Engine.Analysis
open Verification.Engine.Models
open Verification.Fixtures.Scan
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
    let p = Patterns.Of(compiled.Force(), tokenizer, tokenizer.Encode "the cat sat on the mat .")
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
    let p = Patterns.Of(compiled.Force(), tokenizer, tokens)
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
