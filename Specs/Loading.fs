/// Loading real formats: Hugging Face GPT-2, BERT and Llama checkpoints against PyTorch's outputs, llama2.c's
/// stories260K against llama2.c's own run.c, and malformed files rejected with the file and tensor named.
module Verification.Specs.Loading

open System
open System.IO
open System.Text
open NUnit.Framework
open Verification.Engine.Loading
open Verification.Engine.Models
open Verification.Engine.Tensors
open Verification.Fixtures.Golden
open Verification.Fixtures.Real
open Verification.Specs.Support

/// [batch][pos] ids from a PyTorch int64 tensor.
let rows (file: SafeTensors) name =
    let struct (values, shape) = file.ReadInts name
    Array.init shape.[0] (fun b -> values.[b * shape.[1] .. (b + 1) * shape.[1] - 1])

let modelNames = GoldenModels.Names

[<TestCaseSource(nameof modelNames)>]
let ``a Hugging Face checkpoint gives PyTorch's logits and attention patterns`` (name: string) =
    let model = ModelLoader.Load(GoldenModels.Folder name)
    let expected = GoldenModels.Expected name
    let tokens = rows expected "input_ids"
    let options =
        if expected.Contains "attention_mask" then
            RunOptions(Cache = [| "*" |],
                       AttentionMask = (rows expected "attention_mask" |> Array.map (Array.map (fun m -> m = 1))),
                       TokenTypes = rows expected "token_type_ids")
        else RunOptions.CacheAll
    let result = model.Run(tokens, options)
    log (model.Config.Describe())
    // Logits are O(1-10); float32 through two layers agrees with PyTorch to ~1e-5.
    assertClose (name + " logits") 1e-4 1e-4 (toDoubles (expected.Read "logits")) (toDoubles result.Logits)
    for l in 0 .. model.Config.LayerCount - 1 do
        assertClose (sprintf "%s pattern %d" name l) 1e-5 1e-4 (toDoubles (expected.Read(sprintf "pattern.%d" l))) (toDoubles result.Cache.[Hooks.Pattern l])

[<Test>]
let ``a pytorch_model bin from torch save holds the same tensors as the safetensors file, and a legacy pickle is named`` () =
    let pickle = PyTorchPickle.Open(Path.Combine(GoldenModels.Folder "bert-tiny-pickle", "pytorch_model.bin"))
    let safetensors = SafeTensors.Open(Path.Combine(GoldenModels.Folder "bert-tiny-random", "model.safetensors"))
    Assert.That(pickle.Names |> Seq.sort |> List.ofSeq, eq (safetensors.Names |> Seq.sort |> List.ofSeq))
    for name in safetensors.Names do
        let a, b = safetensors.Read name, pickle.Read name
        Assert.That(b.Shape, eq a.Shape, name)
        Assert.That(b.Data, eq a.Data, name + ": float32 values bit for bit")
    let e = throws<ModelFileException> (fun () -> PyTorchPickle.Open GoldenModels.LegacyPickle |> ignore)
    e.Message |> mentions [ "legacy_state_dict.bin"; "legacy (pre-1.6, non-zip) format" ]

[<Test>]
let ``llama2c stories260K decodes greedily to the token ids of llama2c's own run c`` () =
    let model = Llama2c.Load SharedData.Stories260K
    let reference = SharedData.Stories260KReferenceIds()
    Assert.That(reference, Has.Length.EqualTo 48, "the README lists 48 ids")
    let ours = model.Generate([| 1 |], 48)
    log (sprintf "ours:      %s" (String.Join(",", ours)))
    log (sprintf "llama2.c:  %s" (String.Join(",", reference)))
    Assert.That(ours, eq reference)

[<Test>]
let ``stories260K is read with the shape its README gives`` () =
    let model = Llama2c.Load SharedData.Stories260K
    let c = model.Config
    Assert.That((c.ModelWidth, c.MlpWidth, c.LayerCount, c.HeadCount, c.KeyValueHeadCount, c.VocabularySize, c.ContextLength),
                eq (64, 172, 5, 8, 4, 512, 512))
    Assert.That(c.TiedEmbeddings, Is.True, "a positive vocab_size means the classifier shares the embedding")
    Assert.That(model.Parameters.Values |> Seq.sumBy (fun t -> t.Size), eq (264128 - 512 * 4 * 2), "all floats but the old freq_cis tables")

[<Test>]
let ``Hugging Face's q and k permutation is handled: stories260K exported in HF layout gives the same logits`` () =
    let original = Llama2c.Load SharedData.Stories260K
    use dir = new TempFolder()
    HuggingFace.SaveLlama(original, dir.Path)
    let viaHf = ModelLoader.Load dir.Path :?> LlamaModel
    Assert.That(viaHf.Config.RotaryLayout, eq RotaryLayout.HalfSplit)
    let tokens = [| 1; 461; 401; 378; 455; 473; 456; 435; 299 |]
    let a = original.Run(tokens).Logits
    let b = viaHf.Run(tokens).Logits
    assertTensorClose "interleaved original vs half-split HF export" 1e-4 1e-4 a b
    // Without the permutation, HF's rotate_half on Meta-layout weights gives different logits: the check has teeth.
    let unpermuted = Llama2c.Load SharedData.Stories260K
    let c = unpermuted.Config
    let halfSplit =
        LlamaConfig(VocabularySize = c.VocabularySize, ContextLength = c.ContextLength, ModelWidth = c.ModelWidth, LayerCount = c.LayerCount,
                    HeadCount = c.HeadCount, KeyValueHeads = c.KeyValueHeads, MlpWidth = c.MlpWidth, TiedEmbeddings = c.TiedEmbeddings,
                    RotaryLayout = RotaryLayout.HalfSplit)
    let wrong = Checkpoint.Create(halfSplit, unpermuted.Parameters, "unpermuted")
    let (diff, _) = maxAbsDiff (toDoubles a) (toDoubles (wrong.Run(tokens).Logits))
    Assert.That(diff, Is.GreaterThan 0.1)

[<Test>]
let ``a suite checkpoint round-trips config and weights`` () =
    let model = ModelLoader.Load(GoldenModels.Folder "llama-gqa2-untied")
    use dir = new TempFolder()
    let path = dir.File "m.safetensors"
    Checkpoint.Save(model, path, readOnlyDict [ "note", "round trip" ])
    let loaded = ModelLoader.Load path
    Assert.That(loaded.Config, eq model.Config)
    let tokens = [| 3; 1; 4; 1; 5; 9; 2; 6 |]
    Assert.That(loaded.Run(tokens).Logits.Data, eq (model.Run(tokens).Logits.Data))
    Assert.That((SafeTensors.Open path).Metadata.["note"], eq "round trip")

// ---- safetensors ------------------------------------------------------------------------------------------------

/// A safetensors file with the given header JSON and data bytes.
let private writeRaw (path: string) (header: string) (data: byte[]) =
    let h = Encoding.UTF8.GetBytes header
    use f = File.Create path
    f.Write(BitConverter.GetBytes(uint64 h.Length), 0, 8)
    f.Write(h, 0, h.Length)
    f.Write(data, 0, data.Length)

[<Test>]
let ``safetensors F32 F16 and BF16 all read as float32`` () =
    use dir = new TempFolder()
    let values = [| 1.5f; -2.25f; 0.0f; 65280.0f |] // all exact in float16 and bfloat16
    let f32 = values |> Array.collect BitConverter.GetBytes
    let f16 = values |> Array.collect (fun v -> BitConverter.GetBytes(Half.op_Explicit v))
    let bf16 = values |> Array.collect (fun v -> BitConverter.GetBytes(uint16 (BitConverter.SingleToUInt32Bits v >>> 16)))
    let header =
        """{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"F16","shape":[4],"data_offsets":[16,24]},"c":{"dtype":"BF16","shape":[4],"data_offsets":[24,32]}}"""
    writeRaw (dir.File "x.safetensors") header (Array.concat [ f32; f16; bf16 ])
    let file = SafeTensors.Open(dir.File "x.safetensors")
    Assert.That(file.Read("a").Data, eq values)
    Assert.That(file.Read("b").Data, eq values)
    Assert.That(file.Read("c").Data, eq values)
    Assert.That(file.Read("a").Shape, eq [| 2; 2 |])

[<Test>]
let ``safetensors written by the engine read back exactly`` () =
    use dir = new TempFolder()
    let t = randn 3 [ 2; 3; 4 ]
    SafeTensors.Write(dir.File "w.safetensors", readOnlyDict [ "blocks.0.attn.W_Q", t ], readOnlyDict [ "k", "v" ])
    let file = SafeTensors.Open(dir.File "w.safetensors")
    Assert.That(file.Read("blocks.0.attn.W_Q").Data, eq t.Data)
    Assert.That(file.Metadata.["k"], eq "v")

let private rejects (setup: string -> unit) (words: string list) =
    use dir = new TempFolder()
    let path = dir.File "bad.safetensors"
    setup path
    let error = throws<ModelFileException> (fun () -> SafeTensors.Open(path).Read("w") |> ignore)
    error.Message |> mentions ("bad.safetensors" :: words)

[<Test>]
let ``a truncated safetensors file is rejected naming the file and the tensor`` () =
    rejects (fun p -> writeRaw p """{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""" (Array.zeroCreate 8)) [ "'w'"; "truncated" ]

[<Test>]
let ``a header whose offsets lie outside the data is rejected`` () =
    rejects (fun p -> writeRaw p """{"w":{"dtype":"F32","shape":[2],"data_offsets":[16,8]}}""" (Array.zeroCreate 16)) [ "'w'"; "[16, 8]" ]

[<Test>]
let ``a header whose offsets disagree with the shape is rejected`` () =
    rejects (fun p -> writeRaw p """{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}""" (Array.zeroCreate 16)) [ "'w'"; "[3]"; "12 bytes"; "16" ]

[<Test>]
let ``an unknown dtype is rejected`` () =
    rejects (fun p -> writeRaw p """{"w":{"dtype":"F8_E9","shape":[4],"data_offsets":[0,4]}}""" (Array.zeroCreate 4)) [ "'w'"; "F8_E9" ]

[<Test>]
let ``a header length larger than the file is rejected`` () =
    rejects (fun p -> File.WriteAllBytes(p, Array.append (BitConverter.GetBytes 1000UL) (Encoding.UTF8.GetBytes "{}"))) [ "header length 1000" ]

[<Test>]
let ``a header that is not JSON is rejected`` () =
    rejects (fun p -> writeRaw p "{not json" [||]) [ "not valid JSON" ]

[<Test>]
let ``a missing weights file names the path`` () =
    let error = throws<ModelFileException> (fun () -> SafeTensors.Open "/nonexistent/model.safetensors" |> ignore)
    error.Message |> mentions [ "/nonexistent/model.safetensors"; "not found" ]

[<Test>]
let ``a config that disagrees with the tensor shapes is rejected naming the tensor and both shapes`` () =
    use dir = new TempFolder()
    let source = GoldenModels.Folder "gpt2-tiny"
    File.Copy(Path.Combine(source, "model.safetensors"), dir.File "model.safetensors")
    File.WriteAllText(dir.File "config.json", File.ReadAllText(Path.Combine(source, "config.json")).Replace("\"n_positions\": 32", "\"n_positions\": 64"))
    let error = throws<ModelFileException> (fun () -> ModelLoader.Load dir.Path |> ignore)
    error.Message |> mentions [ "pos_embed.W_pos"; "[32, 45]"; "[64, 45]" ]

[<Test>]
let ``a checkpoint with tensors the loader does not know is rejected instead of half loaded`` () =
    use dir = new TempFolder()
    let source = GoldenModels.Folder "llama-mha-tied"
    File.Copy(Path.Combine(source, "config.json"), dir.File "config.json")
    let file = SafeTensors.Open(Path.Combine(source, "model.safetensors"))
    let tensors = file.Tensors.Keys |> Seq.map (fun k -> Collections.Generic.KeyValuePair(k, file.Read k)) |> Seq.toList
    SafeTensors.Write(dir.File "model.safetensors", tensors @ [ Collections.Generic.KeyValuePair("model.layers.7.mystery.weight", randn 1 [ 2 ]) ])
    let error = throws<ModelFileException> (fun () -> ModelLoader.Load dir.Path |> ignore)
    error.Message |> mentions [ "model.layers.7.mystery.weight" ]

[<Test>]
let ``a llama2c file whose header disagrees with its size is rejected`` () =
    use dir = new TempFolder()
    let bytes = File.ReadAllBytes SharedData.Stories260K
    File.WriteAllBytes(dir.File "cut.bin", bytes.[.. bytes.Length - 101])
    let error = throws<ModelFileException> (fun () -> Llama2c.Load(dir.File "cut.bin") |> ignore)
    error.Message |> mentions [ "cut.bin"; "264128 floats"; "truncated" ]
    File.WriteAllBytes(dir.File "short.bin", bytes.[.. 10])
    (throws<ModelFileException> (fun () -> Llama2c.Load(dir.File "short.bin") |> ignore)).Message |> mentions [ "28-byte" ]

[<Test>]
let ``a token id out of the model's range is a clear error`` () =
    let model = Llama2c.Load SharedData.Stories260K
    let error = throws<ArgumentOutOfRangeException> (fun () -> model.Run([| 1; 512 |]) |> ignore)
    error.Message |> mentions [ "Token id 512"; "position 1"; "vocabulary of 512" ]
    let ragged = throws<ArgumentException> (fun () -> model.Run([| [| 1; 2 |]; [| 1 |] |]) |> ignore)
    ragged.Message |> mentions [ "Batch item 1"; "pad" ]

[<Test>]
let ``a model that is not on this machine is reported with where the locator looked and what to download`` () =
    let locator = ModelLocator(null, [ "/nonexistent/shared/models" ])
    let error = throws<ModelNotFoundException> (fun () -> locator.Find "gpt2" |> ignore)
    error.Message |> mentions [ "'gpt2'"; "models--openai-community--gpt2"; "/nonexistent/shared/models/gpt2"; "huggingface-cli download openai-community/gpt2" ]

[<Test>]
let ``the locator finds stories260K in the shared models folder`` () =
    let found = SharedData.Locator.Find "llama2c-stories260K"
    Assert.That(Path.GetFullPath found, eq (Path.GetFullPath SharedData.Stories260KFolder))
    Assert.That((ModelLoader.Load found).Config.Family, eq ModelFamily.Llama)
