/// Loaders that let nothing wrong through: every malformed safetensors, config.json, llama2.c, npy and pattern_lens
/// file is a ModelFileException that names the file and the field, never another exception or a silent wrong number;
/// and a property-based check mutates valid files of every format many times to prove it.
module Verification.Specs.LoaderRobustness

open System
open System.IO
open System.Text
open System.Text.Json.Nodes
open NUnit.Framework
open FsCheck
open FsCheck.FSharp
open Verification.Engine.Models
open Verification.Analysis
open Verification.Engine.Loading
open Verification.Fixtures.Golden
open Verification.Fixtures.Real
open Verification.Specs.Support

/// Asserts that `load` fails with a ModelFileException whose message names every one of `words`.
let private rejects (words: string list) (load: unit -> obj) =
    let error = throws<ModelFileException> (fun () -> load () |> ignore)
    error.Message |> mentions words

/// A copy of a golden Hugging Face folder whose config.json has one key set to a raw JSON value (or removed when None).
let private withConfig (dir: TempFolder) (source: string) (key: string) (value: string option) =
    let folder = Path.Combine(dir.Path, source)
    Directory.CreateDirectory folder |> ignore
    for f in Directory.GetFiles(GoldenModels.Folder source) do File.Copy(f, Path.Combine(folder, Path.GetFileName f))
    let config = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "config.json"))).AsObject()
    match value with
    | Some v -> config.[key] <- JsonNode.Parse v
    | None -> config.Remove key |> ignore
    File.WriteAllText(Path.Combine(folder, "config.json"), config.ToJsonString())
    folder

let private loadFolder folder = fun () -> box (ModelLoader.Load folder)

// ---- config.json ------------------------------------------------------------------------------------------------

[<Test>]
let ``a config value of the wrong JSON type names the file and the key`` () =
    use dir = new TempFolder()
    loadFolder (withConfig dir "gpt2-tiny" "n_layer" (Some "\"2\"")) |> rejects [ "config.json"; "'n_layer'"; "must be an integer, not the string \"2\"" ]
    use dir2 = new TempFolder()
    loadFolder (withConfig dir2 "gpt2-tiny" "n_head" (Some "[2]")) |> rejects [ "config.json"; "'n_head'"; "an array" ]
    use dir3 = new TempFolder()
    loadFolder (withConfig dir3 "bert-tiny-random" "model_type" (Some "7")) |> rejects [ "config.json"; "'model_type'"; "must be a string" ]
    use dir4 = new TempFolder()
    loadFolder (withConfig dir4 "gpt2-tiny" "n_embd" (Some "2.5")) |> rejects [ "'n_embd'"; "must be an integer" ]

[<Test>]
let ``config sizes at or below zero, widths that heads do not divide and non-positive epsilons are rejected`` () =
    use dir = new TempFolder()
    loadFolder (withConfig dir "gpt2-tiny" "n_layer" (Some "0")) |> rejects [ "'n_layer'"; "must be a positive size, not 0" ]
    use dir2 = new TempFolder()
    loadFolder (withConfig dir2 "gpt2-tiny" "n_head" (Some "-4")) |> rejects [ "'n_head'"; "not -4" ]
    use dir3 = new TempFolder()
    loadFolder (withConfig dir3 "gpt2-tiny" "n_head" (Some "7")) |> rejects [ "config.json"; "not a multiple of n_head = 7" ]
    use dir4 = new TempFolder()
    loadFolder (withConfig dir4 "gpt2-tiny" "layer_norm_epsilon" (Some "0")) |> rejects [ "'layer_norm_epsilon'"; "must be a positive number" ]
    use dir5 = new TempFolder()
    loadFolder (withConfig dir5 "llama-gqa2-untied" "num_key_value_heads" (Some "3")) |> rejects [ "'num_key_value_heads'"; "not a multiple" ]
    use dir6 = new TempFolder()
    loadFolder (withConfig dir6 "bert-tiny-random" "vocab_size" (Some "99999999999")) |> rejects [ "'vocab_size'"; "must be a positive size" ]

[<Test>]
let ``a config that is not a JSON object, or not UTF-8, names the file`` () =
    use dir = new TempFolder()
    let folder = withConfig dir "gpt2-tiny" "n_layer" None
    File.WriteAllText(Path.Combine(folder, "config.json"), "[1, 2]")
    loadFolder folder |> rejects [ "config.json"; "must hold a JSON object" ]
    File.WriteAllBytes(Path.Combine(folder, "config.json"), [| byte '{'; byte '"'; 0xC3uy; 0x28uy; byte '"'; byte ':'; byte '1'; byte '}' |])
    loadFolder folder |> rejects [ "config.json"; "not valid UTF-8" ]

// ---- safetensors --------------------------------------------------------------------------------------------------

let private writeRaw (path: string) (header: string) (data: byte[]) =
    let h = Encoding.UTF8.GetBytes header
    File.WriteAllBytes(path, Array.concat [ BitConverter.GetBytes(uint64 h.Length); h; data ])

let private openRaw (dir: TempFolder) header (data: byte[]) =
    let path = dir.File "x.safetensors"
    writeRaw path header data
    fun () -> box (SafeTensors.Open path)

[<Test>]
let ``a shape whose element count overflows is rejected, not wrapped around`` () =
    use dir = new TempFolder()
    openRaw dir """{"w":{"dtype":"F32","shape":[2147483647,2147483647,2147483647],"data_offsets":[0,4]}}""" (Array.zeroCreate 4)
    |> rejects [ "x.safetensors"; "tensor 'w'"; "more elements than any file can hold" ]
    openRaw dir """{"w":{"dtype":"F32","shape":[4294967296],"data_offsets":[0,4]}}""" (Array.zeroCreate 4)
    |> rejects [ "tensor 'w'"; "shape and data_offsets must be arrays of integers" ]

[<Test>]
let ``two tensors of one name and zero-size tensors are rejected`` () =
    use dir = new TempFolder()
    openRaw dir """{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""" (Array.zeroCreate 8)
    |> rejects [ "tensor 'w'"; "appears twice" ]
    openRaw dir """{"w":{"dtype":"F32","shape":[0,4],"data_offsets":[0,0]}}""" [||] |> rejects [ "tensor 'w'"; "zero-size" ]

[<Test>]
let ``header fields of the wrong JSON type and invalid UTF-8 are named errors`` () =
    use dir = new TempFolder()
    openRaw dir """{"w":{"dtype":7,"shape":[1],"data_offsets":[0,4]}}""" (Array.zeroCreate 4) |> rejects [ "tensor 'w'"; "dtype must be a string" ]
    openRaw dir """{"w":{"dtype":"F32","shape":"1","data_offsets":[0,4]}}""" (Array.zeroCreate 4) |> rejects [ "tensor 'w'"; "arrays of integers" ]
    openRaw dir """{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""" (Array.zeroCreate 4) |> ignore
    let path = dir.File "bad-utf8.safetensors"
    let header = Array.concat [ Encoding.ASCII.GetBytes "{\""; [| 0xFFuy; 0xFEuy |]; Encoding.ASCII.GetBytes "\":{}}" ]
    File.WriteAllBytes(path, Array.concat [ BitConverter.GetBytes(uint64 header.Length); header ])
    (fun () -> box (SafeTensors.Open path)) |> rejects [ "bad-utf8.safetensors"; "not valid UTF-8" ]

[<Test>]
let ``an int64 value beyond 32 bits is a named error, not an overflow`` () =
    use dir = new TempFolder()
    let path = dir.File "ids.safetensors"
    writeRaw path """{"ids":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}""" (BitConverter.GetBytes(Int64.MaxValue))
    (fun () -> box ((SafeTensors.Open path).ReadInts "ids")) |> rejects [ "tensor 'ids'"; "does not fit a 32-bit integer" ]

// ---- llama2.c -----------------------------------------------------------------------------------------------------

let private llama2cWithHeader (dir: TempFolder) (field: int) (value: int) =
    let bytes = File.ReadAllBytes SharedData.Stories260K
    BitConverter.GetBytes(value).CopyTo(bytes, 4 * field)
    let path = dir.File "m.bin"
    File.WriteAllBytes(path, bytes)
    fun () -> box (Llama2c.Load path)

[<Test>]
let ``a llama2c header with absurd sizes is rejected without overflow`` () =
    use dir = new TempFolder()
    llama2cWithHeader dir 5 Int32.MinValue |> rejects [ "m.bin"; "not a llama2.c config" ]
    llama2cWithHeader dir 0 (1 <<< 30) |> rejects [ "m.bin"; "more weights than any file holds" ]
    llama2cWithHeader dir 1 Int32.MaxValue |> rejects [ "m.bin"; "floats of weights" ]
    llama2cWithHeader dir 2 Int32.MaxValue |> rejects [ "m.bin"; "floats of weights but the file holds 264128" ]
    llama2cWithHeader dir 3 0 |> rejects [ "m.bin"; "heads 0" ]

// ---- npy ----------------------------------------------------------------------------------------------------------

let private npyWithHeader (dict: string) =
    let header = dict + "\n"
    Array.concat [ [| 0x93uy |]; Encoding.ASCII.GetBytes "NUMPY"; [| 1uy; 0uy |]; BitConverter.GetBytes(uint16 header.Length); Encoding.Latin1.GetBytes header ]

[<Test>]
let ``npy shapes that overflow, are negative or disagree with the data are rejected`` () =
    (fun () -> box (Npy.Read(npyWithHeader "{'descr': '<f4', 'fortran_order': False, 'shape': (2147483647, 2147483647, 4), }", "a.npy")))
    |> rejects [ "a.npy"; "more elements" ]
    (fun () -> box (Npy.Read(npyWithHeader "{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 2), }", "b.npy")))
    |> rejects [ "b.npy"; "shape entry '-1'" ]
    (fun () -> box (Npy.Read(Array.append (npyWithHeader "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }") (Array.zeroCreate 8), "c.npy")))
    |> rejects [ "c.npy"; "needs 4 bytes but the data holds 8" ]
    let v2 = Array.concat [ [| 0x93uy |]; Encoding.ASCII.GetBytes "NUMPY"; [| 2uy; 0uy |]; BitConverter.GetBytes(UInt32.MaxValue); [| 0uy |] ]
    (fun () -> box (Npy.Read(v2, "d.npy"))) |> rejects [ "d.npy"; "runs past the end" ]

// ---- pattern_lens -------------------------------------------------------------------------------------------------

/// A pattern_lens folder of `prompts` prompts of two tokens over `layers` layers × 1 head, written by our writer.
let private patternFolder (dir: TempFolder) (layers: int) (prompts: int) =
    let causal = [| 1.0f; 0.0f; 0.0f; 0.5f; 0.5f; 0.0f; 0.2f; 0.3f; 0.5f |]
    let config = JsonObject()
    config.["n_layers"] <- JsonValue.Create layers
    config.["n_heads"] <- JsonValue.Create 1
    let prompts =
        [ for i in 0 .. prompts - 1 ->
            struct (sprintf "text %d" i, [| "a"; "b" |], AttentionPatterns([| PatternLens.BosToken; "a"; "b" |], null, Array.init layers (fun _ -> Array.copy causal), 1)) ]
    PatternLens.Write(dir.Path, "m", config, prompts)

let private readAll folder = fun () -> box (PatternLens.Read(folder).Prompts() |> Seq.toList)

let private firstNpz folder = Directory.GetFiles(Path.Combine(folder, "prompts"), "activations.npz", SearchOption.AllDirectories) |> Array.sort |> Array.head

[<Test>]
let ``a NaN or infinite attention weight is rejected, not silently scored`` () =
    use dir = new TempFolder()
    let folder = patternFolder dir 1 1
    let npz = firstNpz folder
    let pattern = [| 1.0f; 0.0f; 0.0f; nanf; 0.5f; 0.0f; 0.2f; 0.3f; 0.5f |]
    Npy.WriteArchive(npz, [ struct ("blocks.0.attn.hook_pattern", pattern, [| 1; 1; 3; 3 |]) ])
    readAll folder |> rejects [ "activations.npz"; "row 1, key 0 is NaN" ]
    pattern.[3] <- infinityf
    Npy.WriteArchive(npz, [ struct ("blocks.0.attn.hook_pattern", pattern, [| 1; 1; 3; 3 |]) ])
    readAll folder |> rejects [ "row 1, key 0 is Infinity" ]

[<Test>]
let ``pattern arrays beyond n_layers or missing ones are errors`` () =
    use dir = new TempFolder()
    let folder = patternFolder dir 2 1
    let config = Path.Combine(folder, "model_cfg.json")
    File.WriteAllText(config, File.ReadAllText(config).Replace("\"n_layers\":2", "\"n_layers\":1"))
    readAll folder |> rejects [ "activations.npz"; "'blocks.1.attn.hook_pattern' is beyond the config's 1 layers" ]
    File.WriteAllText(config, File.ReadAllText(config).Replace("\"n_layers\":1", "\"n_layers\":3"))
    readAll folder |> rejects [ "no array 'blocks.2.attn.hook_pattern'" ]

[<Test>]
let ``duplicate prompt hashes, zero prompts and zero layers are errors`` () =
    use dir = new TempFolder()
    let folder = patternFolder dir 1 2
    let index = Path.Combine(folder, "prompts.jsonl")
    let lines = File.ReadAllLines index
    File.WriteAllLines(index, [| lines.[0]; lines.[0] |])
    readAll folder |> rejects [ "prompts.jsonl"; "listed twice" ]
    File.WriteAllText(index, "")
    readAll folder |> rejects [ "prompts.jsonl"; "no prompts" ]
    File.WriteAllLines(index, lines)
    let config = Path.Combine(folder, "model_cfg.json")
    File.WriteAllText(config, File.ReadAllText(config).Replace("\"n_layers\":1", "\"n_layers\":0"))
    readAll folder |> rejects [ "model_cfg.json"; "'n_layers'"; "must be at least 1, not 0" ]
    File.WriteAllText(config, File.ReadAllText(config).Replace("\"n_layers\":0", "\"n_layers\":\"1\""))
    readAll folder |> rejects [ "'n_layers'"; "must be an integer" ]
    File.WriteAllText(config, File.ReadAllText(config).Replace("\"n_layers\":\"1\"", "\"n_layers\":1"))
    File.WriteAllLines(index, [| """{"hash": "../../etc"}""" |])
    readAll folder |> rejects [ "prompt hash '../../etc' is not a folder name" ]

// ---- the property: mutated files load or fail with the named exception, never anything else -----------------------

/// One change to a file's bytes.
type Mutation =
    | FlipBit of position: int * bit: int
    | Truncate of length: int
    | Insert of position: int * bytes: byte[]
    /// Replace the n-th run of digits in the first kilobyte (the header of every format here) with another literal.
    | EditNumber of run: int * replacement: string

let private replacements =
    [ "-1"; "0"; "1"; "65535"; "2147483647"; "2147483648"; "4294967296"; "9223372036854775807"; "99999999999999999999"; "1e309"
      "\"7\""; "[]"; "{}"; "null"; "true"; "NaN"; "-0.0" ]

let private mutationGen (length: int) =
    Gen.oneof
        [ Gen.map2 (fun p b -> FlipBit(p, b)) (Gen.choose (0, length - 1)) (Gen.choose (0, 7))
          Gen.map Truncate (Gen.choose (0, length - 1))
          Gen.map2 (fun p b -> Insert(p, b)) (Gen.choose (0, length)) (Gen.arrayOf (Gen.choose (0, 255) |> Gen.map byte) |> Gen.resize 8)
          Gen.map2 (fun r s -> EditNumber(r, s)) (Gen.choose (0, 40)) (Gen.elements replacements) ]

let private apply (bytes: byte[]) (mutation: Mutation) =
    match mutation with
    | FlipBit(p, b) ->
        let copy = Array.copy bytes
        copy.[p] <- copy.[p] ^^^ (1uy <<< b)
        copy
    | Truncate n -> bytes.[.. n - 1]
    | Insert(p, extra) -> Array.concat [ bytes.[.. p - 1]; extra; bytes.[p ..] ]
    | EditNumber(run, replacement) ->
        let head = Encoding.Latin1.GetString(bytes, 0, min 1024 bytes.Length)
        let runs = RegularExpressions.Regex.Matches(head, "[0-9]+") |> Seq.toArray
        if runs.Length = 0 then bytes
        else
            let m = runs.[run % runs.Length]
            Array.concat [ bytes.[.. m.Index - 1]; Encoding.Latin1.GetBytes replacement; bytes.[m.Index + m.Length ..] ]

/// Checks `tests` mutations of `original`: each written by `write`, then `load` either succeeds or throws ModelFileException.
let private everyMutationLoadsOrIsNamed (what: string) (tests: int) (original: byte[]) (write: byte[] -> unit) (load: unit -> unit) =
    let mutable outcomes = Map.empty
    let property =
        Prop.forAll (Arb.fromGen (mutationGen original.Length)) (fun mutation ->
            write (apply original mutation)
            let outcome =
                try
                    load ()
                    "loaded"
                with
                | :? ModelFileException -> "ModelFileException"
                | e -> failwithf "%s, %A: %s instead of a ModelFileException: %s" what mutation (e.GetType().Name) e.Message
            outcomes <- outcomes |> Map.change outcome (fun n -> Some(1 + defaultArg n 0)))
    // A fixed seed: the same mutations on every run and machine, so a failure here reproduces.
    let config = Config.QuickThrowOnFailure.WithMaxTest(tests).WithQuietOnSuccess(true).WithReplay(Some { Rnd = Rnd(20261201UL); Size = None })
    Check.One(config, property)
    log (sprintf "%s: %A" what outcomes)
    Assert.That(outcomes.ContainsKey "ModelFileException", Is.True, "some mutations must be rejected, or the check proves nothing")

[<Test>]
let ``mutated safetensors checkpoints and configs load or fail with a ModelFileException`` () =
    for name in [ "gpt2-tiny"; "bert-tiny-random"; "llama-gqa2-untied" ] do
        use dir = new TempFolder()
        let folder = withConfig dir name "unused_key" None
        for file in [ "model.safetensors"; "config.json" ] do
            let path = Path.Combine(folder, file)
            let original = File.ReadAllBytes path
            everyMutationLoadsOrIsNamed (sprintf "%s/%s" name file) 500 original (fun b -> File.WriteAllBytes(path, b))
                (fun () -> ModelLoader.Load folder |> ignore)
            File.WriteAllBytes(path, original)

[<Test>]
let ``mutated llama2c checkpoints load or fail with a ModelFileException`` () =
    use dir = new TempFolder()
    let path = dir.File "stories260K.bin"
    everyMutationLoadsOrIsNamed "stories260K.bin" 400 (File.ReadAllBytes SharedData.Stories260K) (fun b -> File.WriteAllBytes(path, b))
        (fun () -> Llama2c.Load path |> ignore)

[<Test>]
let ``mutated npy arrays and pattern_lens folders load or fail with a ModelFileException`` () =
    let npy = Npy.Write(Array.init 24 float32, [| 2; 3; 4 |])
    let mutable current = npy
    everyMutationLoadsOrIsNamed "npy" 1000 npy (fun b -> current <- b) (fun () -> Npy.Read(current, "x.npy") |> ignore)
    use dir = new TempFolder()
    let folder = patternFolder dir 2 2
    let files =
        [ Path.Combine(folder, "model_cfg.json"); Path.Combine(folder, "prompts.jsonl") ]
        @ (Directory.GetFiles(Path.Combine(folder, "prompts"), "*", SearchOption.AllDirectories) |> Array.sort |> List.ofArray)
    for file in files do
        let original = File.ReadAllBytes file
        everyMutationLoadsOrIsNamed (Path.GetRelativePath(folder, file)) 250 original (fun b -> File.WriteAllBytes(file, b))
            (fun () -> PatternLens.Read(folder).Prompts() |> Seq.iter ignore)
        File.WriteAllBytes(file, original)

// ---- non-finite weights, tokenizers of another model, special files ------------------------------------------------

/// A copy of a golden Hugging Face folder with one value of one tensor of model.safetensors replaced.
let private withWeight (dir: TempFolder) (source: string) (tensor: string) (index: int) (value: float32) =
    let folder = Path.Combine(dir.Path, source)
    Directory.CreateDirectory folder |> ignore
    for f in Directory.GetFiles(GoldenModels.Folder source) do File.Copy(f, Path.Combine(folder, Path.GetFileName f), true)
    let weights = SafeTensors.Open(Path.Combine(folder, "model.safetensors"))
    let tensors = Collections.Generic.Dictionary<string, Verification.Engine.Tensors.Tensor>()
    for name in weights.Names do tensors.[name] <- weights.Read name
    tensors.[tensor].Data.[index] <- value
    SafeTensors.Write(Path.Combine(folder, "model.safetensors"), tensors, weights.Metadata)
    folder

[<Test>]
let ``a NaN or infinite weight is an error at load that names the file and the tensor`` () =
    // Before the check, one NaN in one W_Q entry of the context checkpoint flipped five BOS flags and the scan exited 0.
    use dir = new TempFolder()
    loadFolder (withWeight dir "gpt2-tiny" "transformer.h.0.attn.c_attn.weight" 5 nanf)
    |> rejects [ "model.safetensors"; "'transformer.h.0.attn.c_attn.weight'"; "1 of its"; "is not finite"; "flat index 5, is NaN" ]
    use dir2 = new TempFolder()
    loadFolder (withWeight dir2 "llama-gqa2-untied" "model.norm.weight" 0 -infinityf) |> rejects [ "'model.norm.weight'"; "−∞" ]
    // A suite checkpoint, as the zoo's are saved.
    use dir3 = new TempFolder()
    let model = ParameterLayout.Create(AttentionOnlyConfig(VocabularySize = 20, ContextLength = 8, ModelWidth = 8, LayerCount = 1, HeadCount = 2), seed = 1)
    model.Parameter("blocks.0.attn.W_Q").Data.[3] <- infinityf
    let checkpoint = Path.Combine(dir3.Path, "final.safetensors")
    Checkpoint.Save(model, checkpoint)
    (fun () -> box (Checkpoint.Load checkpoint)) |> rejects [ "final.safetensors"; "'blocks.0.attn.W_Q'"; "+∞" ]

[<Test>]
let ``a tokenizer whose ids run past the model's vocabulary is refused at load, naming both files`` () =
    use dir = new TempFolder()
    let folder = Path.Combine(dir.Path, "gpt2-tiny")
    Directory.CreateDirectory folder |> ignore
    for f in Directory.GetFiles(GoldenModels.Folder "gpt2-tiny") do File.Copy(f, Path.Combine(folder, Path.GetFileName f))
    for f in [ "vocab.json"; "merges.txt" ] do File.Copy(Path.Combine(SharedData.Gpt2TokenizerFolder, f), Path.Combine(folder, f))
    let vocabulary = (ModelLoader.Load folder).Config.VocabularySize
    // Before: it loaded, and a text whose ids passed the vocabulary failed later with an id error naming neither file.
    (fun () -> box (Verification.Engine.Tokenizers.TokenizerLoader.TryLoad(folder, vocabulary)))
    |> rejects [ Path.Combine(folder, "vocab.json"); "ids run to 50256"; sprintf "the model beside it (%s) has a vocabulary of %d" folder vocabulary ]

[<Test>]
let ``a FIFO, a device or a link to one is never read as a model file`` () =
    use dir = new TempFolder()
    let fifo = Path.Combine(dir.Path, "model.safetensors")
    Diagnostics.Process.Start("mkfifo", fifo).WaitForExit()
    // Before: reading a FIFO waited forever for a writer.
    (fun () -> box (ModelLoader.Load fifo)) |> rejects [ fifo; "is a FIFO (named pipe), not a regular file" ]
    (fun () -> box (SafeTensors.Open fifo)) |> rejects [ fifo; "FIFO" ]
    let link = Path.Combine(dir.Path, "link.safetensors")
    File.CreateSymbolicLink(link, "/dev/null") |> ignore
    (fun () -> box (SafeTensors.Open link)) |> rejects [ link; "links to /dev/null, which is a character device" ]
