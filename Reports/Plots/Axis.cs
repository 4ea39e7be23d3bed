namespace Verification.Reports.Plots;

/// <summary>A linear axis with "nice" ticks (steps of 1, 2 or 5 times a power of ten).</summary>
public sealed class Axis
{
    public Axis(double min, double max, double pixelStart, double pixelEnd, int targetTicks = 6)
    {
        if (!double.IsFinite(min) || !double.IsFinite(max)) (min, max) = (0, 1);
        if (max <= min) (min, max) = (min - 0.5, max + 0.5);
        var step = NiceStep((max - min) / Math.Max(1, targetTicks - 1));
        Min = Math.Floor(min / step + 1e-9) * step;
        Max = Math.Ceiling(max / step - 1e-9) * step;
        Step = step;
        PixelStart = pixelStart;
        PixelEnd = pixelEnd;
    }

    public double Min { get; }
    public double Max { get; }
    public double Step { get; }
    public double PixelStart { get; }
    public double PixelEnd { get; }

    public double Pixel(double value) => PixelStart + (value - Min) / (Max - Min) * (PixelEnd - PixelStart);

    public IEnumerable<double> Ticks()
    {
        var count = (int)Math.Round((Max - Min) / Step);
        for (var i = 0; i <= count; i++)
        {
            var tick = Min + i * Step;
            yield return Math.Abs(tick) < Step * 1e-9 ? 0 : tick;
        }
    }

    public string Label(double tick)
    {
        var decimals = Math.Max(0, -(int)Math.Floor(Math.Log10(Step) + 1e-9));
        return Table.FormatNumber(tick, decimals);
    }

    public static double NiceStep(double rough)
    {
        if (rough <= 0 || !double.IsFinite(rough)) return 1;
        var power = Math.Pow(10, Math.Floor(Math.Log10(rough)));
        var fraction = rough / power;
        var nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10;
        return nice * power;
    }
}
