/// Hook points and interventions: TransformerLens's names in order for every family, patterns exactly as the
/// softmax made them, and interventions that are data, do what they say, and leave nothing behind.
module Verification.Specs.Hooks

open System
open NUnit.Framework
open Verification.Engine.Loading
open Verification.Engine.Models
open Verification.Engine.Tensors
open Verification.Reports
open Verification.Specs.Snapshots
open Verification.Fixtures.Golden
open Verification.Specs.Support

let private gpt2 = lazy (ModelLoader.Load(GoldenModels.Folder "gpt2-tiny"))
let private bert = lazy (ModelLoader.Load(GoldenModels.Folder "bert-tiny-random") :?> BertModel)
let private llama = lazy (ModelLoader.Load(GoldenModels.Folder "llama-gqa2-untied"))

let private attentionOnly =
    lazy
        (ParameterLayout.Create(
            AttentionOnlyConfig(VocabularySize = 50, ContextLength = 16, ModelWidth = 24, LayerCount = 2, HeadCount = 3, UseLayerNorm = true),
            seed = 7, std = 0.3f))

let tokens = [| [| 5; 17; 3; 42; 8; 17; 3; 9 |]; [| 1; 2; 3; 4; 5; 6; 7; 8 |] |]

let families = [| "gpt2"; "bert"; "llama"; "attention-only" |]

let model name : Transformer =
    match name with
    | "gpt2" -> gpt2.Force()
    | "bert" -> bert.Force()
    | "llama" -> llama.Force()
    | _ -> attentionOnly.Force()

[<TestCaseSource(nameof families)>]
let ``the ordered hook names of each family are TransformerLens's`` (family: string) =
    let m = model family
    Approve.Text(String.Join("\n", m.HookNames))
    // Caching everything returns exactly those names (hook_result only when asked).
    let cached = m.Run(tokens, RunOptions(Cache = [| "*" |], ComputeResult = true)).Cache.Keys |> Set.ofSeq
    Assert.That(Set.toArray cached, eq (Set.toArray (Set.ofSeq m.HookNames)), "the cache holds every hook and the logits")

[<TestCaseSource(nameof families)>]
let ``activations keep the batch dimension and have TransformerLens's shapes`` (family: string) =
    let m = model family
    let c = m.Config
    let cache = m.Run(tokens, RunOptions(Cache = [| "*" |], ComputeResult = true)).Cache
    let (b, p) = (2, 8)
    Assert.That(cache.[Hooks.ResidPre 0].Shape, eq [| b; p; c.ModelWidth |])
    Assert.That(cache.[Hooks.Q 1].Shape, eq [| b; p; c.HeadCount; c.HeadWidth |])
    Assert.That(cache.[Hooks.K 1].Shape, eq [| b; p; c.KeyValueHeadCount; c.HeadWidth |])
    Assert.That(cache.[Hooks.Pattern 1].Shape, eq [| b; c.HeadCount; p; p |])
    Assert.That(cache.[Hooks.Z 0].Shape, eq [| b; p; c.HeadCount; c.HeadWidth |])
    Assert.That(cache.[Hooks.Result 0].Shape, eq [| b; p; c.HeadCount; c.ModelWidth |])

[<TestCaseSource(nameof families)>]
let ``attention patterns are distributions with masked entries exactly zero`` (family: string) =
    let m = model family
    let pattern = m.Run(tokens, RunOptions.Caching(Hooks.Pattern 0)).Cache.[Hooks.Pattern 0]
    let heads = m.Config.HeadCount
    for b in 0 .. 1 do
        for h in 0 .. heads - 1 do
            for q in 0 .. 7 do
                let row = [| for k in 0 .. 7 -> pattern.[b, h, q, k] |]
                Assert.That(Array.sumBy float row, Is.EqualTo(1.0).Within(1e-5))
                if m.Config.Causal then
                    for k in q + 1 .. 7 do
                        Assert.That(row.[k], eq 0.0f, sprintf "b%d h%d q%d k%d" b h q k)

[<TestCaseSource(nameof families)>]
let ``per-head results sum to the attention output`` (family: string) =
    let m = model family
    let cache = m.Run(tokens, RunOptions.Caching(Hooks.Result 1, Hooks.AttnOut 1)).Cache
    let result = cache.[Hooks.Result 1]
    let bias = m.Parameters.TryGetValue "blocks.1.attn.b_O" |> function | true, t -> Some t | _ -> None
    // result [batch, pos, head, dModel] summed over heads, plus b_O, computed here by its definition.
    let batch, pos, heads, width = result.Shape.[0], result.Shape.[1], result.Shape.[2], result.Shape.[3]
    let expected =
        Tensor.FromArray(
            [| for b in 0 .. batch - 1 do
                   for p in 0 .. pos - 1 do
                       for i in 0 .. width - 1 ->
                           (Seq.sum (seq { for h in 0 .. heads - 1 -> result.[b, p, h, i] })) + (match bias with Some t -> t.Data.[i] | None -> 0.0f) |],
            batch, pos, width)
    assertTensorClose "Σ heads + b_O vs hook_attn_out" 1e-5 1e-5 cache.[Hooks.AttnOut 1] expected

[<TestCaseSource(nameof families)>]
let ``an intervention that writes back the same tensor changes nothing`` (family: string) =
    let m = model family
    // Layer 1's pattern is intervened on, so that layer takes the explicit softmax path (not the fused kernel): the clean
    // run caches it to take the same path, and the two must then agree bit for bit.
    let clean = m.Run(tokens, RunOptions.Caching(Hooks.Pattern 1)).Logits
    let hooks = [ Hooks.ResidPre 1; Hooks.Q 0; Hooks.Pattern 1; Hooks.Z 1; Hooks.AttnOut 0 ]
    let identity = hooks |> List.map (fun h -> Intervention.Custom(h, fun t -> t))
    Assert.That(m.Run(tokens, RunOptions(Interventions = identity)).Logits.Data, eq clean.Data)
    let scaleByOne = hooks |> List.map (fun h -> Intervention.Scale(h, 1.0f))
    Assert.That(m.Run(tokens, RunOptions(Interventions = scaleByOne)).Logits.Data, eq clean.Data)

[<Test>]
let ``zeroing a head's z removes exactly that head's term from the attention output`` () =
    let m = gpt2.Force()
    let clean = m.Run(tokens, RunOptions.Caching(Hooks.Result 0, Hooks.AttnOut 0)).Cache
    let ablated =
        m.Run(tokens, RunOptions(Cache = [| Hooks.AttnOut 0 |], Interventions = [ Intervention.Zero(Hooks.Z 0, heads = [| 2 |]) ])).Cache
    let result = clean.[Hooks.Result 0]
    let (b, p, h, d) = (result.Shape.[0], result.Shape.[1], result.Shape.[2], result.Shape.[3])
    let expected =
        Array.init (b * p * d) (fun i ->
            let (row, j) = (i / d, i % d)
            float clean.[Hooks.AttnOut 0].Data.[i] - float result.Data.[(row * h + 2) * d + j])
    assertClose "attn_out without head 2" 1e-5 1e-5 expected (toDoubles ablated.[Hooks.AttnOut 0])

[<TestCaseSource(nameof families)>]
let ``a batched run equals running each sequence alone`` (family: string) =
    let m = model family
    let batched = m.Run(tokens, RunOptions.Caching(Hooks.Pattern 1)).Cache
    for b in 0 .. 1 do
        let alone = m.Run([| tokens.[b] |], RunOptions.Caching(Hooks.Pattern 1)).Cache
        let size = alone.[Hooks.Pattern 1].Size
        assertClose (sprintf "pattern of item %d" b) 1e-6 1e-5 (toDoubles alone.[Hooks.Pattern 1]) (batched.[Hooks.Pattern 1].Data.[b * size .. (b + 1) * size - 1] |> Array.map float)

[<Test>]
let ``padding under BERT's attention mask does not change the unpadded positions`` () =
    let m = bert.Force()
    let short = [| [| 5; 17; 3; 42; 8 |] |]
    let padded = [| [| 5; 17; 3; 42; 8; 0; 0; 0 |] |]
    let mask = [| [| true; true; true; true; true; false; false; false |] |]
    let a = m.Run(short).Logits
    let b = m.Run(padded, RunOptions(AttentionMask = mask)).Logits
    let vocab = m.Config.VocabularySize
    assertClose "logits at unpadded positions" 1e-5 1e-5 (toDoubles a) (b.Data.[.. 5 * vocab - 1] |> Array.map float)
    let pattern = m.Run(padded, RunOptions(AttentionMask = mask, Cache = [| Hooks.Pattern 0 |])).Cache.[Hooks.Pattern 0]
    for q in 0 .. 7 do
        for k in 5 .. 7 do
            Assert.That(pattern.[0, 0, q, k], eq 0.0f)

[<Test>]
let ``nothing stays registered after a run with interventions`` () =
    let m = llama.Force()
    let clean = m.Run(tokens).Logits
    let ablated = m.Run(tokens, RunOptions(Interventions = [ Intervention.Zero(Hooks.AttnOut 0) ])).Logits
    Assert.That(ablated.Data, Is.Not.EqualTo(clean.Data))
    Assert.That(m.Run(tokens).Logits.Data, eq clean.Data)

[<Test>]
let ``patching every hook_resid_pre from another run reproduces that run`` () =
    let m = gpt2.Force()
    let other = [| [| 9; 9; 1; 2; 30; 31; 32; 33 |]; [| 8; 7; 6; 5; 4; 3; 2; 1 |] |]
    let source = m.Run(other, RunOptions.Caching(Hooks.ResidPre 0)).Cache.[Hooks.ResidPre 0]
    let patched = m.Run(tokens, RunOptions(Interventions = [ Intervention.Replace(Hooks.ResidPre 0, source) ])).Logits
    Assert.That(patched.Data, eq (m.Run(other).Logits.Data))

[<Test>]
let ``patching one head at one position changes only later positions`` () =
    let m = gpt2.Force()
    let other = [| [| 9; 9; 1; 2; 30; 31; 32; 33 |]; [| 8; 7; 6; 5; 4; 3; 2; 1 |] |]
    let source = m.Run(other, RunOptions.Caching(Hooks.V 0)).Cache.[Hooks.V 0]
    let clean = m.Run(tokens).Logits
    let patched = m.Run(tokens, RunOptions(Interventions = [ Intervention.Replace(Hooks.V 0, source, heads = [| 1 |], positions = [| 4 |]) ])).Logits
    let vocab = m.Config.VocabularySize
    for b in 0 .. 1 do
        for p in 0 .. 7 do
            let slice (t: Tensor) = t.Data.[(b * 8 + p) * vocab .. (b * 8 + p + 1) * vocab - 1]
            if p < 4 then Assert.That(slice patched, eq (slice clean), sprintf "position %d is before the patch" p)
            else Assert.That(slice patched, Is.Not.EqualTo(slice clean), sprintf "position %d sees the patch" p)

[<Test>]
let ``mean ablation replaces a head's values with their mean over batch and positions`` () =
    let m = attentionOnly.Force()
    let cache = m.Run(tokens, RunOptions.Caching(Hooks.Z 0)).Cache
    let after = m.Run(tokens, RunOptions(Cache = [| Hooks.Z 0 |], Interventions = [ Intervention.Mean(Hooks.Z 0, heads = [| 1 |]) ])).Cache
    let z = cache.[Hooks.Z 0]
    let dHead = z.Shape.[3]
    for i in 0 .. dHead - 1 do
        let mean = [ for b in 0 .. 1 do for p in 0 .. 7 -> float z.[b, p, 1, i] ] |> List.average
        for b in 0 .. 1 do
            for p in 0 .. 7 do
                Assert.That(float after.[Hooks.Z 0].[b, p, 1, i], Is.EqualTo(mean).Within(1e-6))
                Assert.That(after.[Hooks.Z 0].[b, p, 0, i], eq z.[b, p, 0, i], "other heads untouched")

[<Test>]
let ``zeroing the values of chosen heads at chosen positions touches only those entries`` () =
    let m = llama.Force()
    let run interventions = m.Run(tokens, RunOptions(Cache = [| Hooks.V 1 |], Interventions = interventions)).Cache.[Hooks.V 1]
    let clean = run []
    let zeroed = run [ Intervention.ZeroValues(1, [| 1 |], [| 2; 5 |]) ]
    for b in 0 .. 1 do
        for p in 0 .. 7 do
            for h in 0 .. 1 do
                for i in 0 .. clean.Shape.[3] - 1 do
                    let expected = if h = 1 && (p = 2 || p = 5) then 0.0f else clean.[b, p, h, i]
                    Assert.That(zeroed.[b, p, h, i], eq expected)

[<Test>]
let ``an intervention or cache request naming a hook that does not exist fails with the name`` () =
    let m = gpt2.Force()
    (throws<ArgumentException> (fun () -> m.Run(tokens, RunOptions(Interventions = [ Intervention.Zero "blocks.0.attn.hook_zz" ])) |> ignore)).Message
    |> mentions [ "blocks.0.attn.hook_zz" ]
    (throws<ArgumentException> (fun () -> m.Run(tokens, RunOptions.Caching "blocks.9.hook_resid_pre") |> ignore)).Message
    |> mentions [ "blocks.9.hook_resid_pre" ]
    (throws<ArgumentException> (fun () -> m.Run(tokens, RunOptions(Interventions = [ Intervention.Zero(Hooks.ResidPre 0, heads = [| 0 |]) ])) |> ignore)).Message
    |> mentions [ "no head axis" ]
    (throws<ArgumentOutOfRangeException> (fun () -> m.Run(tokens, RunOptions(Interventions = [ Intervention.Zero(Hooks.Z 0, heads = [| 9 |]) ])) |> ignore)).Message
    |> mentions [ "Head 9" ]

[<Test>]
let ``reading the cache never changes it`` () =
    let m = gpt2.Force()
    let cache = m.Run(tokens, RunOptions.CacheAll).Cache
    let before = cache |> Seq.map (fun kv -> kv.Key, Array.copy kv.Value.Data) |> Map.ofSeq
    let _ = m.Run(tokens, RunOptions(Interventions = [ Intervention.Zero(Hooks.Pattern 0) ]))
    for KeyValue(k, v) in cache do
        Assert.That(v.Data, eq before.[k], k)

[<Test>]
let ``batch items and per-item positions outside the run are rejected with what was asked`` () =
    let m = gpt2.Force()
    let run (i: Intervention) = m.Run(tokens, RunOptions(Interventions = [ i ])) |> ignore
    (throws<ArgumentOutOfRangeException> (fun () -> run (Intervention(Hook = Hooks.Z 0, Kind = InterventionKind.Zero, BatchItems = [| 2 |])))).Message
    |> mentions [ "Batch item 2"; "a batch of 2" ]
    (throws<ArgumentOutOfRangeException> (fun () -> run (Intervention(Hook = Hooks.Z 0, Kind = InterventionKind.Zero, BatchItems = [| -1 |])))).Message
    |> mentions [ "Batch item -1" ]
    (throws<ArgumentOutOfRangeException> (fun () -> run (Intervention(Hook = Hooks.Z 0, Kind = InterventionKind.Zero, PositionsPerItem = [| [| 1 |]; [| 8 |] |])))).Message
    |> mentions [ "Position 8 of batch item 1" ]
    (throws<ArgumentException> (fun () -> run (Intervention(Hook = Hooks.Z 0, Kind = InterventionKind.Zero, PositionsPerItem = [| [| 1 |] |])))).Message
    |> mentions [ "PositionsPerItem has 1 entries for a batch of 2" ]

[<Test>]
let ``a precomputed mean must have the hook's shape with batch and position axes of size 1`` () =
    let m = gpt2.Force()
    let z = m.Run(tokens, RunOptions.Caching(Hooks.Z 0)).Cache.[Hooks.Z 0] // [batch, pos, head, dHead]
    let s = z.Shape
    let good = Tensor([| 1; 1; s.[2]; s.[3] |])
    m.Run(tokens, RunOptions(Interventions = [ Intervention.Mean(Hooks.Z 0, heads = [| 0 |], mean = good) ])) |> ignore
    let wrong = Tensor([| 1; 1; s.[2]; s.[3] + 1 |])
    (throws<ArgumentException> (fun () -> m.Run(tokens, RunOptions(Interventions = [ Intervention.Mean(Hooks.Z 0, mean = wrong) ])) |> ignore)).Message
    |> mentions [ "Mean on blocks.0.attn.hook_z"; "got [1, 1" ]
    let headsCollapsed = Tensor([| 1; 1; 1; s.[3] |])
    throws<ArgumentException> (fun () -> m.Run(tokens, RunOptions(Interventions = [ Intervention.Mean(Hooks.Z 0, mean = headsCollapsed) ])) |> ignore) |> ignore

[<Test>]
let ``an attention mask given to a causal model is rejected, not silently ignored`` () =
    let padded = [| [| true; true; true; true; true; true; false; false |]; Array.create 8 true |]
    for name in [ "gpt2"; "llama"; "attention-only" ] do
        (throws<ArgumentException> (fun () -> (model name).Run(tokens, RunOptions(AttentionMask = padded)) |> ignore)).Message
        |> mentions [ "is causal and takes no attention mask" ]
    // An all-true mask changes nothing and is accepted; BERT applies a real one.
    let full = Array.init 2 (fun _ -> Array.create 8 true)
    Assert.That(gpt2.Force().Run(tokens, RunOptions(AttentionMask = full)).Logits.Data, eq (gpt2.Force().Run(tokens).Logits.Data))
    let plain = bert.Force().Run(tokens, RunOptions.Caching(Hooks.Pattern 0)).Cache.[Hooks.Pattern 0]
    let masked = bert.Force().Run(tokens, RunOptions(Cache = [| Hooks.Pattern 0 |], AttentionMask = padded)).Cache.[Hooks.Pattern 0]
    Assert.That(masked.[0, 0, 0, 7], eq 0.0f, "no query attends to a padded key")
    Assert.That(plain.[0, 0, 0, 7], Is.GreaterThan 0.0f)

[<Test>]
let ``two hooks that see the same activation are cached as separate arrays`` () =
    let m = gpt2.Force()
    let cache = m.Run(tokens, RunOptions.CacheAll).Cache
    let post0 = cache.[Hooks.ResidPost 0]
    let pre1 = cache.[Hooks.ResidPre 1]
    Assert.That(pre1.Data, eq post0.Data, "resid_post(0) is resid_pre(1)")
    Assert.That(obj.ReferenceEquals(pre1.Data, post0.Data), Is.False)
    let before = pre1.Data.[0]
    post0.Data.[0] <- before + 1.0f
    Assert.That(pre1.Data.[0], eq before, "editing one cached entry leaves the other alone")

[<Test>]
let ``a thousand runs with a full cache and an intervention leave the process no larger`` () =
    // The engine keeps nothing of a run once its result is dropped: a leak here (a cache held by a hook context, a
    // native buffer not freed) grows the process run by run. 50 runs warm up pools and the JIT; 1000 are measured.
    let m = model "gpt2"
    let ablate = [| Intervention.Zero(Hooks.Z 1, heads = [| 0 |]); Intervention.Mean(Hooks.Z 0, heads = [| 1 |]) |]
    let run () =
        let result = m.Run(tokens, RunOptions(Cache = [| "*" |], Interventions = ablate))
        result.Cache.Count + result.Logits.Shape.[0]
    let settle () =
        GC.Collect()
        GC.WaitForPendingFinalizers()
        GC.Collect()
        use me = Diagnostics.Process.GetCurrentProcess()
        GC.GetTotalMemory true, me.WorkingSet64
    for _ in 1 .. 50 do run () |> ignore
    let heapBefore, rssBefore = settle ()
    let mutable hooks = 0
    for _ in 1 .. 1000 do hooks <- run ()
    let heapAfter, rssAfter = settle ()
    log (sprintf "after 1000 runs (%d cached hooks each): managed heap %+.1f MB, working set %+.1f MB"
             hooks (float (heapAfter - heapBefore) / 1e6) (float (rssAfter - rssBefore) / 1e6))
    Assert.That(heapAfter - heapBefore, Is.LessThan(8L * 1024L * 1024L), "managed heap growth")
    Assert.That(rssAfter - rssBefore, Is.LessThan(64L * 1024L * 1024L), "working set growth")
