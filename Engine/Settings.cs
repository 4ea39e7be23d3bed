namespace Verification.Engine;

/// <summary>
/// Every <c>VERIFICATION_*</c> environment variable, read once in one place (<see cref="FromEnvironment"/>); the rest
/// of the suite is given these values (an architecture spec fails on a variable read anywhere else).
/// </summary>
public sealed record Settings
{
    /// <summary>VERIFICATION_MODELS: a folder of real checkpoints (and patterns/, saes/), searched first.</summary>
    public string? ModelsFolder { get; init; }

    /// <summary>VERIFICATION_SHARED: the read-only shared data; default ../shared beside the repository.</summary>
    public string? SharedFolder { get; init; }

    /// <summary>VERIFICATION_APPROVED: where approved snapshots live; default Approved/ in the repository.</summary>
    public string? ApprovedFolder { get; init; }

    /// <summary>VERIFICATION_ACCEPT=1 (or true, yes): accept every received snapshot.</summary>
    public bool Accept { get; init; }

    /// <summary>VERIFICATION_TEXT: a plain-text file of web text for the rule-precision spec on GPT-2.</summary>
    public string? TextFile { get; init; }

    /// <summary>VERIFICATION_DEVICE: cpu (default), cuda or cuda:N, the device specs run models on.</summary>
    public string? Device { get; init; }

    /// <summary>
    /// VERIFICATION_MEMORY_BUDGET: bytes of activations one batch may hold ("2GiB", "512MiB", "3e9"); unset, the
    /// device's default (<see cref="Models.MemoryPlan.DefaultBudget"/>). Batches are sized to fit it.
    /// </summary>
    public long? MemoryBudget { get; init; }

    /// <summary>The variables' names, as the README's table lists them.</summary>
    public static readonly IReadOnlyList<string> Variables =
    [
        "VERIFICATION_MODELS", "VERIFICATION_SHARED", "VERIFICATION_APPROVED", "VERIFICATION_ACCEPT", "VERIFICATION_TEXT",
        "VERIFICATION_DEVICE", "VERIFICATION_MEMORY_BUDGET",
    ];

    /// <summary>The settings of this process, read when first used.</summary>
    public static Settings Current => current.Value;

    static readonly Lazy<Settings> current = new(() => FromEnvironment(Environment.GetEnvironmentVariable));

    /// <summary>Settings from a variable lookup (the process environment, or a dictionary in a spec); empty values are unset.</summary>
    public static Settings FromEnvironment(Func<string, string?> variable)
    {
        string? Read(string name) => variable(name) is { Length: > 0 } value ? value : null;
        return new Settings
        {
            ModelsFolder = Read("VERIFICATION_MODELS"),
            SharedFolder = Read("VERIFICATION_SHARED"),
            ApprovedFolder = Read("VERIFICATION_APPROVED"),
            Accept = Read("VERIFICATION_ACCEPT") is "1" or "true" or "yes",
            TextFile = Read("VERIFICATION_TEXT"),
            Device = Read("VERIFICATION_DEVICE"),
            MemoryBudget = Read("VERIFICATION_MEMORY_BUDGET") is { } budget ? ParseBytes(budget, "VERIFICATION_MEMORY_BUDGET") : null,
        };
    }

    /// <summary>"2GiB", "512MiB", "64KiB", "1.5GB", "3e9" or a plain byte count; anything else names <paramref name="source"/>.</summary>
    public static long ParseBytes(string text, string source)
    {
        var t = text.Trim();
        (string Suffix, double Factor)[] units =
        [
            ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3), ("B", 1),
        ];
        var factor = 1.0;
        foreach (var (suffix, f) in units)
            if (t.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
            {
                (t, factor) = (t[..^suffix.Length].Trim(), f);
                break;
            }
        if (!double.TryParse(t, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var value)
            || !double.IsFinite(value) || value * factor < 1 << 20 || value * factor > 1L << 50)
            throw new ArgumentException($"{source}: '{text}' is not a memory size from 1MiB to 1PiB (e.g. 2GiB, 512MiB, 3e9).");
        return (long)(value * factor);
    }
}
