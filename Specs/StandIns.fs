/// Folders laid out exactly as real downloads are, built from zoo models, so a Published spec's code runs end to end in
/// CI on the night before its real weights arrive.
module Verification.Specs.StandIns

open System
open Verification.Engine.Models
open Verification.Engine.Loading
open Verification.Fixtures
open Verification.Fixtures.Real
open Verification.Fixtures.Zoo

/// A folder laid out as openai-community/gpt2 is (config.json with its keys, model.safetensors under its tensor names,
/// vocab.json and merges.txt), holding the zoo's context model: a 3-layer GPT-2 on GPT-2's vocabulary.
let gpt2StandIn (dir: string) =
    let model = (ModelCatalog.Load ContextModel.Name).Model :?> Verification.Engine.Models.Gpt2Model
    let c = model.Config
    let config = System.Text.Json.Nodes.JsonObject()
    let set (key: string) (value: System.Text.Json.Nodes.JsonNode) = config.[key] <- value
    set "activation_function" (System.Text.Json.Nodes.JsonValue.Create "gelu_new")
    set "architectures" (System.Text.Json.Nodes.JsonArray(System.Text.Json.Nodes.JsonValue.Create "GPT2LMHeadModel"))
    for (key, value) in [ "bos_token_id", 50256; "eos_token_id", 50256; "n_ctx", c.ContextLength; "n_embd", c.ModelWidth; "n_head", c.HeadCount
                          "n_layer", c.LayerCount; "n_positions", c.ContextLength; "vocab_size", c.VocabularySize ] do
        set key (System.Text.Json.Nodes.JsonValue.Create value)
    for (key, value) in [ "attn_pdrop", 0.1; "embd_pdrop", 0.1; "resid_pdrop", 0.1; "initializer_range", 0.02; "layer_norm_epsilon", 1e-5 ] do
        set key (System.Text.Json.Nodes.JsonValue.Create value)
    set "model_type" (System.Text.Json.Nodes.JsonValue.Create "gpt2")
    HuggingFace.SaveGpt2(model, dir, config)
    for file in [ "vocab.json"; "merges.txt" ] do
        IO.File.Copy(IO.Path.Combine(SharedData.Gpt2TokenizerFolder, file), IO.Path.Combine(dir, file))
    ModelCatalog.Load dir, model

/// An SAE saved as SAELens saves one: cfg.json (d_in, d_sae, activation, input centring) and sae_weights.safetensors.
let saveSaeLens (sae: SparseAutoencoder) (folder: string) =
    IO.Directory.CreateDirectory folder |> ignore
    let cfg =
        sprintf """{"d_in": %d, "d_sae": %d, "activation_fn_str": "relu", "apply_b_dec_to_input": %s, "hook_name": "blocks.0.attn.hook_z"}"""
            sae.Config.InputWidth sae.Config.Latents (if sae.Config.CentreInput then "true" else "false")
    IO.File.WriteAllText(IO.Path.Combine(folder, "cfg.json"), cfg)
    SafeTensors.Write(IO.Path.Combine(folder, "sae_weights.safetensors"),
                      readOnlyDict [ "W_enc", sae.Encoder; "b_enc", sae.EncoderBias; "W_dec", sae.Decoder; "b_dec", sae.DecoderBias ])

/// A WordPiece tokenizer.json (as small research models ship, rather than byte-level BPE) over the given tokens.
let writeWordPieceTokenizerJson (path: string) (tokens: string list) =
    let vocab = String.Join(", ", tokens |> List.mapi (fun i t -> sprintf "%s: %d" (Text.Json.JsonSerializer.Serialize t) i))
    IO.File.WriteAllText(path,
        sprintf """{"version": "1.0", "normalizer": {"type": "BertNormalizer", "lowercase": true}, "pre_tokenizer": {"type": "BertPreTokenizer"}, "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "vocab": {%s}}}""" vocab)

/// A folder laid out as the SPD export the Published spec asks for: a Hugging Face Llama folder whose MLP is plain
/// (up_proj/down_proj, no gate_proj) with a WordPiece tokenizer.json, from the golden llama-plain-mlp weights (97 tokens).
let spdStandIn (dir: string) =
    for file in [ "config.json"; "model.safetensors" ] do
        IO.File.Copy(IO.Path.Combine(Verification.Fixtures.Golden.GoldenModels.Folder "llama-plain-mlp", file), IO.Path.Combine(dir, file))
    let words =
        [ "the"; "and"; "to"; "of"; "was"; "is"; "it"; "he"; "she"; "they"; "in"; "on"; "went"; "store"; "gave"; "drink"; "when"
          "mary"; "john"; "alice"; "bob"; "cat"; "dog"; "sat"; "mat"; "day"; "one"; "two"; "three"; "four"; "five"; "six"; "seven" ]
    let characters = [ for c in 'a' .. 'z' -> string c ] @ [ for d in '0' .. '9' -> string d ] @ [ "."; ","; ";"; ":"; "!"; "?" ]
    let tokens = [ "[PAD]"; "[UNK]"; "[CLS]"; "[SEP]"; "[MASK]" ] @ words @ characters
    let tokens = tokens @ [ for i in 0 .. 96 - tokens.Length -> sprintf "##%c" (char (int 'a' + i % 26)) + (if i >= 26 then string (i / 26) else "") ]
    writeWordPieceTokenizerJson (IO.Path.Combine(dir, "tokenizer.json")) tokens
    ModelCatalog.Load dir
