using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Verification.Analysis;
using Verification.Engine;
using static Verification.Reports.Site.Html;

namespace Verification.Reports.Site;

/// <summary>One file of the report: a plain name (the site is one flat folder) and its text.</summary>
public sealed record SiteFile(string Name, string Content);

/// <summary>
/// The static report: the findings index with every verdict, one page per finding with its approved tables and plots
/// inline, and one attention explorer per model. Every link is relative and nothing is fetched from the network, so
/// the folder opens from disk; prompt data are scripts, not fetched JSON, because browsers refuse fetch on file://.
/// </summary>
public static class ReportSite
{
    public const string IndexFile = "index.html";
    public const string StyleFile = "report.css";
    public const string ExplorerScript = "explorer.js";

    /// <summary>Patterns are stored as 16-bit fractions of 1: a weight read back from the page is within half a step.</summary>
    public const double WeightStep = 1.0 / ushort.MaxValue;

    public static string FindingPage(string findingFile) => "finding-" + FileNames.Slug(StemOf(findingFile)) + ".html";
    public static string ExplorerPage(string model) => "explorer-" + FileNames.Slug(model) + ".html";
    public static string PromptScript(string model, int prompt) => "explorer-" + FileNames.Slug(model) + "-" + prompt.ToString(CultureInfo.InvariantCulture) + ".js";

    static string StemOf(string findingFile) => Path.GetFileName(findingFile).Replace("." + Finding.Part + ".verified.md", "", StringComparison.Ordinal);

    /// <param name="approvedFolder">The approved snapshots: the findings, their evidence, and the index README.md.</param>
    /// <param name="models">The explorer's models, in the order the index lists them.</param>
    public static IReadOnlyList<SiteFile> Build(string approvedFolder, IReadOnlyList<ModelPrompts> models, IProgress<WorkProgress>? progress = null)
    {
        if (!Directory.Exists(approvedFolder)) throw new DirectoryNotFoundException($"no approved snapshots at {approvedFolder}");
        var findingFiles = Directory.GetFiles(approvedFolder, "*." + Finding.Part + ".verified.md").Order(StringComparer.Ordinal).ToList();
        var findings = findingFiles.Select(f =>
        {
            try { return (File: f, Parsed: Finding.ParseRow(File.ReadAllText(f).Trim())); }
            catch (FormatException e) { throw new FormatException($"{f}: {e.Message}", e); }
        }).ToList();
        var total = 1 + findings.Count + models.Count;
        var done = 0;
        void Step(string what) => progress?.Report(new WorkProgress(what, ++done, total));

        var files = new List<SiteFile>
        {
            new(StyleFile, Resource(StyleFile)),
            new(ExplorerScript, Resource(ExplorerScript)),
        };
        files.Add(new(IndexFile, Index(approvedFolder, findings, models)));
        Step("index");
        foreach (var (file, (finding, evidence)) in findings)
        {
            files.Add(new(FindingPage(file), FindingHtml(approvedFolder, finding, evidence)));
            Step("findings");
        }
        foreach (var model in models)
        {
            files.AddRange(Explorer(model));
            Step("explorers");
        }
        return files;
    }

    static string Index(string approvedFolder, List<(string File, (Finding Finding, IReadOnlyList<string> Evidence) Parsed)> findings, IReadOnlyList<ModelPrompts> models)
    {
        var body = new StringBuilder();
        body.Append("<h1>Findings</h1>\n");
        body.Append("<p>Every published claim this suite checks, measured by its definition on one model, with the criterion written before the " +
            "measurement beside the number measured. Each claim links to the approved tables and plots that back it. " +
            "“Refuted on this model” means the numbers say the claim does not hold there; “borderline” means the interval straddles the threshold.</p>\n");
        body.Append("<p class=\"counts\">").Append(findings.Count.ToString(CultureInfo.InvariantCulture)).Append(" findings: ");
        body.Append(string.Join(" ", Enum.GetValues<Verdict>().Select(v => (v, n: findings.Count(f => f.Parsed.Finding.Verdict == v))).Where(x => x.n > 0)
            .Select(x => $"{Badge(x.v)} {x.n}")));
        body.Append("</p>\n");
        foreach (var (kind, heading, blurb) in FindingsIndex.Sections)
        {
            var group = findings.Where(f => FindingsIndex.KindOf(f.Parsed.Finding.Model) == kind)
                .OrderBy(f => FindingsIndex.SortKey(f.Parsed.Finding.Id), StringComparer.Ordinal).ToList();
            body.Append($"<h2>{E(heading)} ({group.Count})</h2>\n<p>{E(blurb)}</p>\n");
            body.Append("<table class=\"findings\"><thead><tr><th>id</th><th>claim</th><th>source</th><th>model</th><th>criterion</th><th>measured</th><th>verdict</th></tr></thead><tbody>\n");
            foreach (var (file, (f, _)) in group)
                body.Append($"<tr data-verdict=\"{f.Verdict.ToString().ToLowerInvariant()}\"><td><a href=\"{FindingPage(file)}\">{E(f.Id)}</a></td>" +
                    $"<td><a href=\"{FindingPage(file)}\">{Inline(f.Claim)}</a></td><td>{Inline(f.Source)}</td><td>{Inline(f.Model)}</td>" +
                    $"<td>{Inline(f.Expected)}</td><td>{Inline(f.Measured)}</td><td>{Badge(f.Verdict)}</td></tr>\n");
            body.Append("</tbody></table>\n");
        }

        // The published claims are listed in the generated index (Approved/README.md); the report shows that table as is.
        var readme = Path.Combine(approvedFolder, FindingsIndex.FileName);
        if (File.Exists(readme))
        {
            var text = File.ReadAllText(readme);
            var at = text.IndexOf("## Published numbers on real checkpoints", StringComparison.Ordinal);
            if (at >= 0)
            {
                body.Append("<h2>Published numbers on real checkpoints</h2>\n<p>These specs run when the checkpoint is on disk and end Inconclusive, " +
                    "naming what to download, when it is not.</p>\n");
                foreach (var block in MarkdownTable.Blocks(text[at..]).Where(b => b.Header is not null))
                    body.Append(Table(block.Header!, block.Rows)).Append('\n');
            }
        }

        body.Append("<h2 id=\"explorer\">Attention explorer</h2>\n<p>Every head's attention on a few prompts of each model: pick a prompt and a head, " +
            "hover or click a token to see where each head attends from it, and open a head from the grid of detector scores.</p>\n");
        body.Append("<table class=\"models\"><thead><tr><th>model</th><th>source</th><th>layers × heads</th><th>prompts</th><th>what</th></tr></thead><tbody>\n");
        foreach (var m in models)
            body.Append($"<tr><td><a href=\"{ExplorerPage(m.Model)}\">{E(m.Model)}</a></td><td>{E(SourceText(m.Source))}</td>" +
                $"<td class=\"num\">{m.LayerCount} × {m.HeadCount}</td><td class=\"num\">{m.Patterns.Count}</td><td>{E(m.Description)}</td></tr>\n");
        body.Append("</tbody></table>\n");
        return Page("Findings", body.ToString());
    }

    static string SourceText(PromptSource source) => source switch
    {
        PromptSource.RealModel => "real model, run here",
        PromptSource.PatternLens => "real model, patterns saved by pattern_lens",
        _ => "zoo model, run here",
    };

    static string FindingHtml(string approvedFolder, Finding f, IReadOnlyList<string> evidence)
    {
        var body = new StringBuilder();
        body.Append($"<h1><span class=\"id\">{E(f.Id)}</span> {Inline(f.Claim)}</h1>\n");
        body.Append("<dl class=\"finding\">");
        body.Append($"<dt>source</dt><dd>{Inline(f.Source)}</dd><dt>model</dt><dd>{Inline(f.Model)}</dd>");
        body.Append($"<dt>criterion</dt><dd>{Inline(f.Expected)}</dd><dt>measured</dt><dd>{Inline(f.Measured)}</dd><dt>verdict</dt><dd>{Badge(f.Verdict)}</dd>");
        body.Append("</dl>\n");
        foreach (var name in evidence)
        {
            var path = Path.Combine(approvedFolder, name);
            body.Append($"<section class=\"evidence\" data-file=\"{E(name)}\"><h2>{E(PartOf(name))}</h2>\n");
            if (!File.Exists(path)) body.Append($"<p class=\"missing\">missing: {E(name)} is not in the approved snapshots.</p>");
            else body.Append(Evidence(name, File.ReadAllText(path)));
            body.Append($"\n<p class=\"file\">{E(name)}</p></section>\n");
        }
        return Page(f.Id + " " + f.Claim, body.ToString());
    }

    /// <summary>"Spec.test.distances.verified.csv" → "distances (csv)".</summary>
    static string PartOf(string name)
    {
        var parts = name.Split('.');
        return parts.Length >= 5 ? $"{parts[^3]} ({parts[^1]})" : name;
    }

    static string Evidence(string name, string content) => Path.GetExtension(name) switch
    {
        ".csv" => Csv.Parse(content) is { Count: > 0 } rows ? Table(rows[0], rows.Skip(1)) : "<p>(empty table)</p>",
        ".svg" => "<div class=\"plot\">" + StripXmlDeclaration(content) + "</div>",
        ".md" => string.Concat(MarkdownTable.Blocks(content).Select(b => b.Header is not null ? Table(b.Header, b.Rows) : $"<pre>{E(b.Text)}</pre>")),
        _ => $"<pre>{E(content)}</pre>",
    };

    internal static string StripXmlDeclaration(string svg) =>
        svg.StartsWith("<?xml", StringComparison.Ordinal) ? svg[(svg.IndexOf("?>", StringComparison.Ordinal) + 2)..].TrimStart() : svg;

    /// <summary>The explorer page of one model and one script per prompt holding its patterns.</summary>
    static IEnumerable<SiteFile> Explorer(ModelPrompts model)
    {
        var scores = model.Scores();
        var meta = new JsonObject
        {
            ["model"] = model.Model,
            ["source"] = SourceText(model.Source),
            ["description"] = model.Description,
            ["layers"] = model.LayerCount,
            ["heads"] = model.HeadCount,
            ["weightStep"] = WeightStep,
            ["prompts"] = new JsonArray([.. model.Patterns.Select((p, i) => (JsonNode)new JsonObject
            {
                ["text"] = model.Texts[i],
                ["length"] = p.Length,
                ["script"] = PromptScript(model.Model, i),
            })]),
            ["detectors"] = new JsonArray([.. scores.Tables.Select(t => (JsonNode)new JsonObject
            {
                ["name"] = t.Detector,
                ["definition"] = t.Definition,
                ["flagRule"] = t.FlagRule.Length > 0 ? t.FlagRule : $"score > {t.Threshold.ToString(CultureInfo.InvariantCulture)}",
                ["values"] = new JsonArray([.. Enumerable.Range(0, t.Layers).Select(l => (JsonNode)new JsonArray(
                    [.. Enumerable.Range(0, t.Heads).Select(h => double.IsFinite(t[l, h]) ? JsonValue.Create(Math.Round(t[l, h], 4)) : null)]))]),
                ["flagged"] = new JsonArray([.. Enumerable.Range(0, t.Layers).Select(l => (JsonNode)new JsonArray(
                    [.. Enumerable.Range(0, t.Heads).Select(h => (JsonNode)JsonValue.Create(t.IsFlagged(l, h)))]))]),
            })]),
            ["notes"] = new JsonArray([.. scores.Notes.Select(n => (JsonNode)JsonValue.Create(n))]),
        };
        var body = $$"""
            <h1>{{E(model.Model)}}</h1>
            <p class="about">{{E(SourceText(model.Source))}}. {{E(model.Description)}}.</p>
            <div class="controls">
            <label>Prompt <select id="prompt"></select></label>
            <label>Layer <select id="layer"></select></label>
            <label>Head <select id="head"></select></label>
            </div>
            <p class="hint" id="query-note">Hover over a token to see where the selected head attends from it; click to keep it.</p>
            <div id="tokens" class="tokens"></div>
            <div class="panels">
            <section><h2>Pattern of <span id="selected">L0H0</span></h2><canvas id="pattern" width="360" height="360"></canvas><p id="pattern-readout" class="readout"></p></section>
            <section><h2>Every head of layer <span id="from-layer">0</span> from <span id="from-token">—</span></h2><table id="heads-from" class="data"></table></section>
            <section><h2>Detector scores over these prompts</h2><label>Detector <select id="detector"></select></label><table id="grid" class="grid"></table><p id="definition" class="readout"></p></section>
            </div>
            <script>window.EXPLORER = {{meta.ToJsonString()}};</script>
            <script src="{{ExplorerScript}}"></script>
            """;
        yield return new SiteFile(ExplorerPage(model.Model), Page(model.Model + " · attention explorer", body));
        for (var i = 0; i < model.Patterns.Count; i++)
        {
            var p = model.Patterns[i];
            var data = new JsonObject
            {
                ["tokens"] = new JsonArray([.. p.Tokens.Select(t => (JsonNode)JsonValue.Create(t))]),
                ["weights"] = EncodeWeights(p),
            };
            yield return new SiteFile(PromptScript(model.Model, i), $"Explorer.promptLoaded({i.ToString(CultureInfo.InvariantCulture)}, {data.ToJsonString()});\n");
        }
    }

    /// <summary>
    /// All layers' patterns [layer, head, query, key] as little-endian 16-bit fractions of 1, in base64: a prompt of
    /// TinyStories-1M (128 heads, 60 tokens) is 0.6 MB instead of several as JSON numbers.
    /// </summary>
    public static string EncodeWeights(Engine.Models.AttentionPatterns patterns)
    {
        var size = patterns.HeadCount * patterns.Length * patterns.Length;
        var bytes = new byte[patterns.LayerCount * size * 2];
        for (var l = 0; l < patterns.LayerCount; l++)
            for (var i = 0; i < size; i++)
                BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan((l * size + i) * 2), (ushort)Math.Round(Math.Clamp(patterns.Layers[l][i], 0f, 1f) * ushort.MaxValue));
        return Convert.ToBase64String(bytes);
    }

    internal static string Resource(string name)
    {
        using var stream = typeof(ReportSite).Assembly.GetManifestResourceStream("Verification.Reports.Site." + name)
            ?? throw new InvalidOperationException($"the report's {name} is not embedded in {typeof(ReportSite).Assembly.GetName().Name}");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }
}
