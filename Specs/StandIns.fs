/// Folders laid out exactly as real downloads are, built from zoo models, so a Published spec's code runs end to end in
/// CI on the night before its real weights arrive.
module Verification.Specs.StandIns

open System
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
let saveSaeLens (sae: Verification.Engine.Analysis.SparseAutoencoder) (folder: string) =
    IO.Directory.CreateDirectory folder |> ignore
    let cfg =
        sprintf """{"d_in": %d, "d_sae": %d, "activation_fn_str": "relu", "apply_b_dec_to_input": %s, "hook_name": "blocks.0.attn.hook_z"}"""
            sae.Config.InputWidth sae.Config.Latents (if sae.Config.CentreInput then "true" else "false")
    IO.File.WriteAllText(IO.Path.Combine(folder, "cfg.json"), cfg)
    SafeTensors.Write(IO.Path.Combine(folder, "sae_weights.safetensors"),
                      readOnlyDict [ "W_enc", sae.Encoder; "b_enc", sae.EncoderBias; "W_dec", sae.Decoder; "b_dec", sae.DecoderBias ])
