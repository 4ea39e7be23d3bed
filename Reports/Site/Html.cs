using System.Globalization;
using System.Net;
using System.Text;

namespace Verification.Reports.Site;

/// <summary>The pieces every page of the report is written from: escaping, the page frame, tables.</summary>
static class Html
{
    public static string E(string text) => WebUtility.HtmlEncode(text);

    public static string Page(string title, string body, string extraHead = "") =>
        $$"""
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{E(title)}} · Verification</title>
        <link rel="stylesheet" href="{{ReportSite.StyleFile}}">
        {{extraHead}}
        </head>
        <body>
        <nav><a href="{{ReportSite.IndexFile}}">Findings</a> <a href="{{ReportSite.IndexFile}}#explorer">Attention explorer</a></nav>
        <main>
        {{body}}
        </main>
        </body>
        </html>

        """;

    /// <summary>A table from rows of cells; cells that parse as numbers are right-aligned.</summary>
    public static string Table(IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows, string cssClass = "data")
    {
        var text = new StringBuilder();
        text.Append($"<table class=\"{cssClass}\"><thead><tr>");
        foreach (var h in header) text.Append("<th>").Append(E(h)).Append("</th>");
        text.Append("</tr></thead><tbody>\n");
        foreach (var row in rows)
        {
            text.Append("<tr>");
            foreach (var cell in row)
                text.Append(IsNumber(cell) ? "<td class=\"num\">" : "<td>").Append(E(cell)).Append("</td>");
            text.Append("</tr>\n");
        }
        text.Append("</tbody></table>");
        return text.ToString();
    }

    static bool IsNumber(string cell) => double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out _);

    /// <summary>A verdict as a coloured badge; the class names the verdict for the stylesheet and for tests.</summary>
    public static string Badge(Verdict verdict) =>
        $"<span class=\"verdict verdict-{verdict.ToString().ToLowerInvariant()}\">{E(Finding.VerdictText(verdict))}</span>";

    /// <summary>Inline code spans (`x`) of the findings' Markdown as &lt;code&gt;.</summary>
    public static string Inline(string markdown)
    {
        var parts = markdown.Split('`');
        var text = new StringBuilder();
        for (var i = 0; i < parts.Length; i++) text.Append(i % 2 == 1 ? "<code>" + E(parts[i]) + "</code>" : E(parts[i]));
        return text.ToString();
    }
}
