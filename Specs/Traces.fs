/// A run computes only what is read and keeps it where it was computed: no logits, the last position's only, or all;
/// the forward pass stops after the last block anything reads; caches filtered by name or predicate; readers that see an
/// activation on the device; traces that own their device tensors until disposed, copied to the host only when asked.
module Verification.Specs.Traces

open System
open NUnit.Framework
open Verification.Engine.Models
open Verification.Engine.Torch
open Verification.Specs.Support

let private families = Hooks.families

[<TestCaseSource(nameof families)>]
let ``a run without logits stops after the last block it reads and caches the same values`` (family: string) =
    let m = Hooks.model family
    let full = m.Run(Hooks.tokens, RunOptions.Caching(Hooks.ResidPost 0, Hooks.Pattern 0))
    let visited = Collections.Generic.List<string>()
    let late = Hooks.Pattern(m.Config.LayerCount - 1)
    let readLate = ref false
    let options =
        RunOptions(Cache = [| Hooks.ResidPost 0; Hooks.Pattern 0 |], Logits = LogitsOutput.None,
                   Readers = [| HookReader(Hooks.Z 0, fun _ -> visited.Add(Hooks.Z 0)) |])
    let partial = m.Run(Hooks.tokens, options)
    Assert.That(partial.ComputedLogits, Is.Null, "no logits")
    Assert.Throws<InvalidOperationException>(fun () -> partial.Logits |> ignore) |> ignore
    for hook in [ Hooks.ResidPost 0; Hooks.Pattern 0 ] do
        Assert.That(partial.Cache.[hook].Data, eq full.Cache.[hook].Data, hook)
    Assert.That(visited, eq [ Hooks.Z 0 ], "the reader saw its hook once")
    // A reader on the last block makes the run go that far.
    let reached = m.Run(Hooks.tokens, RunOptions(Logits = LogitsOutput.None, Readers = [| HookReader(late, fun _ -> readLate.Value <- true) |]))
    Assert.That(readLate.Value, "a reader of the last block ran")
    Assert.That(reached.Cache.Count, eq 0)

[<TestCaseSource(nameof families)>]
let ``the last position's logits are the full run's last row`` (family: string) =
    let m = Hooks.model family
    let full = m.Run(Hooks.tokens).Logits
    let last = m.Run(Hooks.tokens, RunOptions(Logits = LogitsOutput.LastPosition)).Logits
    let width = full.Shape.[2]
    Assert.That(last.Shape, eq [| 2; 1; width |])
    for b in 0 .. 1 do
        let row = full.Data.[(b * 8 + 7) * width .. (b * 8 + 8) * width - 1] |> Array.map float
        assertClose (sprintf "item %d" b) 1e-5 1e-5 row (last.Data.[b * width .. (b + 1) * width - 1] |> Array.map float)

[<Test>]
let ``a cache filter caches exactly the hooks whose names pass it`` () =
    let m = Hooks.model "gpt2"
    let cache = m.Run(Hooks.tokens, RunOptions(CacheFilter = (fun name -> name.EndsWith "hook_pattern"), Logits = LogitsOutput.None)).Cache
    Assert.That(cache.Keys |> Seq.sort |> Seq.toList, eq [ for l in 0 .. m.Config.LayerCount - 1 -> Hooks.Pattern l ])

[<TestCaseSource(nameof families)>]
let ``a trace keeps its activations on the device until disposed, and copies to the host only when asked`` (family: string) =
    let m = Hooks.model family
    let host = m.Run(Hooks.tokens, RunOptions.Caching(Hooks.Pattern 1, Hooks.ResidPost 0))
    let pattern =
        use trace = m.Trace(Hooks.tokens, RunOptions.Caching(Hooks.Pattern 1, Hooks.ResidPost 0))
        let onDevice = trace.Pattern 1
        Assert.That(onDevice.shape, eq [| 2L; int64 m.Config.HeadCount; 8L; 8L |])
        Assert.That(trace.Device, eq Devices.Default)
        // Indexing reads as the definition does: A[b, h, q, k].
        let expected = host.Cache.[Hooks.Pattern 1].[1, 0, 5, 3]
        use value = onDevice.[1L, 0L, 5L, 3L]
        Assert.That(value.item<float32>(), eq expected)
        Assert.That(host.Cache.Pattern(1).[1, 0, 5, 3], eq expected, "the host cache indexes the same way")
        Assert.That(trace.ToHost(Hooks.ResidPost 0).Data, eq host.Cache.[Hooks.ResidPost 0].Data)
        Assert.That(trace.Logits.shape.[0], eq 2L)
        trace.ToHostCache()
    Assert.That(pattern.[Hooks.Pattern 1].Data, eq host.Cache.[Hooks.Pattern 1].Data)

[<Test>]
let ``a disposed trace says so instead of reading freed memory`` () =
    let m = Hooks.model "gpt2"
    let trace = m.Trace(Hooks.tokens, RunOptions.Caching(Hooks.Pattern 0))
    trace.Dispose()
    let error = throws<ObjectDisposedException> (fun () -> trace.Pattern 0 |> ignore)
    error.Message |> mentions [ "disposed" ]

[<Test>]
let ``the CPU's float32 weights are the host parameters' own memory, held once`` () =
    let m = ParameterLayout.Create(AttentionOnlyConfig(VocabularySize = 20, ContextLength = 8, ModelWidth = 8, LayerCount = 1, HeadCount = 2), seed = 3)
    let before = m.Run([| [| 1; 2; 3 |] |]).Logits.Data
    // Change a host parameter after the device weights exist: the next run sees it, since there is no second copy.
    m.Parameter("unembed.W_U").Data.[0] <- 5.0f
    let after = m.Run([| [| 1; 2; 3 |] |]).Logits.Data
    Assert.That(after, Is.Not.EqualTo(box before))
    Assert.That((m.WeightsOn("cpu", Precision.Float32)).SharesHostMemory)
    Assert.That((m.WeightsOn("cpu", Precision.Float64)).SharesHostMemory, Is.False, "the float64 reference is its own copy")
