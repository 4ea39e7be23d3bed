using System.Globalization;

namespace Verification.Reports.Plots;

/// <summary>
/// Maps a value to a colour. Sequential: ColorBrewer "Blues" from <see cref="Min"/> (light) to
/// <see cref="Max"/> (dark), so darker always means larger. Diverging: ColorBrewer "RdBu", blue below
/// <see cref="Centre"/>, red above, white at it. Values outside the range are clamped.
/// </summary>
public sealed record ColourScale(double Min, double Max, bool Diverging = false)
{
    static readonly string[] Blues = ["#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b"];
    static readonly string[] RedBlue = ["#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7", "#fddbc7", "#f4a582", "#d6604d", "#b2182b"];

    public double Centre => (Min + Max) / 2;

    /// <summary>0..1 sequential scale, as for attention probabilities.</summary>
    public static ColourScale Probability { get; } = new(0, 1);

    /// <summary>A sequential scale over the values' range (or 0..1 when they are all equal).</summary>
    public static ColourScale For(IEnumerable<double> values)
    {
        var finite = values.Where(double.IsFinite).ToArray();
        if (finite.Length == 0) return Probability;
        var (lo, hi) = (finite.Min(), finite.Max());
        if (lo < 0 && hi > 0)
        {
            var m = Math.Max(-lo, hi);
            return new ColourScale(-m, m, Diverging: true);
        }
        if (lo >= 0 && hi <= 1) return Probability;
        return hi > lo ? new ColourScale(lo, hi) : new ColourScale(lo - 1, hi + 1);
    }

    public string Colour(double value)
    {
        if (double.IsNaN(value)) return "#bdbdbd";
        var t = Max > Min ? (value - Min) / (Max - Min) : 0.5;
        t = Math.Clamp(t, 0, 1);
        var palette = Diverging ? RedBlue : Blues;
        var position = t * (palette.Length - 1);
        var i = Math.Min((int)position, palette.Length - 2);
        return Mix(palette[i], palette[i + 1], position - i);
    }

    /// <summary>Relative luminance (sRGB, WCAG) of a "#rrggbb" colour, 0 black .. 1 white.</summary>
    public static double Luminance(string hex)
    {
        var (r, g, b) = Parse(hex);
        static double Linear(int c)
        {
            var s = c / 255.0;
            return s <= 0.03928 ? s / 12.92 : Math.Pow((s + 0.055) / 1.055, 2.4);
        }
        return 0.2126 * Linear(r) + 0.7152 * Linear(g) + 0.0722 * Linear(b);
    }

    /// <summary>A text colour readable on the given background.</summary>
    public static string TextOn(string background) => Luminance(background) < 0.3 ? "#ffffff" : "#111111";

    static string Mix(string a, string b, double t)
    {
        var (r1, g1, b1) = Parse(a);
        var (r2, g2, b2) = Parse(b);
        int Lerp(int x, int y) => (int)Math.Round(x + (y - x) * t, MidpointRounding.AwayFromZero);
        return $"#{Lerp(r1, r2):x2}{Lerp(g1, g2):x2}{Lerp(b1, b2):x2}";
    }

    static (int R, int G, int B) Parse(string hex) => (
        int.Parse(hex.AsSpan(1, 2), NumberStyles.HexNumber),
        int.Parse(hex.AsSpan(3, 2), NumberStyles.HexNumber),
        int.Parse(hex.AsSpan(5, 2), NumberStyles.HexNumber));
}
