/// The real BERT encoders that arrive with `dotnet restore` (minilm, arctic-xs), read from their packages' ONNX graphs,
/// agree with ONNX Runtime running the original graph: the last hidden state within 1e-4 and every layer's attention
/// probabilities within 1e-5, one sentence at a time and in padded batches with an attention mask.
module Verification.Specs.RealEncoders

open System
open System.IO
open Google.Protobuf
open Microsoft.ML.OnnxRuntime
open Microsoft.ML.OnnxRuntime.Tensors
open NUnit.Framework
open Verification.Engine.Loading
open Verification.Engine.Models
open Verification.Engine.Tensors
open Verification.Engine.Tokenizers
open Verification.Fixtures.Prompts
open Verification.Fixtures.Real
open Verification.Specs.Support

let encoders = RealEncoder.names
let private encoder = RealEncoder.named

/// The original graph with its Softmax outputs (the attention probabilities, one per layer) added as graph outputs.
let private referenceSession (name: string) =
    let model = Onnx.ModelProto.Parser.ParseFrom(NuGetEncoders.Resource(encoder name, "model.onnx"))
    let softmax = model.Graph.Node |> Seq.filter (fun n -> n.OpType = "Softmax") |> Seq.map (fun n -> n.Output.[0]) |> Seq.toList
    for output in softmax do
        let info = Onnx.ValueInfoProto(Name = output)
        info.Type <- Onnx.TypeProto(TensorType = Onnx.TypeProto.Types.Tensor(ElemType = int Onnx.TensorProto.Types.DataType.Float))
        model.Graph.Output.Add info
    new InferenceSession(model.ToByteArray()), softmax

let private sessions = Collections.Concurrent.ConcurrentDictionary<string, Lazy<InferenceSession * string list>>()
let private session name = sessions.GetOrAdd(name, fun n -> lazy (referenceSession n)).Force()

/// 32 sentences of the corpus, every seventh: short and long, with numbers, names, questions and negations.
let private sentences = [ for i in 0 .. 31 -> Sentences.All.[(i * 7) % Sentences.All.Count] ]

/// ONNX Runtime on a padded batch: last_hidden_state [batch, pos, width] and each layer's probabilities [batch, head, q, k].
let reference name (tokens: int[][]) (mask: bool[][]) =
    let session, softmax = session name
    let batch, pos = tokens.Length, tokens.[0].Length
    let tensor (f: int -> int -> int64) =
        DenseTensor<int64>(Array.init (batch * pos) (fun i -> f (i / pos) (i % pos)), [| batch; pos |])
    let inputs =
        [ NamedOnnxValue.CreateFromTensor("input_ids", tensor (fun b p -> int64 tokens.[b].[p]))
          NamedOnnxValue.CreateFromTensor("attention_mask", tensor (fun b p -> if mask.[b].[p] then 1L else 0L))
          NamedOnnxValue.CreateFromTensor("token_type_ids", tensor (fun _ _ -> 0L)) ]
    use results = session.Run(inputs, [ "last_hidden_state" ] @ softmax)
    let values = results |> Seq.map (fun r -> r.Name, r.AsEnumerable<float32>() |> Seq.toArray) |> Map.ofSeq
    values.["last_hidden_state"], softmax |> List.map (fun s -> values.[s])

/// Our run on the same batch: the final hidden states and every layer's hook_pattern.
let private ours name (tokens: int[][]) (mask: bool[][]) =
    let struct (model, _) = NuGetEncoders.Load(encoder name)
    let hooks = [| for l in 0 .. model.Config.LayerCount - 1 -> Hooks.Pattern l |]
    let run = model.Run(tokens, RunOptions(Cache = hooks, AttentionMask = mask))
    run.Logits.Data, [ for h in hooks -> run.Cache.[h].Data ]

/// Sentences padded with [PAD] to the longest, with the mask that marks real tokens.
let private padded (tokenizer: WordPieceTokenizer) (texts: string list) =
    let encoded = texts |> List.map tokenizer.Encode
    let length = encoded |> List.map Array.length |> List.max
    [| for t in encoded -> Array.append t (Array.create (length - t.Length) tokenizer.Padding) |],
    [| for t in encoded -> Array.init length (fun p -> p < t.Length) |]

/// Compares only what a padded batch defines: hidden states of real tokens, attention rows of real queries.
let private compare name (tokens: int[][]) (mask: bool[][]) =
    let refHidden, refPatterns = reference name tokens mask
    let hidden, patterns = ours name tokens mask
    let struct (model, _) = NuGetEncoders.Load(encoder name)
    let width, heads, pos = model.Config.ModelWidth, model.Config.HeadCount, tokens.[0].Length
    let real b p = mask.[b].[p]
    let pick (data: float32[]) = [| for b in 0 .. tokens.Length - 1 do for p in 0 .. pos - 1 do if real b p then for i in 0 .. width - 1 -> float data.[(b * pos + p) * width + i] |]
    assertClose (sprintf "%s last_hidden_state" name) 1e-4 0.0 (pick refHidden) (pick hidden)
    List.iteri2 (fun l (expected: float32[]) (actual: float32[]) ->
        let rows (data: float32[]) =
            [| for b in 0 .. tokens.Length - 1 do
                 for h in 0 .. heads - 1 do
                     for q in 0 .. pos - 1 do
                         if real b q then for k in 0 .. pos - 1 -> float data.[((b * heads + h) * pos + q) * pos + k] |]
        assertClose (sprintf "%s layer %d attention" name l) 1e-5 0.0 (rows expected) (rows actual)) refPatterns patterns

[<TestCaseSource(nameof encoders)>]
let ``each real encoder matches ONNX Runtime on 32 sentences one at a time`` (name: string) =
    let struct (_, tokenizer) = NuGetEncoders.Load(encoder name)
    for sentence in sentences do
        let tokens, mask = padded tokenizer [ sentence ]
        compare name tokens mask

[<TestCaseSource(nameof encoders)>]
let ``each real encoder matches ONNX Runtime on the same sentences in padded batches with an attention mask`` (name: string) =
    let struct (_, tokenizer) = NuGetEncoders.Load(encoder name)
    for batch in List.chunkBySize 8 sentences do
        let tokens, mask = padded tokenizer batch
        Assert.That(mask |> Array.exists (Array.exists not), Is.True, "the batch has padding")
        compare name tokens mask

[<TestCaseSource(nameof encoders)>]
let ``each real encoder has BERT's shape: 6 layers of 12 heads, width 384, erf GELU, epsilon 1e-12`` (name: string) =
    let struct (model, tokenizer) = NuGetEncoders.Load(encoder name)
    let c = model.Config
    Assert.That((c.LayerCount, c.HeadCount, c.ModelWidth, c.HeadWidth, c.MlpWidth, c.VocabularySize, c.ContextLength),
                eq (6, 12, 384, 32, 1536, 30522, 512))
    Assert.That(c.LayerNormEpsilon, eq 1e-12f)
    Assert.That(c.Activation, eq GeluForm.Erf)
    Assert.That(c.LanguageModelHead, Is.False)
    Assert.That(tokenizer.Encode "The cat didn't sit.", eq [| 101; 1996; 4937; 2134; 1005; 1056; 4133; 1012; 102 |])

[<Test>]
let ``an ONNX graph without a BERT encoder's layout is an error that lists what is missing`` () =
    let model = Onnx.ModelProto.Parser.ParseFrom(NuGetEncoders.Resource(NuGetEncoders.MiniLM, "model.onnx"))
    // Remove layer 0's key bias and every Erf node: the weight mapping and the activation check must both say so.
    let bias = model.Graph.Initializer |> Seq.find (fun t -> t.Name = "encoder.layer.0.intermediate.dense.bias")
    model.Graph.Initializer.Remove bias |> ignore
    for node in model.Graph.Node |> Seq.filter (fun n -> n.OpType = "Erf") |> Seq.toList do model.Graph.Node.Remove node |> ignore
    use stream = new MemoryStream(model.ToByteArray())
    let error = throws<ModelFileException> (fun () -> OnnxBert.Load(stream, "broken.onnx") |> ignore)
    error.Message |> mentions [ "broken.onnx"; "encoder.layer.0.intermediate.dense.bias"; "erf GELU"; "missing" ]
    use garbage = new MemoryStream([| 1uy; 2uy; 3uy; 255uy |])
    (throws<ModelFileException> (fun () -> OnnxBert.Load(garbage, "garbage.onnx") |> ignore)).Message |> mentions [ "garbage.onnx"; "not an ONNX model" ]
