/// libtorch objects are released on the thread that made them, never by the .NET finalizer. TorchSharp 0.107 creates a
/// Scalar for every number it hands libtorch (and for the hidden alpha of a + b) and leaves it to the garbage collector;
/// once its handle is in native code nothing references it, so under GC pressure the finalizer can free it while
/// libtorch reads it ("Expected false to be true … toFloat at c10/core/Scalar.h:140" inside Tensor.add, seen in the
/// GPT-2 stand-in specs). Two checks: the suite's assemblies call no TorchSharp method that leaves a Scalar to the GC
/// (read from the IL), and a workload of every family, intervention, training loop, SAE and loader, run on three threads
/// under constant collections, lets the finalizer release no Scalar and no tensor, and gives the single-threaded numbers.
module Verification.Specs.Lifetimes

open System
open System.Collections.Concurrent
open System.Collections.Generic
open System.Diagnostics.Tracing
open System.IO
open System.Reflection
open System.Reflection.Emit
open System.Reflection.Metadata
open System.Reflection.Metadata.Ecma335
open System.Reflection.PortableExecutable
open System.Threading
open NUnit.Framework
open Verification.Engine.Models
open Verification.Engine.Loading
open Verification.Engine.Tensors
open Verification.Engine.Torch
open Verification.Specs.Support

/// The call sites of an assembly's IL, by callee: enough of ECMA-335 to walk method bodies.
module Il =
    let private opcodes =
        let one = Array.zeroCreate<OpCode> 256
        let two = Array.zeroCreate<OpCode> 256
        for f in typeof<OpCodes>.GetFields(BindingFlags.Public ||| BindingFlags.Static) do
            let op = f.GetValue null :?> OpCode
            if op.Size = 1 then one.[int (uint16 op.Value)] <- op else two.[int (uint16 op.Value &&& 0xFFus)] <- op
        one, two

    let private operandSize (op: OpCode) (il: byte[]) at =
        match op.OperandType with
        | OperandType.InlineNone -> 0
        | OperandType.ShortInlineBrTarget | OperandType.ShortInlineI | OperandType.ShortInlineVar -> 1
        | OperandType.InlineVar -> 2
        | OperandType.InlineI8 | OperandType.InlineR -> 8
        | OperandType.InlineSwitch -> 4 + 4 * BitConverter.ToInt32(il, at)
        | _ -> 4

    /// Metadata tokens of every call, callvirt, newobj and ldftn in a method body.
    let callTokens (il: byte[]) =
        let one, two = opcodes
        let tokens = List<int>()
        let mutable at = 0
        while at < il.Length do
            let op = if il.[at] = 0xFEuy then (at <- at + 1; two.[int il.[at]]) else one.[int il.[at]]
            at <- at + 1
            if op = OpCodes.Call || op = OpCodes.Callvirt || op = OpCodes.Newobj || op = OpCodes.Ldftn then
                tokens.Add(BitConverter.ToInt32(il, at))
            at <- at + operandSize op il at
        tokens

    type private Names(typeName: EntityHandle -> string) =
        interface ISignatureTypeProvider<string, obj> with
            member _.GetPrimitiveType code = string code
            member _.GetTypeFromDefinition(_, h, _) = typeName (TypeDefinitionHandle.op_Implicit h)
            member _.GetTypeFromReference(_, h, _) = typeName (TypeReferenceHandle.op_Implicit h)
            member _.GetTypeFromSpecification(_, _, _, _) = "spec"
            member _.GetSZArrayType e = e + "[]"
            member _.GetArrayType(e, _) = e + "[,]"
            member _.GetByReferenceType e = e + "&"
            member _.GetPointerType e = e + "*"
            member _.GetGenericInstantiation(g, args) = g + "<" + String.Join(",", args) + ">"
            member _.GetGenericTypeParameter(_, i) = "!" + string i
            member _.GetGenericMethodParameter(_, i) = "!!" + string i
            member _.GetFunctionPointerType _ = "fnptr"
            member _.GetModifiedType(_, unmodified, _) = unmodified
            member _.GetPinnedType e = e

    /// One assembly's methods ("Namespace.Type::Name(parameter types)"), the methods each calls, and its base types.
    type Assembly(path: string) =
        let pe = new PEReader(File.OpenRead path)
        let md = pe.GetMetadataReader()

        let rec typeName (h: EntityHandle) : string =
            match h.Kind with
            | HandleKind.TypeDefinition ->
                let t = md.GetTypeDefinition(TypeDefinitionHandle.op_Explicit h)
                let name = md.GetString t.Name
                if t.GetDeclaringType().IsNil then md.GetString t.Namespace + "." + name
                else typeName (TypeDefinitionHandle.op_Implicit (t.GetDeclaringType())) + "+" + name
            | HandleKind.TypeReference ->
                let t = md.GetTypeReference(TypeReferenceHandle.op_Explicit h)
                let name = md.GetString t.Name
                if t.ResolutionScope.Kind = HandleKind.TypeReference then typeName t.ResolutionScope + "+" + name
                else md.GetString t.Namespace + "." + name
            | HandleKind.TypeSpecification ->
                let spec = md.GetTypeSpecification(TypeSpecificationHandle.op_Explicit h)
                let mutable reader = md.GetBlobReader spec.Signature
                // GENERICINST (CLASS | VALUETYPE) type …: the generic type's own name.
                if reader.ReadByte() = 0x15uy then
                    reader.ReadByte() |> ignore
                    typeName (reader.ReadTypeHandle())
                else "spec"
            | _ -> "?"

        let signature (blob: BlobHandle) =
            let mutable reader = md.GetBlobReader blob
            let decoded = SignatureDecoder<string, obj>(Names typeName, md, null).DecodeMethodSignature(&reader)
            "(" + String.Join(",", decoded.ParameterTypes) + ")"

        let rec callee (token: int) =
            let h = MetadataTokens.EntityHandle token
            match h.Kind with
            | HandleKind.MethodDefinition ->
                let d = md.GetMethodDefinition(MethodDefinitionHandle.op_Explicit h)
                Some(typeName (TypeDefinitionHandle.op_Implicit (d.GetDeclaringType())) + "::" + md.GetString d.Name + signature d.Signature)
            | HandleKind.MemberReference ->
                let r = md.GetMemberReference(MemberReferenceHandle.op_Explicit h)
                if r.GetKind() = MemberReferenceKind.Method then Some(typeName r.Parent + "::" + md.GetString r.Name + signature r.Signature)
                else None
            | HandleKind.MethodSpecification -> callee (MetadataTokens.GetToken((md.GetMethodSpecification(MethodSpecificationHandle.op_Explicit h)).Method))
            | _ -> None

        /// (method, the methods it calls in order).
        member _.Methods =
            [ for h in md.MethodDefinitions do
                  let d = md.GetMethodDefinition h
                  let name = typeName (TypeDefinitionHandle.op_Implicit (d.GetDeclaringType())) + "::" + md.GetString d.Name + signature d.Signature
                  let body = if d.RelativeVirtualAddress = 0 then [||] else pe.GetMethodBody(d.RelativeVirtualAddress).GetILBytes()
                  yield name, [ for t in callTokens body do match callee t with Some c -> yield c | None -> () ] ]

        /// Each type's base type, by name.
        member _.BaseTypes =
            dict [ for h in md.TypeDefinitions do
                       let t = md.GetTypeDefinition h
                       if not t.BaseType.IsNil then yield typeName (TypeDefinitionHandle.op_Implicit h), typeName t.BaseType ]

        interface IDisposable with
            member _.Dispose() = pe.Dispose()

/// A call that makes a Scalar: the implicit conversions from numbers and the ToScalar extensions.
let private makesScalar (callee: string) =
    callee.StartsWith("TorchSharp.Scalar::op_Implicit", StringComparison.Ordinal)
    || callee.StartsWith("TorchSharp.ScalarExtensionMethods::ToScalar", StringComparison.Ordinal)

let private disposes (callee: string) =
    callee = "TorchSharp.Scalar::Dispose()" || callee = "System.IDisposable::Dispose()"

/// Methods that make more Scalars than they dispose.
let private leavesScalar (calls: string list) =
    (calls |> List.filter makesScalar |> List.length) > (calls |> List.filter disposes |> List.length)

/// TorchSharp's methods that leave a Scalar to the GC, directly or through what they call (virtual calls included: a
/// base method counts when an override does).
let private torchSharpLeavers =
    lazy
        (use torchSharp = new Il.Assembly(typeof<TorchSharp.Scalar>.Assembly.Location)
         let methods = torchSharp.Methods
         let baseTypes = torchSharp.BaseTypes
         let leavers = HashSet<string>(methods |> List.filter (snd >> leavesScalar) |> List.map fst)
         let mutable changed = true
         while changed do
             changed <- false
             for (name, calls) in methods do
                 if not (leavers.Contains name) && calls |> List.exists leavers.Contains then
                     changed <- leavers.Add name || changed
             for name in List.ofSeq leavers do
                 let split = name.IndexOf("::", StringComparison.Ordinal)
                 let mutable t = name.Substring(0, split)
                 while baseTypes.ContainsKey t do
                     t <- baseTypes.[t]
                     changed <- leavers.Add(t + name.Substring split) || changed
         leavers)

/// Every assembly of the suite: the four libraries, the command, and the specs themselves (a spec's own Scalar could race too).
let private suiteAssemblies =
    [| typeof<Transformer>.Assembly; typeof<Verification.Analysis.HeadScores>.Assembly; typeof<Verification.Fixtures.ModelCatalog>.Assembly
       typeof<Verification.Reports.Table>.Assembly; typeof<Verification.Cli.Program>.Assembly; Assembly.GetExecutingAssembly() |]

[<Test>]
let ``no assembly of the suite calls a TorchSharp method that leaves a Scalar to the garbage collector`` () =
    let leavers = torchSharpLeavers.Force()
    // The detector itself: a + b on tensors hides a Scalar (alpha = 1), a · 2.0 makes one; a · b on tensors does not.
    Assert.That(leavers.Contains "TorchSharp.torch+Tensor::op_Addition(TorchSharp.torch+Tensor,TorchSharp.torch+Tensor)", "a + b is found")
    Assert.That(leavers.Contains "TorchSharp.torch+Tensor::op_Multiply(TorchSharp.torch+Tensor,Double)", "a · 2.0 is found")
    Assert.That(leavers.Contains "TorchSharp.torch+optim+Optimizer::step(System.Func`1<TorchSharp.torch+Tensor>)", "torch.optim's step is found")
    Assert.That(leavers.Contains "TorchSharp.torch+Tensor::op_Multiply(TorchSharp.torch+Tensor,TorchSharp.torch+Tensor)", Is.False, "a · b is not")
    let offences =
        [ for assembly in suiteAssemblies do
              use il = new Il.Assembly(assembly.Location)
              for (name, calls) in il.Methods do
                  // A Scalar this method makes and disposes (Scalars' helpers, AdamW) is fine; Scalars' static constants live for the process.
                  if leavesScalar calls && not (name.StartsWith("Verification.Engine.Torch.Scalars+", StringComparison.Ordinal)) then
                      yield sprintf "%s makes a Scalar it does not dispose" name
                  for c in calls |> List.filter leavers.Contains |> List.distinct do
                      yield sprintf "%s calls %s" name c ]
    Assert.That(offences, Is.Empty, "use Verification.Engine.Torch.Scalars (Plus, Times, …) or a Scalar in a using")

/// TorchSharp's types by the runtime's type id, and what the listener has seen. Module-level: the runtime may deliver an
/// event while the listener's base constructor runs, before any field of the listener is set.
let private torchTypes =
    lazy
        (typeof<TorchSharp.Scalar>.Assembly.GetTypes()
         |> Array.filter (fun t -> not t.ContainsGenericParameters)
         |> Array.map (fun t -> int64 t.TypeHandle.Value, t.FullName)
         |> dict)
let private finalized = ConcurrentDictionary<string, int>()
let private seen = ConcurrentDictionary<int64, bool>()

/// An object whose finalization marks a point in the event stream: once its event is seen, every earlier one is.
type private Sentinel() =
    override _.Finalize() = ()

let private sentinel = int64 typeof<Sentinel>.TypeHandle.Value

/// Counts the objects of TorchSharp's types that the finalizer releases, from the runtime's own FinalizeObject events.
type private FinalizerWatch() =
    inherit EventListener()
    override this.OnEventSourceCreated(source) =
        if source.Name = "Microsoft-Windows-DotNETRuntime" then
            this.EnableEvents(source, EventLevel.Verbose, LanguagePrimitives.EnumOfValue<int64, EventKeywords> 1L) // GC
    override _.OnEventWritten(e) =
        if e.EventName = "FinalizeObject" then
            let typeId =
                match e.Payload.[e.PayloadNames.IndexOf "TypeID"] with
                | :? nativeint as p -> int64 p
                | :? unativeint as p -> int64 p
                | p -> Convert.ToInt64 p
            seen.[typeId] <- true
            match torchTypes.Force().TryGetValue typeId with
            | true, name -> finalized.AddOrUpdate(name, 1, fun _ n -> n + 1) |> ignore
            | _ -> ()

/// Collects, runs every pending finalizer, and waits until the listener has seen a sentinel finalized after them.
let private drain () =
    seen.TryRemove sentinel |> ignore
    let deadline = DateTime.UtcNow.AddSeconds 30.0
    while not (seen.ContainsKey sentinel) && DateTime.UtcNow < deadline do
        (fun () -> Sentinel() |> ignore) ()
        GC.Collect()
        GC.WaitForPendingFinalizers()
        Thread.Sleep 50
    Assert.That(seen.ContainsKey sentinel, "the runtime's FinalizeObject events reach the listener")

/// Every way the suite touches libtorch, small: each family forward (fused and explicit attention, float64, a padded
/// BERT batch), each kind of intervention, training steps, an SAE, a pickle round trip, a host product. Returns the
/// numbers it computed, to compare across threads.
let private workload (seed: int) =
    let models = [ for family in Hooks.families -> family, ParameterLayout.Create((Hooks.model family).Config, seed = 11) ]
    try
        [ for (family, m) in models do
              let z0 = Hooks.Z 0
              let cached = m.Run(Hooks.tokens, RunOptions(Cache = [| "*" |], ComputeResult = true))
              yield! cached.Logits.Data
              yield! m.Run(Hooks.tokens).Logits.Data
              yield! m.Run(Hooks.tokens, RunOptions(Precision = Precision.Float64)).Logits.Data
              let interventions =
                  [ Intervention.Zero(z0, heads = [| 0 |]); Intervention.Mean(z0, heads = [| 1 |]); Intervention.Scale(Hooks.Pattern 1, 0.5f)
                    Intervention.Replace(z0, cached.Cache.[z0], positions = [| 2 |]); Intervention.Custom(Hooks.ResidPost 0, fun t -> t) ]
              yield! m.Run(Hooks.tokens, RunOptions(Interventions = interventions)).Logits.Data
              if family = "bert" then
                  let mask = [| Array.create 8 true; Array.init 8 (fun i -> i < 5) |]
                  yield! m.Run(Hooks.tokens, RunOptions(AttentionMask = mask)).Logits.Data
              else
                  let settings = Verification.Engine.Training.TrainingSettings(Steps = 3, LearningRate = 1e-3f, Seed = seed)
                  let history =
                      m.Train((fun _ -> Verification.Engine.Training.Losses.NextToken(m.Logits Hooks.tokens, Hooks.tokens), 16), settings,
                              afterStep = fun _ -> m.Run(Hooks.tokens) |> ignore)
                  yield! history |> Seq.map (fun h -> float32 h.Loss)
          let data = Tensor.RandomNormal(Random seed, 1.0f, 64, 8)
          let sae = SparseAutoencoder.Train(data, SaeConfig(InputWidth = 8, Latents = 16), steps = 5, batchSize = 16, seed = seed)
          yield! (sae.Encode data).Data
          yield! (HostMath.MatMul(data, Tensor.RandomNormal(Random seed, 1.0f, 8, 4))).Data
          use folder = new TempFolder()
          let file = Path.Combine(folder.Path, "pytorch_model.bin")
          PyTorchPickle.Write(file, readOnlyDict [ "w", data ])
          yield! (PyTorchPickle.Open file).Read("w").Data ]
    finally
        for (_, m) in models do m.Dispose()

[<Test; NonParallelizable>]
let ``on three threads under constant garbage collection no Scalar or tensor is released by the finalizer and every number is the single-threaded one`` () =
    let expected = workload 1
    torchTypes.Force() |> ignore
    use watch = new FinalizerWatch()
    drain () // garbage of earlier specs goes before counting starts
    finalized.Clear()
    use stop = new CancellationTokenSource()
    let pressure =
        Thread((fun () ->
            while not stop.IsCancellationRequested do
                GC.Collect()
                GC.WaitForPendingFinalizers()), IsBackground = true)
    pressure.Start()
    let results = Array.zeroCreate<float32 list> 3
    let failures = ConcurrentBag<exn>()
    let workers =
        [ for i in 0 .. 2 ->
              Thread((fun () ->
                  try
                      for _ in 1 .. 2 do results.[i] <- workload 1
                  with e -> failures.Add e), IsBackground = true) ]
    workers |> List.iter (fun t -> t.Start())
    workers |> List.iter (fun t -> t.Join())
    stop.Cancel()
    pressure.Join()
    drain ()
    Assert.That(failures |> Seq.map (fun e -> e.Message), Is.Empty, "no run failed")
    for i in 0 .. 2 do
        Assert.That(results.[i], Is.EqualTo(box expected), sprintf "thread %d computed the single-threaded numbers bit for bit" i)
    let released = finalized |> Seq.map (fun kv -> sprintf "%s × %d" kv.Key kv.Value) |> Seq.toList
    log (sprintf "%d numbers per workload; finalizer releases of TorchSharp objects: %s" expected.Length (if released.IsEmpty then "none" else String.Join(", ", released)))
    Assert.That(released, Is.Empty, "libtorch objects released by the finalizer")
