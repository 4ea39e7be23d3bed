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
