namespace Verification.Analysis;

/// <summary>A mean with its percentile bootstrap interval.</summary>
public readonly record struct Interval(double Mean, double Low, double High, int Count, double Level)
{
    /// <summary>Where the interval lies relative to a threshold: above, below, or straddling it (borderline).</summary>
    public int Side(double threshold) => Low > threshold ? 1 : High < threshold ? -1 : 0;

    public override string ToString() =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Mean:F3} [{Low:F3}, {High:F3}]");
}

/// <summary>
/// Percentile bootstrap of a mean over independent units (prompts, sentences): resample the units with replacement,
/// take the mean of each resample, and read the interval off the sorted means. Seeded, so an interval reproduces.
/// </summary>
public static class Bootstrap
{
    public static Interval Mean(IReadOnlyList<double> values, int resamples = 2000, int seed = 0, double level = 0.95)
    {
        if (values.Count == 0) throw new ArgumentException("The bootstrap needs at least one value.", nameof(values));
        if (values.Any(v => !double.IsFinite(v))) throw new ArgumentException("The bootstrap's values must be finite numbers.", nameof(values));
        if (resamples < 1) throw new ArgumentOutOfRangeException(nameof(resamples), "At least one resample.");
        if (level is <= 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(level), "The level lies strictly between 0 and 1.");
        var random = new Random(seed);
        var means = new double[resamples];
        for (var r = 0; r < resamples; r++)
        {
            double sum = 0;
            for (var i = 0; i < values.Count; i++) sum += values[random.Next(values.Count)];
            means[r] = sum / values.Count;
        }
        Array.Sort(means);
        var tail = (1 - level) / 2;
        double At(double q) => means[Math.Clamp((int)Math.Floor(q * (resamples - 1) + 0.5), 0, resamples - 1)];
        return new Interval(values.Average(), At(tail), At(1 - tail), values.Count, level);
    }
}
