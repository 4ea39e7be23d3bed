/// The `verification` command as a user meets it: every failure is one line `error: …` naming the file or argument,
/// with no stack trace unless --verbose; options are checked before any work; files are written whole or not at all,
/// and an output folder holds one run's files.
module Verification.Specs.Cli

open System
open System.IO
open System.Text.Json
open NUnit.Framework
open Verification.Cli
open Verification.Cli.Commands
open Verification.Engine.IO
open Verification.Specs.Support

/// Runs the CLI in this process; returns its exit code and what it wrote to standard error.
let private cli (args: string list) =
    let error = new StringWriter()
    let original = Console.Error
    Console.SetError error
    try
        let code = Program.Main(List.toArray args)
        code, error.ToString()
    finally
        Console.SetError original

let private noStackTrace (stderr: string) = Assert.That(stderr, Does.Not.Contain "   at ", "no stack trace without --verbose")

/// Asserts that the command fails with exit code 1 and an `error:` line naming every one of `words`.
let private failsWith (words: string list) (args: string list) =
    let code, stderr = cli args
    log stderr
    Assert.That(code, eq 1, sprintf "exit code of %A" args)
    Assert.That(stderr, Does.StartWith "error: ")
    stderr |> mentions words
    noStackTrace stderr

[<Test>]
let ``numeric options are range-checked before any work`` () =
    [ "generate"; "--model"; "compiled-heads"; "--ids"; "1"; "--steps"; "0" ] |> failsWith [ "--steps must be at least 1 (got 0)" ]
    [ "rules"; "--features"; "0" ] |> failsWith [ "--features must be at least 1" ]
    [ "rules"; "--sae-steps"; "-5" ] |> failsWith [ "--sae-steps must be at least 1 (got -5)" ]
    [ "rules"; "--latents"; "0" ] |> failsWith [ "--latents must be at least 1" ]
    [ "bench"; "forward"; "--tokens"; "0" ] |> failsWith [ "--tokens must be between 1 and 1024" ]
    [ "bench"; "gemm"; "--seconds"; "0" ] |> failsWith [ "--seconds must be above 0" ]
    [ "train"; "induction"; "--steps"; "0" ] |> failsWith [ "--steps must be at least 1" ]
    [ "bench"; "forward"; "--tokens"; "many" ] |> failsWith [ "many"; "--tokens" ]
    [ "bench"; "train"; "--steps"; "0" ] |> failsWith [ "--steps must be between 1 and 100000" ]

[<Test>]
let ``--device is checked before any work, on every command that runs a model`` () =
    for command in [ [ "scan" ]; [ "cache"; "--model"; "compiled-heads"; "--ids"; "1"; "--out"; "x.safetensors" ]; [ "generate"; "--model"; "compiled-heads"; "--ids"; "1" ]
                     [ "train"; "induction" ]; [ "rules" ]; [ "report" ]; [ "bench"; "gemm" ]; [ "bench"; "forward" ]; [ "bench"; "train" ] ] do
        command @ [ "--device"; "tpu" ] |> failsWith [ "--device"; "'tpu'"; "cpu, cuda or cuda:N" ]
    if not (Verification.Engine.Torch.Devices.CudaAvailable) then
        [ "scan"; "--device"; "cuda" ] |> failsWith [ "--device"; "no CUDA device"; "-p:TorchBackend=cuda" ]

[<Test>]
let ``an unknown detector is rejected before the model is even looked up`` () =
    // The model does not exist either: the detector names are checked first, so no work starts on a typo.
    [ "scan"; "--model"; "no-such-model"; "--detectors"; "previous-token,inductoin" ] |> failsWith [ "no detector named 'inductoin'"; "induction" ]
    [ "scan"; "--patterns"; "."; "--detectors"; "induction" ] |> failsWith [ "no detector named 'induction'"; "bos" ]

[<Test>]
let ``generate refuses a prompt that fills the context and an encoder, and says when it stopped early`` () =
    let full = String.Join(",", Array.create 128 "1")
    [ "generate"; "--model"; "compiled-heads"; "--ids"; full ] |> failsWith [ "128 tokens"; "context holds 128"; "no room to generate" ]
    [ "generate"; "--model"; "negation"; "--ids"; "1,2" ] |> failsWith [ "is an encoder" ]
    let nearlyFull = String.Join(",", Array.create 126 "1")
    let code, stderr = cli [ "generate"; "--model"; "compiled-heads"; "--ids"; nearlyFull; "--steps"; "5" ]
    Assert.That(code, eq 0)
    stderr |> mentions [ "stopped after 2 of 5 tokens: the context of 128 tokens is full" ]

[<Test>]
let ``train writes to out unless told to replace the committed zoo`` () =
    Assert.That(TrainCommand.Folder("induction", null, false), eq (Path.Combine("out", "train", "induction")))
    Assert.That(TrainCommand.Folder("induction", "elsewhere", false), eq "elsewhere")
    Assert.That(TrainCommand.Folder("induction", null, true), Does.EndWith(Path.Combine("Zoo", "Checkpoints", "induction")))
    [ "train"; "induction"; "--into-zoo"; "--out"; "x" ] |> failsWith [ "either --out or --into-zoo" ]
    [ "train"; "induction"; "--into-zoo"; "--steps"; "10" ] |> failsWith [ "--into-zoo"; "full recipe" ]
    [ "train"; "nonsense" ] |> failsWith [ "No zoo model 'nonsense'"; "induction" ]

[<Test>]
let ``I/O errors, JSON type errors, overflow and bugs each end as one line`` () =
    let run (e: exn) verbose =
        let error = new StringWriter()
        let code = ErrorGuard.Run((fun () -> raise e), verbose, error)
        code, error.ToString()
    let code, text = run (IOException "No space left on device : '/full/out/scan/bos.csv'") false
    Assert.That((code, text.Trim()), eq (1, "error: No space left on device : '/full/out/scan/bos.csv'"))
    let code, text = run (UnauthorizedAccessException "Access to the path '/ro/x.csv' is denied.") false
    Assert.That((code, text.Trim()), eq (1, "error: Access to the path '/ro/x.csv' is denied."))
    let code, text = run (JsonException("The JSON value could not be converted to System.String.", "$.n_layer", Nullable 1L, Nullable 4L)) false
    Assert.That(code, eq 1)
    text |> mentions [ "malformed JSON at $.n_layer" ]
    let code, text = run (OverflowException "Arithmetic operation resulted in an overflow.") false
    Assert.That(code, eq 2, "an overflow that reaches the guard is our bug, said as such")
    text |> mentions [ "error: Arithmetic operation resulted in an overflow. (OverflowException)"; "--verbose" ]
    noStackTrace text
    let bug = try raise (NullReferenceException "oops") with e -> e
    let code, text = run bug true
    Assert.That(code, eq 2)
    text |> mentions [ "error: oops (NullReferenceException)"; "   at " ]

[<Test>]
let ``a file written atomically is either the old one or the whole new one`` () =
    use dir = new TempFolder()
    let path = dir.File "report.csv"
    AtomicFile.WriteAllText(path, "old\n")
    // A disk that fills up halfway through the write.
    let fullDisk (stream: Stream) =
        stream.Write("new, partly"B, 0, 11)
        raise (IOException "No space left on device")
    throws<IOException> (fun () -> AtomicFile.Write(path, Action<Stream> fullDisk)) |> ignore
    Assert.That(File.ReadAllText path, eq "old\n", "the old file is untouched")
    Assert.That(Directory.GetFiles dir.Path |> Array.map Path.GetFileName, eq [| "report.csv" |], "no temporary file is left behind")
    AtomicFile.WriteAllText(path, "new\n")
    Assert.That(File.ReadAllText path, eq "new\n")

[<Test>]
let ``a write that fails names the file asked for, never the temporary file beside it`` () =
    use dir = new TempFolder()
    let path = dir.File "run.safetensors"
    // A full disk: .NET's message names the stream's file, which is the temporary one.
    let fullDisk (stream: Stream) = raise (IOException(sprintf "No space left on device : '%s'" (stream :?> FileStream).Name))
    let error = throws<IOException> (fun () -> AtomicFile.Write(path, Action<Stream> fullDisk))
    error.Message |> mentions [ "cannot write " + path; "No space left on device : '" + path + "'" ]
    Assert.That(error.Message, Does.Not.Contain ".tmp", "no temporary name")

let private mkfifo (path: string) =
    use p = Diagnostics.Process.Start("mkfifo", path)
    p.WaitForExit()
    Assert.That(FileKinds.Of path, eq FileKind.Fifo)

[<Test>]
let ``an output path that is a device, a FIFO or a link to one is refused before any work and left as it is`` () =
    use dir = new TempFolder()
    let fifo = dir.File "pipe"
    mkfifo fifo
    // The model does not exist: --out is refused before anything is looked up. Before, a FIFO or device became a regular file.
    [ "cache"; "--model"; "no-such-model"; "--ids"; "1"; "--out"; fifo ] |> failsWith [ "--out: " + fifo; "FIFO (named pipe)"; "left as it is" ]
    Assert.That(FileKinds.Of fifo, eq FileKind.Fifo, "still a FIFO")
    [ "cache"; "--model"; "no-such-model"; "--ids"; "1"; "--out"; "/dev/null" ] |> failsWith [ "--out: /dev/null is a character device" ]
    Assert.That(FileKinds.Of "/dev/null", eq FileKind.CharacterDevice, "still a device")
    let toFifo = dir.File "to-pipe.safetensors"
    File.CreateSymbolicLink(toFifo, fifo) |> ignore
    [ "cache"; "--model"; "compiled-heads"; "--ids"; "1"; "--out"; toFifo ] |> failsWith [ toFifo; "links to " + fifo; "FIFO" ]
    Assert.That(FileKinds.Of toFifo, eq FileKind.SymbolicLink, "still a link")
    [ "review"; "--summary"; fifo ] |> failsWith [ "--summary: " + fifo; "FIFO" ]
    [ "scan"; "--out"; fifo ] |> failsWith [ "--out: " + fifo; "FIFO"; "not a folder" ]
    File.WriteAllText(dir.File "notes.txt", "mine")
    [ "scan"; "--out"; dir.File "notes.txt" ] |> failsWith [ "--out: " + dir.File "notes.txt"; "is a regular file, not a folder" ]
    [ "train"; "induction"; "--out"; dir.File "notes.txt" ] |> failsWith [ "--out"; "not a folder" ]
    // A FIFO as the model would make the command wait forever for a writer.
    [ "scan"; "--model"; fifo ] |> failsWith [ "--model: " + fifo; "FIFO"; "not read" ]
    // A link to a regular file is written through: the file is replaced, the link stays a link.
    let target = dir.File "target.safetensors"
    File.WriteAllText(target, "old")
    let toFile = dir.File "link.safetensors"
    File.CreateSymbolicLink(toFile, target) |> ignore
    let code, _ = cli [ "cache"; "--model"; "compiled-heads"; "--ids"; "1,2"; "--out"; toFile ]
    Assert.That(code, eq 0)
    Assert.That(FileKinds.Of toFile, eq FileKind.SymbolicLink, "still a link")
    Assert.That(Verification.Engine.Loading.SafeTensors.Open(target).Names, Does.Contain "blocks.0.attn.hook_pattern", "the link's target holds the run")

[<Test>]
let ``empty option values name the option, before any work`` () =
    [ "cache"; "--model"; "compiled-heads"; "--ids"; "1"; "--out"; "" ] |> failsWith [ "--out is empty" ]
    [ "generate"; "--model"; "compiled-heads"; "--text"; "" ] |> failsWith [ "--text is empty: give the text to encode" ]
    [ "generate"; "--model"; "compiled-heads"; "--ids"; " " ] |> failsWith [ "--ids is empty" ]
    [ "scan"; "--model"; "" ] |> failsWith [ "--model is empty" ]
    [ "scan"; "--detectors"; "" ] |> failsWith [ "--detectors is empty" ]
    [ "scan"; "--out"; "" ] |> failsWith [ "--out is empty" ]
    [ "train"; "induction"; "--out"; "" ] |> failsWith [ "--out is empty" ]
    [ "rules"; "--sae"; "" ] |> failsWith [ "--sae is empty" ]
    [ "report"; "--models"; "" ] |> failsWith [ "--models is empty" ]
    [ "review"; "--accept"; "" ] |> failsWith [ "--accept is empty" ]
    [ "review"; "--html"; "" ] |> failsWith [ "--html is empty" ]

[<Test>]
let ``train twice into one folder leaves only the second run's checkpoints`` () =
    use dir = new TempFolder()
    let folder = dir.File "induction"
    let checkpoints () = Directory.GetFiles folder |> Array.map Path.GetFileName |> Array.filter (fun f -> f.EndsWith ".safetensors") |> Array.sort
    let code, _ = cli [ "train"; "induction"; "--steps"; "210"; "--out"; folder ]
    Assert.That(code, eq 0)
    Assert.That(checkpoints (), eq [| "final.safetensors"; "step-0000.safetensors"; "step-0200.safetensors" |])
    File.WriteAllText(Path.Combine(folder, "my-notes.txt"), "mine")
    let code, _ = cli [ "train"; "induction"; "--steps"; "20"; "--out"; folder ]
    Assert.That(code, eq 0)
    // Before: step-0200 of the first run stayed beside the second run's checkpoints.
    Assert.That(checkpoints (), eq [| "final.safetensors"; "step-0000.safetensors" |])
    Assert.That(File.Exists(Path.Combine(folder, "my-notes.txt")), "a file the suite did not write is kept")
    Assert.That(Verification.Engine.Loading.SafeTensors.Open(Path.Combine(folder, "final.safetensors")).Metadata.["step"], eq "20", "the final checkpoint is the second run's")

[<Test>]
let ``two runs cannot write into one output folder at once`` () =
    use dir = new TempFolder()
    use first = OutputFolder.Open(dir.File "scan")
    let error = throws<IOException> (fun () -> OutputFolder.Open(dir.File "scan") |> ignore)
    error.Message |> mentions [ "another run is writing to"; "scan" ]
    first.Dispose()
    use again = OutputFolder.Open(dir.File "scan")
    Assert.That(again.Path, Does.EndWith "scan")

[<Test>]
let ``a scan removes the files of an earlier scan it did not rewrite and keeps files it never wrote`` () =
    use dir = new TempFolder()
    let folder = dir.File "out"
    let code, _ = cli [ "scan"; "--detectors"; "bos,duplicate-token"; "--out"; folder ]
    Assert.That(code, eq 0)
    File.WriteAllText(Path.Combine(folder, "my-notes.txt"), "mine")
    let code, _ = cli [ "scan"; "--detectors"; "bos"; "--out"; folder ]
    Assert.That(code, eq 0)
    let files = Directory.GetFiles folder |> Array.map Path.GetFileName |> Array.sort
    Assert.That(files, eq [| ".verification-manifest"; "bos.csv"; "bos.svg"; "my-notes.txt" |])
    Assert.That(File.ReadAllLines(Path.Combine(folder, ".verification-manifest")), eq [| "bos.csv"; "bos.svg" |])

[<Test>]
let ``scan with no model scans the real encoder minilm, and cache writes every hook of a sentence on it`` () =
    use dir = new TempFolder()
    let code, _ = cli [ "scan"; "--detectors"; "bos"; "--out"; dir.File "scan" ]
    Assert.That(code, eq 0)
    let bos = File.ReadAllLines(Path.Combine(dir.File "scan", "bos.csv"))
    Assert.That(bos.Length, eq (1 + 6 * 12), "one row per head of minilm's 6 layers × 12 heads")
    let code, _ = cli [ "cache"; "--model"; "minilm"; "--text"; "The movie was not good."; "--out"; dir.File "run.safetensors" ]
    Assert.That(code, eq 0)
    let run = Verification.Engine.Loading.SafeTensors.Open(dir.File "run.safetensors")
    for l in 0 .. 5 do
        Assert.That(run.Contains(Verification.Engine.Models.Hooks.Pattern l), Is.True, sprintf "layer %d's pattern" l)
    Assert.That(run.Read(Verification.Engine.Models.Hooks.Pattern 0).Shape, eq [| 1; 12; 8; 8 |], "[CLS] the movie was not good . [SEP]")

[<Test>]
let ``report checks its models, prompts and approved folder before any work`` () =
    [ "report"; "--models"; "minilm,no-such-model" ] |> failsWith [ "--models"; "no model 'no-such-model'"; "compiled-heads" ]
    [ "report"; "--prompts"; "0" ] |> failsWith [ "--prompts must be between 1 and 64 (got 0)" ]
    [ "report"; "--approved"; "/no/such/folder" ] |> failsWith [ "--approved"; "/no/such/folder" ]

/// The CLI as a child process whose standard output is a pipe, as in a log or `| tee`.
let private redirected (args: string list) =
    let dll = Path.Combine(AppContext.BaseDirectory, "verification.dll")
    let start = Diagnostics.ProcessStartInfo("dotnet", [ dll ] @ args, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false)
    use child = Diagnostics.Process.Start start
    let stderr = child.StandardError.ReadToEndAsync()
    let stdout = child.StandardOutput.ReadToEnd()
    child.WaitForExit()
    child.ExitCode, stdout, stderr.Result

[<Test>]
let ``report writes the site with no progress drawing when its output is redirected`` () =
    use dir = new TempFolder()
    let code, stdout, stderr = redirected [ "report"; "--models"; "compiled-heads"; "--prompts"; "1"; "--out"; dir.File "site" ]
    log stdout
    Assert.That(code, eq 0, stderr)
    Assert.That(File.Exists(Path.Combine(dir.File "site", "index.html")), Is.True)
    Assert.That(stdout, Does.Contain("report: " + Path.Combine(dir.File "site", "index.html")))
    // Spectre's bar, its cursor hiding and any escape sequence belong on a terminal only.
    for drawing in [ "━"; "\u001b[" ; "%" ] do
        Assert.That(stdout + stderr, Does.Not.Contain drawing, sprintf "no %A in redirected output" drawing)

[<Test>]
let ``review names a missing approved folder and refuses contradictory choices`` () =
    [ "review"; "--approved"; "/no/such/folder" ] |> failsWith [ "--approved"; "/no/such/folder" ]
    use dir = new TempFolder()
    [ "review"; "--approved"; dir.Path; "--accept-all"; "--accept"; "X.*" ] |> failsWith [ "--accept-all"; "--accept PATTERN" ]
    [ "review"; "--approved"; dir.Path; "--reject-all"; "--accept-all" ] |> failsWith [ "--reject-all" ]
