/// The nightly GPU workflow (ci/nightly-gpu.yml) stays in step with the specs: it downloads every checkpoint the
/// locator knows, and its matrix has one shard per spec file that holds Published or Gpu specs.
module Verification.Specs.Nightly

open System.IO
open System.Reflection
open System.Text.RegularExpressions
open NUnit.Framework
open Verification.Engine.Loading
open Verification.Fixtures
open Verification.Specs.Support

let private workflow = lazy (File.ReadAllText(Path.Combine(Repository.Root, "ci", "nightly-gpu.yml")))

[<Test>]
let ``the nightly workflow downloads exactly the checkpoints the locator knows`` () =
    let downloads =
        [ for m in Regex.Matches(workflow.Force(), @"huggingface-cli download (\S+) ([^\n]+)") -> m.Groups[1].Value, m.Groups[2].Value.Trim() ]
        |> List.sort
    let known = [ for KeyValue(_, (repo, files)) in ModelLocator.Known -> repo, files ] |> List.sort
    Assert.That(downloads, eq known)

[<Test>]
let ``the nightly matrix has one shard per spec file with Published or Gpu specs`` () =
    let categories (m: MethodInfo) = m.GetCustomAttributes<CategoryAttribute>() |> Seq.map (fun c -> c.Name)
    let files =
        Assembly.GetExecutingAssembly().GetTypes()
        |> Array.filter (fun t -> t.GetMethods() |> Array.exists (fun m -> categories m |> Seq.exists (fun c -> c = "Published" || c = "Gpu")))
        |> Array.map (fun t -> t.Name)
        |> Array.distinct
        |> Array.sort
    let matrix = Regex.Match(workflow.Force(), @"spec: \[([^\]]+)\]").Groups[1].Value.Split(',') |> Array.map (fun s -> s.Trim()) |> Array.sort
    Assert.That(files, Is.Not.Empty)
    Assert.That(matrix, eq files)
