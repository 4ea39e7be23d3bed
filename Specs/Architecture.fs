/// The layout of DESIGN.md, held by specs as well as by the compiler: project references only in the direction
/// Fixtures → Engine → Analysis → Reports → Specs/Cli, Analysis pure, one reader of the VERIFICATION_* variables, and a
/// CLI that ships no test framework.
module Verification.Specs.Architecture

open System
open System.IO
open System.Text.RegularExpressions
open System.Xml.Linq
open NUnit.Framework
open Verification.Fixtures
open Verification.Specs.Support

/// What each project may reference (DESIGN.md, "The shape").
let allowedReferences =
    Map.ofList
        [ "Engine", Set.empty
          "Analysis", set [ "Engine" ]
          "Reports", set [ "Analysis" ]
          "Fixtures", set [ "Engine"; "Analysis" ]
          "Cli", set [ "Engine"; "Analysis"; "Fixtures"; "Reports" ]
          "Specs", set [ "Engine"; "Analysis"; "Fixtures"; "Reports"; "Cli" ] ]

/// Test frameworks, the snapshot diff and the independent runtime of the real encoders: only Specs may use them.
let testPackages =
    set [ "NUnit"; "NUnit3TestAdapter"; "Microsoft.NET.Test.Sdk"; "FsCheck"; "DiffPlex"; "coverlet.collector"; "Microsoft.ML.OnnxRuntime" ]

let private projectName (path: string) = Path.GetFileNameWithoutExtension path

/// The projects of the solution file, as paths.
let private solutionProjects () =
    XDocument.Load(Path.Combine(Repository.Root, "Verification.slnx")).Descendants(XName.Get "Project")
    |> Seq.map (fun p -> Path.Combine(Repository.Root, p.Attribute(XName.Get "Path").Value))
    |> Seq.toList

/// Every reference of a project file that breaks the flow, in words.
let violations (projectFile: string) =
    let project = projectName projectFile
    let document = XDocument.Load projectFile
    let items name = document.Descendants(XName.Get name) |> Seq.map (fun e -> e.Attribute(XName.Get "Include").Value) |> Seq.toList
    [ match allowedReferences.TryFind project with
      | None -> yield sprintf "%s is not a project of DESIGN.md's layout" project
      | Some allowed ->
          for reference in items "ProjectReference" do
              let target = projectName reference
              if not (allowed.Contains target) then
                  yield sprintf "%s references %s (allowed: %s)" project target (if allowed.IsEmpty then "nothing of ours" else String.Join(", ", allowed))
      if project <> "Specs" then
          for package in items "PackageReference" do
              if testPackages.Contains package then yield sprintf "%s uses the test package %s" project package ]

[<Test>]
let ``the solution holds the six projects of DESIGN.md and each references only the projects before it in the flow`` () =
    let projects = solutionProjects ()
    Assert.That(projects |> List.map projectName |> set, eq (allowedReferences |> Map.keys |> set))
    let found = projects |> List.collect violations
    Assert.That(found, Is.Empty, String.Join("\n", found))

[<Test>]
let ``a reference against the flow is reported, naming both projects`` () =
    use dir = new TempFolder()
    let analysis = Path.Combine(dir.Path, "Analysis.csproj")
    File.WriteAllText(analysis,
        """<Project Sdk="Microsoft.NET.Sdk"><ItemGroup><ProjectReference Include="../Reports/Reports.csproj" /><PackageReference Include="NUnit" /></ItemGroup></Project>""")
    Assert.That(violations analysis, eq [ "Analysis references Reports (allowed: Engine)"; "Analysis uses the test package NUnit" ])

/// C# source with comments and string literals removed, so names in prose do not count.
let private code (path: string) =
    let text = File.ReadAllText path
    let noComments = Regex.Replace(text, @"//[^\n]*|/\*.*?\*/", "", RegexOptions.Singleline)
    Regex.Replace(noComments, "\\$?@?\"(?:[^\"\\\\\\n]|\\\\.)*\"", "\"\"")

let private sources (folder: string) = Directory.GetFiles(Path.Combine(Repository.Root, folder), "*.cs", SearchOption.AllDirectories)
                                        |> Array.filter (fun f -> not (f.Contains "/obj/" || f.Contains "/bin/"))

let private offending (folder: string) (pattern: string) =
    [ for file in sources folder do
        for m in Regex.Matches(code file, pattern) do
            yield sprintf "%s: %s" (Path.GetRelativePath(Repository.Root, file)) m.Value ]

[<Test>]
let ``Analysis reads no files, runs no training loop of its own and names no paper in its identifiers`` () =
    let fileAccess = offending "Analysis" @"\b(File|Directory|FileStream|StreamReader|StreamWriter|FileInfo|DirectoryInfo)\.|\bSystem\.IO\b"
    Assert.That(fileAccess, Is.Empty, "file I/O belongs to Engine (loaders) or Reports (writers):\n" + String.Join("\n", fileAccess))
    let training = offending "Analysis" @"\b(Trainer\.Train|AdamW|torch\.optim)\b|\.backward\("
    Assert.That(training, Is.Empty, "training loops belong to Engine:\n" + String.Join("\n", training))
    let papers = offending "Analysis" @"\w*(Spd|SPD|Arena|ARENA|Olsson|Elhage|Wang|Clark|Kovaleva|Voita|Gurnee|Princeton|Goodfire|Mivanit|Neo)\w*"
    Assert.That(papers, Is.Empty, "the specs name the papers; Analysis names what is measured:\n" + String.Join("\n", papers))

[<Test>]
let ``the engine computes on libtorch: no hand-written matrix kernel, autodiff tape, host optimizer or native BLAS call is left`` () =
    // Two native calls are not computation: lstat, to tell a device, FIFO or link from a file before writing (Engine/IO/FileKind.cs),
    // and mallopt, so glibc returns freed activation buffers (Engine/Torch/NativeHeap.cs).
    let handWritten =
        offending "Engine" @"\b(DllImport|LibraryImport|NativeLibrary|FusedMultiplyAdd|Vector(128|256|512)<)|\bclass\s+(Ops|Tape|Gemm|ManagedGemm|OpenBlas|RefTensor|Reference)\b"
        |> List.filter (fun offence -> not (offence.StartsWith "Engine/IO/FileKind.cs: DllImport" || offence.StartsWith "Engine/Torch/NativeHeap.cs: DllImport"))
    Assert.That(handWritten, Is.Empty, "tensor operations, products, gradients and optimizers are libtorch's:\n" + String.Join("\n", handWritten))
    // AdamW is ours (TorchSharp's leaves Scalars to the GC: Lifetimes.fs), but as libtorch operations on the parameters, not host loops.
    let optimizer = code (Path.Combine(Repository.Root, "Engine", "Training", "AdamW.cs"))
    Assert.That(Regex.IsMatch(optimizer, @"float\[\]|double\[\]|Span<|\.Data\b"), Is.False, "AdamW updates torch tensors, not host arrays")
    let tensors = Directory.GetFiles(Path.Combine(Repository.Root, "Engine", "Tensors"), "*.cs") |> Array.map Path.GetFileName
    Assert.That(tensors, eq [| "Tensor.cs" |], "Engine/Tensors holds the host array type only")
    Assert.That(Directory.Exists(Path.Combine(Repository.Root, "Engine", "Autodiff")), Is.False, "no tape of our own")

[<Test>]
let ``every VERIFICATION_ variable is read in one place, the Settings record`` () =
    let files =
        [ for folder in [ "Engine"; "Analysis"; "Fixtures"; "Reports"; "Cli"; "Specs" ] do
            for file in Directory.GetFiles(Path.Combine(Repository.Root, folder), "*", SearchOption.AllDirectories) do
                if (file.EndsWith ".cs" || file.EndsWith ".fs") && not (file.Contains "/obj/" || file.Contains "/bin/") then
                    yield Path.GetRelativePath(Repository.Root, file), File.ReadAllText file ]
    let readsByName = files |> List.filter (fun (_, text) -> Regex.IsMatch(text, "GetEnvironmentVariable\\s*\\(?\\s*\"VERIFICATION_")) |> List.map fst
    Assert.That(readsByName, Is.Empty, "read VERIFICATION_* through Settings.Current")
    let mentioned =
        files |> List.collect (fun (_, text) -> [ for m in Regex.Matches(text, "VERIFICATION_[A-Z]+(?:_[A-Z]+)*") -> m.Value ]) |> List.distinct |> List.sort
    let known = Verification.Engine.Settings.Variables |> Seq.toList
    Assert.That(mentioned |> List.filter (fun v -> not (List.contains v known)), Is.Empty, "a variable the Settings record does not read")
    let settings = Verification.Engine.Settings.FromEnvironment(fun name -> if name = "VERIFICATION_ACCEPT" then "yes" elif name = "VERIFICATION_MODELS" then "/models" else null)
    Assert.That(settings.Accept, Is.True)
    Assert.That(settings.ModelsFolder, eq "/models")
    Assert.That(settings.SharedFolder, Is.Null)

[<Test>]
let ``the CLI's build output holds no test framework, no snapshot diff and no ONNX Runtime`` () =
    // Specs/bin/{configuration}/{framework}/ → Cli/bin/{configuration}/{framework}/
    let framework = DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/'))
    let configuration = framework.Parent.Name
    let output = Path.Combine(Repository.Root, "Cli", "bin", configuration, framework.Name)
    Assert.That(File.Exists(Path.Combine(output, "verification.dll")), Is.True, sprintf "the CLI is built beside the specs in %s" output)
    let deps = File.ReadAllText(Path.Combine(output, "verification.deps.json"))
    for package in testPackages do
        Assert.That(deps, Does.Not.Contain("\"" + package + "/"), sprintf "verification.deps.json lists %s" package)
    let dlls = Directory.GetFiles(output, "*.dll") |> Array.map Path.GetFileName
    let framed =
        dlls |> Array.filter (fun f ->
            f.StartsWith("nunit", StringComparison.OrdinalIgnoreCase) || f.StartsWith "DiffPlex" || f.StartsWith "FsCheck"
            || f.StartsWith "Microsoft.ML.OnnxRuntime" || f.StartsWith "SentenceTransformers")
    Assert.That(framed, Is.Empty)
    Assert.That(dlls, Does.Contain "Verification.Reports.dll")
