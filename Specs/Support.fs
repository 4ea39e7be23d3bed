/// Small helpers every spec file uses.
module Verification.Specs.Support

open System
open System.IO
open NUnit.Framework

/// A fresh empty folder under the system temp directory, deleted when disposed.
type TempFolder() =
    let path = Path.Combine(Path.GetTempPath(), "verification-" + Guid.NewGuid().ToString("N"))
    do Directory.CreateDirectory path |> ignore
    member _.Path = path
    member _.File(name: string) = Path.Combine(path, name)
    interface IDisposable with
        member _.Dispose() = if Directory.Exists path then Directory.Delete(path, true)

/// Asserts that `f` throws `'T` and returns it, so the message can be checked.
let throws<'T when 'T :> exn> (f: unit -> unit) : 'T = Assert.Throws<'T>(Action f)

/// `Is.EqualTo` for any value, collections compared element by element (F# cannot pick NUnit's overload).
let eq (expected: obj) = Is.EqualTo(expected)

/// Asserts that a message names every one of the given words.
let mentions (words: string list) (message: string) =
    for w in words do
        Assert.That(message, Does.Contain(w), sprintf "expected the message to mention '%s'" w)

let log (text: string) = TestContext.Out.WriteLine text

open Verification.Engine.Tensors

/// A tensor of Normal(0, 1) values from a fixed seed.
let randn (seed: int) (shape: int list) = Tensor.RandomNormal(Random seed, 1.0f, List.toArray shape)

let toDoubles (t: Tensor) = t.Data |> Array.map float

/// Largest |expected − actual| and where it is.
let maxAbsDiff (expected: float[]) (actual: float[]) =
    if expected.Length <> actual.Length then
        failwithf "length %d differs from %d" actual.Length expected.Length
    if expected.Length = 0 then (0.0, -1)
    else
        Array.map2 (fun (e: float) (a: float) -> abs (e - a)) expected actual
        |> Array.indexed
        |> Array.maxBy snd
        |> fun (i, d) -> (d, i)

/// Asserts |actual − expected| ≤ atol + rtol·|expected| everywhere. On failure the message gives the largest
/// difference, where it is, and the first few values of both (the llm.c way of reporting a mismatch).
let assertClose (what: string) (atol: float) (rtol: float) (expected: float[]) (actual: float[]) =
    Assert.That(actual.Length, Is.EqualTo(expected.Length), sprintf "%s: length" what)
    let bad =
        Array.map2 (fun (e: float) (a: float) -> abs (a - e) > atol + rtol * abs e || Double.IsNaN a) expected actual
        |> Array.tryFindIndex id
    let (diff, at) = maxAbsDiff expected actual
    log (sprintf "%s: max |diff| = %.3g at %d (atol %.1g, rtol %.1g)" what diff at atol rtol)
    match bad with
    | None -> ()
    | Some i ->
        let show (xs: float[]) = xs |> Array.truncate 6 |> Array.map (sprintf "%.6g") |> String.concat ", "
        Assert.Fail(
            sprintf "%s: first mismatch at %d: expected %.7g, got %.7g; max |diff| %.3g at %d\n  expected: %s …\n  actual:   %s …"
                what i expected.[i] actual.[i] diff at (show expected) (show actual))

let assertTensorClose what atol rtol (expected: Tensor) (actual: Tensor) =
    Assert.That(actual.Shape, eq expected.Shape, sprintf "%s: shape" what)
    assertClose what atol rtol (toDoubles expected) (toDoubles actual)

/// The real encoders that come with dotnet restore (minilm, arctic-xs): their names as test cases, and how a finding
/// names the model (the index counts "(real" as a claim on a real model).
module RealEncoder =
    open Verification.Fixtures.Real

    let names = NuGetEncoders.All |> Seq.map (fun e -> e.Name) |> Seq.toArray
    let named (name: string) = NuGetEncoders.All |> Seq.find (fun e -> e.Name = name)
    let findingModel (name: string) = sprintf "%s (real, %s)" name (named name).Description
