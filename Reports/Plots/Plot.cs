namespace Verification.Reports.Plots;

/// <summary>One line of a <see cref="Plot.Line"/> chart.</summary>
public sealed record Series(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y);

/// <summary>One labelled point of a <see cref="Plot.Scatter"/> chart; points of a group share a colour.</summary>
public sealed record ScatterPoint(double X, double Y, string Label, string Group = "");

/// <summary>One bar of a <see cref="Plot.Bars"/> chart.</summary>
public sealed record Bar(string Label, double Value);

/// <summary>
/// Deterministic SVG charts: attention heatmaps, layer × head grids, lines, scatters and bars. Every data
/// cell is an element with class "cell" (heatmap, grid), "point" (line, scatter) or "bar", and carries its
/// value in a tooltip, so specs can check a plot's structure and a reader can hover for numbers.
/// </summary>
public static class Plot
{
    /// <summary>Tableau 10: distinct colours for categories.</summary>
    public static readonly string[] Categorical =
        ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

    const double CharWidth = 6.6; // at 11px, a generous average for label margins

    /// <summary>
    /// An attention pattern: row q (a query token) over columns k (key tokens). Labels appear on both axes.
    /// </summary>
    public static string AttentionHeatmap(double[,] pattern, IReadOnlyList<string> queryLabels, IReadOnlyList<string> keyLabels,
        string title, ColourScale? scale = null)
    {
        int rows = pattern.GetLength(0), columns = pattern.GetLength(1);
        if (queryLabels.Count != rows) throw new ArgumentException($"{queryLabels.Count} query labels for {rows} rows.", nameof(queryLabels));
        if (keyLabels.Count != columns) throw new ArgumentException($"{keyLabels.Count} key labels for {columns} columns.", nameof(keyLabels));
        scale ??= ColourScale.For(Values(pattern));
        var cell = Math.Clamp(520.0 / Math.Max(rows, columns), 6, 26);
        var labelSize = Math.Clamp(cell * 0.55, 5, 11);
        var left = Math.Max(64, 12 + MaxLength(queryLabels) * CharWidth * labelSize / 11);
        var top = 40 + MaxLength(keyLabels) * CharWidth * labelSize / 11 * 0.8;
        var gridWidth = columns * cell;
        var gridHeight = rows * cell;
        var width = left + gridWidth + 90;
        var height = Math.Max(top + gridHeight + 50, top + 220);

        var svg = new SvgWriter(width, height);
        svg.Text(left, 20, title, 13, weight: "bold", cssClass: "title");
        svg.Text(left + gridWidth / 2, height - 14, "key position (attended to)", 11, "middle", "axis-title");
        svg.Text(left - 8, top - 8, "query ↓", 10, "end", "axis-title");
        for (var q = 0; q < rows; q++)
        {
            for (var k = 0; k < columns; k++)
            {
                var value = pattern[q, k];
                svg.Rect(left + k * cell, top + q * cell, cell, cell, scale.Colour(value), "cell",
                    tooltip: $"{queryLabels[q]} → {keyLabels[k]}: {Table.FormatNumber(value, 3)}");
            }
        }
        for (var q = 0; q < rows; q++)
            svg.Text(left - 4, top + (q + 0.5) * cell, queryLabels[q], labelSize, "end", "row-label", baseline: "middle");
        for (var k = 0; k < columns; k++)
        {
            var x = left + (k + 0.5) * cell;
            svg.Text(x, top - 4, keyLabels[k], labelSize, "start", "column-label", rotate: -60);
        }
        svg.Rect(left, top, gridWidth, gridHeight, "none", "frame", "#888888", 0.5);
        ColourBar(svg, scale, left + gridWidth + 20, top, Math.Min(gridHeight, 200));
        return svg.ToString();
    }

    /// <summary>
    /// A layer × head table of scores: one cell per head with its value written in it; heads at or above
    /// <paramref name="threshold"/> are outlined.
    /// </summary>
    public static string HeadGrid(double[,] scores, string title, double? threshold = null, ColourScale? scale = null, int decimals = 2)
    {
        int layers = scores.GetLength(0), heads = scores.GetLength(1);
        scale ??= ColourScale.For(Values(scores));
        var cellWidth = decimals > 2 ? 50.0 : 44.0;
        const double cellHeight = 30, left = 50, top = 56;
        var gridWidth = heads * cellWidth;
        var gridHeight = layers * cellHeight;
        var width = Math.Max(left + gridWidth + 110, 320);
        var height = Math.Max(top + gridHeight + 30, top + 150);

        var svg = new SvgWriter(width, height);
        svg.Text(left, 20, title, 13, weight: "bold", cssClass: "title");
        if (threshold is { } t)
            svg.Text(left, 38, $"outlined: score ≥ {Table.FormatNumber(t, decimals)}", 10, cssClass: "subtitle", fill: "#555555");
        for (var l = 0; l < layers; l++)
        {
            svg.Text(left - 8, top + (l + 0.5) * cellHeight, $"L{l}", 11, "end", "row-label", baseline: "middle");
            for (var h = 0; h < heads; h++)
            {
                var value = scores[l, h];
                var fill = scale.Colour(value);
                var x = left + h * cellWidth;
                var y = top + l * cellHeight;
                svg.Rect(x, y, cellWidth, cellHeight, fill, "cell", "#ffffff", 1, $"L{l}H{h}: {Table.FormatNumber(value, 4)}");
                svg.Text(x + cellWidth / 2, y + cellHeight / 2, Table.FormatNumber(value, decimals), 10, "middle", "value",
                    ColourScale.TextOn(fill), baseline: "middle");
            }
        }
        for (var h = 0; h < heads; h++)
            svg.Text(left + (h + 0.5) * cellWidth, top - 6, $"H{h}", 11, "middle", "column-label");
        if (threshold is { } th)
        {
            for (var l = 0; l < layers; l++)
                for (var h = 0; h < heads; h++)
                    if (scores[l, h] >= th)
                        svg.Rect(left + h * cellWidth + 1.5, top + l * cellHeight + 1.5, cellWidth - 3, cellHeight - 3, "none", "flag", "#e15759", 2.5);
        }
        ColourBar(svg, scale, left + gridWidth + 24, top, Math.Max(gridHeight, 120));
        return svg.ToString();
    }

    /// <summary>Lines with markers, e.g. attention against offset, or a score against training step.</summary>
    public static string Line(IReadOnlyList<Series> series, string title, string xLabel, string yLabel,
        double? yMin = null, double? yMax = null, double? horizontalLine = null)
    {
        if (series.Count == 0) throw new ArgumentException("No series to plot.", nameof(series));
        foreach (var s in series)
            if (s.X.Count != s.Y.Count) throw new ArgumentException($"Series '{s.Name}' has {s.X.Count} x values and {s.Y.Count} y values.");
        const double left = 64, top = 40, plotWidth = 460, plotHeight = 260;
        var legendWidth = 24 + series.Max(s => s.Name.Length) * CharWidth;
        var width = left + plotWidth + 20 + legendWidth;
        var height = top + plotHeight + 56;
        var xs = series.SelectMany(s => s.X).Where(double.IsFinite).ToArray();
        var ys = series.SelectMany(s => s.Y).Where(double.IsFinite).Concat(horizontalLine is { } hl ? [hl] : []).ToArray();
        var xAxis = new Axis(xs.DefaultIfEmpty(0).Min(), xs.DefaultIfEmpty(1).Max(), left, left + plotWidth);
        var yAxis = new Axis(yMin ?? ys.DefaultIfEmpty(0).Min(), yMax ?? ys.DefaultIfEmpty(1).Max(), top + plotHeight, top);

        var svg = new SvgWriter(width, height);
        svg.Text(left, 20, title, 13, weight: "bold", cssClass: "title");
        Axes(svg, xAxis, yAxis, xLabel, yLabel);
        if (horizontalLine is { } h)
            svg.Line(left, yAxis.Pixel(h), left + plotWidth, yAxis.Pixel(h), "#999999", 1, "reference", "4 3");
        for (var i = 0; i < series.Count; i++)
        {
            var s = series[i];
            var colour = Categorical[i % Categorical.Length];
            var points = Enumerable.Range(0, s.X.Count).Where(j => double.IsFinite(s.X[j]) && double.IsFinite(s.Y[j]))
                .Select(j => (xAxis.Pixel(s.X[j]), yAxis.Pixel(s.Y[j]))).ToArray();
            svg.Polyline(points, colour, 1.8, "series");
            for (var j = 0; j < s.X.Count; j++)
            {
                if (!double.IsFinite(s.X[j]) || !double.IsFinite(s.Y[j])) continue;
                svg.Circle(xAxis.Pixel(s.X[j]), yAxis.Pixel(s.Y[j]), 2.6, colour, "point",
                    $"{s.Name}: ({Table.FormatNumber(s.X[j], 4)}, {Table.FormatNumber(s.Y[j], 4)})");
            }
            var ly = top + 8 + i * 18;
            svg.Line(left + plotWidth + 20, ly, left + plotWidth + 36, ly, colour, 2.5, "legend-line");
            svg.Text(left + plotWidth + 42, ly, s.Name, 11, cssClass: "legend", baseline: "middle");
        }
        return svg.ToString();
    }

    /// <summary>Labelled points; points of one group share a colour, listed in the legend.</summary>
    public static string Scatter(IReadOnlyList<ScatterPoint> points, string title, string xLabel, string yLabel)
    {
        if (points.Count == 0) throw new ArgumentException("No points to plot.", nameof(points));
        const double left = 64, top = 40, plotWidth = 460, plotHeight = 320;
        var groups = points.Select(p => p.Group).Distinct().ToArray();
        var legendWidth = groups.Length > 1 || groups[0].Length > 0 ? 24 + groups.Max(g => g.Length) * CharWidth : 0;
        var width = left + plotWidth + 30 + legendWidth;
        var height = top + plotHeight + 56;
        var xAxis = new Axis(points.Min(p => p.X), points.Max(p => p.X), left, left + plotWidth);
        var yAxis = new Axis(points.Min(p => p.Y), points.Max(p => p.Y), top + plotHeight, top);

        var svg = new SvgWriter(width, height);
        svg.Text(left, 20, title, 13, weight: "bold", cssClass: "title");
        Axes(svg, xAxis, yAxis, xLabel, yLabel);
        foreach (var p in points)
        {
            var colour = Categorical[Array.IndexOf(groups, p.Group) % Categorical.Length];
            var (x, y) = (xAxis.Pixel(p.X), yAxis.Pixel(p.Y));
            svg.Circle(x, y, 4, colour, "point",
                $"{p.Label}: ({Table.FormatNumber(p.X, 4)}, {Table.FormatNumber(p.Y, 4)})");
            svg.Text(x + 6, y - 5, p.Label, 9, cssClass: "point-label", fill: "#333333");
        }
        if (legendWidth > 0)
        {
            for (var i = 0; i < groups.Length; i++)
            {
                var ly = top + 8 + i * 18;
                svg.Circle(left + plotWidth + 36, ly, 4, Categorical[i % Categorical.Length], "legend-marker");
                svg.Text(left + plotWidth + 46, ly, groups[i], 11, cssClass: "legend", baseline: "middle");
            }
        }
        return svg.ToString();
    }

    /// <summary>Vertical bars from zero, labels beneath; an optional dashed reference line.</summary>
    public static string Bars(IReadOnlyList<Bar> bars, string title, string yLabel, double? referenceLine = null, string? referenceLabel = null)
    {
        if (bars.Count == 0) throw new ArgumentException("No bars to plot.", nameof(bars));
        var barWidth = Math.Clamp(460.0 / bars.Count, 8, 48);
        var labelRoom = Math.Min(140, bars.Max(b => b.Label.Length) * CharWidth * 0.8 + 10);
        const double left = 64, top = 40, plotHeight = 260;
        var plotWidth = bars.Count * barWidth;
        var width = left + plotWidth + 40;
        var height = top + plotHeight + labelRoom + 30;
        var values = bars.Select(b => b.Value).Where(double.IsFinite).Append(0).Concat(referenceLine is { } r ? [r] : []).ToArray();
        var yAxis = new Axis(values.Min(), values.Max(), top + plotHeight, top);
        var xAxis = new Axis(0, bars.Count, left, left + plotWidth);

        var svg = new SvgWriter(width, height);
        svg.Text(left, 20, title, 13, weight: "bold", cssClass: "title");
        YAxis(svg, yAxis, left, yLabel);
        svg.Line(left, yAxis.Pixel(0), left + plotWidth, yAxis.Pixel(0), "#444444", 1, "baseline");
        for (var i = 0; i < bars.Count; i++)
        {
            var value = double.IsFinite(bars[i].Value) ? bars[i].Value : 0;
            var y0 = yAxis.Pixel(0);
            var y1 = yAxis.Pixel(value);
            var x = xAxis.Pixel(i) + barWidth * 0.1;
            svg.Rect(x, Math.Min(y0, y1), barWidth * 0.8, Math.Abs(y1 - y0), value >= 0 ? Categorical[0] : Categorical[2], "bar",
                tooltip: $"{bars[i].Label}: {Table.FormatNumber(bars[i].Value, 4)}");
            svg.Text(x + barWidth * 0.4, top + plotHeight + 10, bars[i].Label, 10, "end", "bar-label", rotate: -50);
        }
        if (referenceLine is { } rl)
        {
            svg.Line(left, yAxis.Pixel(rl), left + plotWidth, yAxis.Pixel(rl), "#e15759", 1.2, "reference", "5 3");
            if (referenceLabel is not null)
                svg.Text(left + plotWidth, yAxis.Pixel(rl) - 4, referenceLabel, 10, "end", "reference-label", "#e15759");
        }
        return svg.ToString();
    }

    static void Axes(SvgWriter svg, Axis x, Axis y, string xLabel, string yLabel)
    {
        foreach (var tick in x.Ticks())
        {
            var px = x.Pixel(tick);
            svg.Line(px, y.PixelStart, px, y.PixelEnd, "#eeeeee", 1, "grid");
            svg.Text(px, y.PixelStart + 16, x.Label(tick), 10, "middle", "tick-label");
        }
        YAxis(svg, y, x.PixelStart, yLabel, gridTo: x.PixelEnd);
        svg.Line(x.PixelStart, y.PixelStart, x.PixelEnd, y.PixelStart, "#444444", 1, "axis");
        svg.Text((x.PixelStart + x.PixelEnd) / 2, y.PixelStart + 36, xLabel, 11, "middle", "axis-title");
    }

    static void YAxis(SvgWriter svg, Axis y, double left, string yLabel, double? gridTo = null)
    {
        foreach (var tick in y.Ticks())
        {
            var py = y.Pixel(tick);
            if (gridTo is { } right) svg.Line(left, py, right, py, "#eeeeee", 1, "grid");
            svg.Text(left - 6, py, y.Label(tick), 10, "end", "tick-label", baseline: "middle");
        }
        svg.Line(left, y.PixelStart, left, y.PixelEnd, "#444444", 1, "axis");
        var middle = (y.PixelStart + y.PixelEnd) / 2;
        svg.Text(16, middle, yLabel, 11, "middle", "axis-title", rotate: -90);
    }

    static void ColourBar(SvgWriter svg, ColourScale scale, double x, double y, double height)
    {
        const int steps = 20;
        var stepHeight = height / steps;
        for (var i = 0; i < steps; i++)
        {
            // Top of the bar is the maximum.
            var value = scale.Max - (i + 0.5) / steps * (scale.Max - scale.Min);
            svg.Rect(x, y + i * stepHeight, 14, stepHeight + 0.3, scale.Colour(value), "scale");
        }
        svg.Rect(x, y, 14, height, "none", "scale-frame", "#888888", 0.5);
        var decimals = Math.Max(0, 2 - (int)Math.Floor(Math.Log10(Math.Max(Math.Abs(scale.Max), Math.Abs(scale.Min)) + 1e-12)));
        decimals = Math.Min(decimals, 3);
        svg.Text(x + 18, y + 4, Table.FormatNumber(scale.Max, decimals), 10, cssClass: "scale-label", baseline: "middle");
        if (scale.Diverging)
            svg.Text(x + 18, y + height / 2, Table.FormatNumber(scale.Centre, decimals), 10, cssClass: "scale-label", baseline: "middle");
        svg.Text(x + 18, y + height - 4, Table.FormatNumber(scale.Min, decimals), 10, cssClass: "scale-label", baseline: "middle");
    }

    static IEnumerable<double> Values(double[,] matrix)
    {
        foreach (var v in matrix) yield return v;
    }

    static int MaxLength(IReadOnlyList<string> labels) => labels.Count == 0 ? 0 : labels.Max(l => SvgWriter.Escape(l).Length);
}
