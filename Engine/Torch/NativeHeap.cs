using System.Runtime.InteropServices;

namespace Verification.Engine.Torch;

/// <summary>
/// libtorch's CPU tensors come from glibc's malloc. After the first large buffer is freed, glibc raises its mmap
/// threshold (up to 32 MB), so later activation buffers below it are carved from the heap, whose freed pages it keeps:
/// a GPT-2-small scan in 1 GiB batches peaked at 2.7 GB resident, 1.3 GB of it freed buffers. A fixed 1 MiB threshold
/// (which also turns the adjustment off) gives every large buffer back when it is freed: 1.5 GB, at the same speed.
/// </summary>
public static class NativeHeap
{
    const int MmapThreshold = -3; // M_MMAP_THRESHOLD in glibc's malloc.h

    /// <summary>Whether the threshold was set (false off Linux, or where libc is not glibc).</summary>
    public static bool ReturnLargeBuffers()
    {
        if (!OperatingSystem.IsLinux()) return false;
        try { return mallopt(MmapThreshold, 1 << 20) == 1; }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return false; } // not glibc (musl): nothing to tune
    }

    [DllImport("libc")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    static extern int mallopt(int parameter, int value);
}
