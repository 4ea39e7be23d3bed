using TorchSharp;

namespace Verification.Engine.Torch;

/// <summary>
/// Which device models run and train on: a run's own choice, else the process default (the CLI's <c>--device</c>),
/// else <c>VERIFICATION_DEVICE</c> (through <see cref="Settings"/>), else the CPU.
/// </summary>
public static class Devices
{
    static string? chosen;

    /// <summary>The device of every run that names none; setting it checks the name and that the device is here.</summary>
    public static string Default
    {
        get => chosen ?? (Settings.Current.Device is { } fromSettings ? Check(fromSettings, "VERIFICATION_DEVICE") : "cpu");
        set => chosen = Check(value, "--device");
    }

    /// <summary>Whether this libtorch has a CUDA device (false for the CPU build the package source serves).</summary>
    public static bool CudaAvailable
    {
        get
        {
            TorchRuntime.EnsureLoaded();
            return torch.cuda.is_available();
        }
    }

    /// <summary>
    /// <paramref name="name"/> if it is <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c> and present; otherwise an error that names
    /// <paramref name="source"/> (the option or variable it came from) and what to do.
    /// </summary>
    public static string Check(string name, string source)
    {
        var device = name.Trim().ToLowerInvariant();
        if (device == "cpu") return device;
        var index = 0;
        var isCuda = device == "cuda" || (device.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(device[5..], out index) && index >= 0);
        if (!isCuda) throw new ArgumentException($"{source}: '{name}' is not a device: cpu, cuda or cuda:N.");
        if (!CudaAvailable)
            throw new ArgumentException($"{source}: '{name}' asks for CUDA, but this libtorch has no CUDA device " +
                "(the default build ships libtorch's CPU natives: restore with -p:TorchBackend=cuda on a GPU machine, or see the README's 'libtorch').");
        if (index >= torch.cuda.device_count())
            throw new ArgumentException($"{source}: '{name}' is not here; this machine has {torch.cuda.device_count()} CUDA device(s).");
        return device;
    }
}
