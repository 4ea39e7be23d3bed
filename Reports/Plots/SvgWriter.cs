using System.Globalization;
using System.Text;

namespace Verification.Reports.Plots;

/// <summary>
/// Writes SVG deterministically: coordinates with at most two decimals in the invariant culture, elements in
/// the order they are added, no ids, no timestamps. Same calls, same bytes.
/// </summary>
public sealed class SvgWriter
{
    readonly StringBuilder body = new();
    readonly double width;
    readonly double height;

    public SvgWriter(double width, double height)
    {
        this.width = width;
        this.height = height;
    }

    public const string FontFamily = "DejaVu Sans, Helvetica, Arial, sans-serif";

    public static string N(double value)
    {
        var rounded = Math.Round(value, 2, MidpointRounding.AwayFromZero);
        if (rounded == 0) rounded = 0;
        return rounded.ToString("0.##", CultureInfo.InvariantCulture);
    }

    /// <summary>Text safe for XML, with control characters made visible (a token "\n" shows as ↵).</summary>
    public static string Escape(string text)
    {
        var escaped = new StringBuilder(text.Length);
        foreach (var ch in text)
        {
            switch (ch)
            {
                case '&': escaped.Append("&amp;"); break;
                case '<': escaped.Append("&lt;"); break;
                case '>': escaped.Append("&gt;"); break;
                case '"': escaped.Append("&quot;"); break;
                case '\n': escaped.Append('↵'); break;
                case '\t': escaped.Append('⇥'); break;
                case '\r': escaped.Append("\\r"); break;
                default:
                    if (ch < 0x20 || ch == 0xFFFE || ch == 0xFFFF) escaped.Append($"\\x{(int)ch:x2}");
                    else escaped.Append(ch);
                    break;
            }
        }
        return escaped.ToString();
    }

    public SvgWriter Rect(double x, double y, double w, double h, string fill, string? cssClass = null, string? stroke = null,
        double strokeWidth = 0, string? tooltip = null)
    {
        body.Append("<rect");
        if (cssClass is not null) body.Append(" class=\"").Append(cssClass).Append('"');
        body.Append(" x=\"").Append(N(x)).Append("\" y=\"").Append(N(y))
            .Append("\" width=\"").Append(N(w)).Append("\" height=\"").Append(N(h))
            .Append("\" fill=\"").Append(fill).Append('"');
        if (stroke is not null) body.Append(" stroke=\"").Append(stroke).Append("\" stroke-width=\"").Append(N(strokeWidth)).Append('"');
        if (tooltip is null) body.Append("/>\n");
        else body.Append("><title>").Append(Escape(tooltip)).Append("</title></rect>\n");
        return this;
    }

    public SvgWriter Text(double x, double y, string text, double size = 11, string anchor = "start", string? cssClass = null,
        string fill = "#222222", double rotate = 0, string weight = "normal", string baseline = "auto")
    {
        body.Append("<text");
        if (cssClass is not null) body.Append(" class=\"").Append(cssClass).Append('"');
        body.Append(" x=\"").Append(N(x)).Append("\" y=\"").Append(N(y))
            .Append("\" font-size=\"").Append(N(size)).Append("\" text-anchor=\"").Append(anchor)
            .Append("\" fill=\"").Append(fill).Append('"');
        if (weight != "normal") body.Append(" font-weight=\"").Append(weight).Append('"');
        if (baseline != "auto") body.Append(" dominant-baseline=\"").Append(baseline).Append('"');
        if (rotate != 0) body.Append(" transform=\"rotate(").Append(N(rotate)).Append(' ').Append(N(x)).Append(' ').Append(N(y)).Append(")\"");
        body.Append('>').Append(Escape(text)).Append("</text>\n");
        return this;
    }

    public SvgWriter Line(double x1, double y1, double x2, double y2, string stroke = "#444444", double strokeWidth = 1,
        string? cssClass = null, string? dash = null)
    {
        body.Append("<line");
        if (cssClass is not null) body.Append(" class=\"").Append(cssClass).Append('"');
        body.Append(" x1=\"").Append(N(x1)).Append("\" y1=\"").Append(N(y1))
            .Append("\" x2=\"").Append(N(x2)).Append("\" y2=\"").Append(N(y2))
            .Append("\" stroke=\"").Append(stroke).Append("\" stroke-width=\"").Append(N(strokeWidth)).Append('"');
        if (dash is not null) body.Append(" stroke-dasharray=\"").Append(dash).Append('"');
        body.Append("/>\n");
        return this;
    }

    public SvgWriter Polyline(IEnumerable<(double X, double Y)> points, string stroke, double strokeWidth = 1.5, string? cssClass = null)
    {
        body.Append("<polyline");
        if (cssClass is not null) body.Append(" class=\"").Append(cssClass).Append('"');
        body.Append(" fill=\"none\" stroke=\"").Append(stroke).Append("\" stroke-width=\"").Append(N(strokeWidth))
            .Append("\" points=\"").Append(string.Join(" ", points.Select(p => N(p.X) + "," + N(p.Y)))).Append("\"/>\n");
        return this;
    }

    public SvgWriter Circle(double cx, double cy, double r, string fill, string? cssClass = null, string? tooltip = null)
    {
        body.Append("<circle");
        if (cssClass is not null) body.Append(" class=\"").Append(cssClass).Append('"');
        body.Append(" cx=\"").Append(N(cx)).Append("\" cy=\"").Append(N(cy)).Append("\" r=\"").Append(N(r))
            .Append("\" fill=\"").Append(fill).Append('"');
        if (tooltip is null) body.Append("/>\n");
        else body.Append("><title>").Append(Escape(tooltip)).Append("</title></circle>\n");
        return this;
    }

    public override string ToString() =>
        $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{N(width)}\" height=\"{N(height)}\" viewBox=\"0 0 {N(width)} {N(height)}\" " +
        $"font-family=\"{FontFamily}\">\n" +
        $"<rect x=\"0\" y=\"0\" width=\"{N(width)}\" height=\"{N(height)}\" fill=\"#ffffff\"/>\n" +
        body + "</svg>\n";
}
