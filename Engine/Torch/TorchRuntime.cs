using System.Reflection;
using TorchSharp;

namespace Verification.Engine.Torch;

/// <summary>
/// libtorch in this process: loaded once, with a clear error when it cannot be, and where its TorchSharp glue came
/// from (the build may have marked one of its version needs weak: build/WeakenVersionNeed.cs).
/// </summary>
public static class TorchRuntime
{
    public const string GlueLibrary = "libLibTorchSharp.so";

    static readonly Lazy<string> loaded = new(Load);

    /// <summary>Whether glibc was told to return freed activation buffers (<see cref="NativeHeap"/>).</summary>
    public static bool HeapTuned { get; private set; }

    /// <summary>Loads libtorch if needed; returns what was loaded, in words.</summary>
    public static string EnsureLoaded() => loaded.Value;

    static string Load()
    {
        HeapTuned = NativeHeap.ReturnLargeBuffers();
        try
        {
            using var probe = torch.ones(1);
            return $"libtorch {torch.__version__} via TorchSharp {typeof(torch).Assembly.GetName().Version} ({torch.get_num_threads()} threads{(torch.cuda.is_available() ? ", CUDA available" : "")})";
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or NotSupportedException)
        {
            var glue = Path.Combine(AppContext.BaseDirectory, GlueLibrary);
            var libtorch = File.Exists(Path.Combine(AppContext.BaseDirectory, "libtorch.so"));
            throw new TorchUnavailableException(
                $"libtorch could not be loaded ({FirstLine(Innermost(e).Message)}). " +
                (!File.Exists(glue) ? $"{GlueLibrary} is not in {AppContext.BaseDirectory}: build for linux-x64 (Directory.Build.props sets it)."
                    : !libtorch ? "This build has no libtorch of its own (-p:TorchBackend=external): put a libtorch 2.10 build's lib folder on LD_LIBRARY_PATH."
                    : $"If GLIBCXX_3.4.32 is named, {GlueLibrary} was copied without the build's patch: rebuild (build/TorchSharp.targets)."), e);
        }
    }

    static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();

    static Exception Innermost(Exception e) => e.InnerException is { } inner ? Innermost(inner) : e;

    /// <summary>The glue library as the TorchSharp package ships it (null when the package path was not recorded).</summary>
    public static string? ShippedGlueLibrary =>
        typeof(TorchRuntime).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "package:TorchSharp")?.Value is { Length: > 0 } root
            ? Path.Combine(root, "runtimes", "linux-x64", "native", GlueLibrary)
            : null;

    /// <summary>
    /// A torch tensor of any dtype, on any device, as a host float32 tensor of the same shape: what leaves the engine.
    /// See <see cref="CopyToHost"/> for how the values travel.
    /// </summary>
    public static Tensors.Tensor ToHost(torch.Tensor x, string name)
    {
        // Every value is written below: no need to zero a logits array of hundreds of megabytes first.
        var values = GC.AllocateUninitializedArray<float>(checked((int)x.numel()));
        CopyToHost(x, values);
        return new Tensors.Tensor(values, [.. x.shape.Select(d => checked((int)d))]) { Name = name };
    }

    /// <summary>
    /// A torch tensor's values, as float32, into an existing host array of the same size (a parameter's after training, a
    /// cached activation). libtorch copies straight into the array (a tensor over its pinned memory), so there is no size
    /// limit (a span of bytes stops at 2 GiB) and no intermediate host copy; from a GPU the values go through a reused
    /// pinned buffer in chunks (a copy into pageable memory ran at 1.1 GB/s on an H200, through pinned memory at 54).
    /// </summary>
    public static void CopyToHost(torch.Tensor x, float[] into)
    {
        // Its own scope: the detached and converted intermediates are freed here, whether or not a caller has a scope.
        using var scope = torch.NewDisposeScope();
        if (x.numel() != into.Length)
            throw new ArgumentException($"A tensor of {x.numel()} values does not fit a host array of {into.Length}.", nameof(into));
        var source = x.detach();
        if (source.dtype != torch.ScalarType.Float32) source = source.to(torch.ScalarType.Float32); // on its device: fewer bytes cross
        var flat = source.reshape(-1);                                                                // [n], contiguous
        var target = torch.from_array(into);                                                         // [n], the host array itself
        if (flat.device_type == DeviceType.CPU) target.copy_(flat);
        else PinnedStaging.Copy(flat, target);
    }

    /// <summary>A host float32 tensor as a CPU torch tensor over the same memory (no copy): the CPU's float32 weights.</summary>
    public static torch.Tensor Share(Tensors.Tensor t)
    {
        EnsureLoaded();
        using var flat = torch.from_array(t.Data);
        return flat.view([.. t.Shape.Select(d => (long)d)]);
    }

    /// <summary>Device → host copies through one pinned buffer per process, in chunks, reused.</summary>
    static class PinnedStaging
    {
        const long ChunkValues = 16L << 20;   // 64 MB of float32
        static torch.Tensor? buffer;           // [ChunkValues] float32, page-locked; lives as long as the process
        static readonly Lock gate = new();

        public static void Copy(torch.Tensor flat, torch.Tensor target)
        {
            lock (gate)
            {
                if (buffer is null)
                {
                    using var pageable = torch.empty(ChunkValues, torch.ScalarType.Float32);
                    buffer = pageable.pin_memory();
                    buffer.DetachFromDisposeScope();
                }
                var n = flat.numel();
                for (long offset = 0; offset < n; offset += ChunkValues)
                {
                    var count = Math.Min(ChunkValues, n - offset);
                    using var staged = buffer.narrow(0, 0, count);
                    using var from = flat.narrow(0, offset, count);
                    using var into = target.narrow(0, offset, count);
                    staged.copy_(from);
                    into.copy_(staged);
                }
            }
        }
    }

    /// <summary>A host tensor on a device in a precision (a fresh copy; nothing is shared with the host array).</summary>
    public static torch.Tensor FromHost(Tensors.Tensor t, string device, Precision precision = Precision.Float32)
    {
        EnsureLoaded();
        using var cpu = torch.tensor(t.Data, [.. t.Shape.Select(d => (long)d)], torch.ScalarType.Float32);
        return cpu.to(DType(precision), torch.device(device));
    }

    /// <summary>Token ids [batch][pos] as an int64 tensor [batch, pos] on a device.</summary>
    public static torch.Tensor Ids(int[][] tokens, string device)
    {
        EnsureLoaded();
        var flat = new long[tokens.Length * tokens[0].Length];
        for (var b = 0; b < tokens.Length; b++)
            for (var p = 0; p < tokens[b].Length; p++) flat[b * tokens[0].Length + p] = tokens[b][p];
        return torch.tensor(flat, [tokens.Length, tokens[0].Length], torch.ScalarType.Int64, torch.device(device));
    }

    public static torch.ScalarType DType(Precision precision) => precision == Precision.Float64 ? torch.ScalarType.Float64 : torch.ScalarType.Float32;

    /// <summary>The copy this process loads.</summary>
    public static string BuiltGlueLibrary => Path.Combine(AppContext.BaseDirectory, GlueLibrary);
}

/// <summary>libtorch is not loadable in this process: what was tried and what to do, in one message.</summary>
public sealed class TorchUnavailableException(string message, Exception inner) : Exception(message, inner);
