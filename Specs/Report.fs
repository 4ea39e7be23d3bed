/// The report a researcher opens first: every approved finding with its evidence, and an attention explorer whose
/// numbers are the run's own, checked in a real browser (headless Chromium over the DevTools protocol).
module Verification.Specs.Report

open System
open System.IO
open System.Text.Json.Nodes
open System.Text.RegularExpressions
open NUnit.Framework
open Verification.Cli.Commands
open Verification.Engine.Loading
open Verification.Engine.Models
open Verification.Fixtures
open Verification.Fixtures.Explorer
open Verification.Reports
open Verification.Reports.Site
open Verification.Specs.Browser
open Verification.Specs.Support

/// One real encoder, one zoo model, one pattern_lens folder (when ../shared is here): each way patterns reach the page.
let private explorerModels =
    [ "minilm"; "compiled-heads"; ExplorerModels.PatternLensPrefix + "pythia-14m" ] |> List.filter (fun m -> ExplorerModels.Available |> Seq.contains m)

let private promptsPerModel = 2

/// The site, written once by the CLI's own code into the test's output folder.
let private site =
    lazy
        (let folder = Path.Combine(TestContext.CurrentContext.WorkDirectory, "report-site")
         ReportCommand.Write(folder, Repository.Approved, explorerModels, promptsPerModel) |> ignore
         folder)

let private read name = File.ReadAllText(Path.Combine(site.Force(), name))

/// A finding file's row: the finding and its evidence files.
let private parse (file: string) =
    let struct (finding, evidence) = Finding.ParseRow(File.ReadAllText(file).Trim())
    finding, List.ofSeq evidence

let private findingFiles () =
    Directory.GetFiles(Repository.Approved, "*." + Finding.Part + ".verified.md") |> Array.sort

[<Test>]
let ``every approved finding has a page with its tables and plots inline, linked from the index`` () =
    let index = read ReportSite.IndexFile
    let files = findingFiles ()
    Assert.That(files.Length, Is.GreaterThan 40, "the approved findings")
    for file in files do
        let finding, evidence = parse file
        let page = ReportSite.FindingPage file
        Assert.That(index, Does.Contain(sprintf "href=\"%s\"" page), sprintf "the index links %s" finding.Id)
        let html = read page
        Assert.That(Regex.Matches(html, "<section class=\"evidence\"").Count, eq evidence.Length, sprintf "%s: one section per evidence file" page)
        Assert.That(html, Does.Not.Contain "class=\"missing\"", sprintf "%s: every evidence file exists" page)
        for e in evidence do
            let content = File.ReadAllText(Path.Combine(Repository.Approved, e))
            match Path.GetExtension e with
            | ".svg" ->
                // The plot itself is in the page, not a link to it.
                let firstElement = Regex.Match(content, "<svg[^>]*>").Value
                Assert.That(html, Does.Contain firstElement, sprintf "%s: %s inline" page e)
            | ".csv" ->
                let header = Csv.Parse(content)[0]
                for cell in header do
                    Assert.That(html, Does.Contain(sprintf "<th>%s</th>" (Net.WebUtility.HtmlEncode cell)), sprintf "%s: %s's column %s" page e cell)
            | _ -> ()
        Assert.That(html, Does.Contain(Finding.VerdictText finding.Verdict))
    let verdictBadges = Regex.Matches(index, "<tr data-verdict=").Count
    Assert.That(verdictBadges, eq files.Length, "one row per finding in the index")

[<Test>]
let ``the report fetches nothing from the network and opens from disk`` () =
    let files = Directory.GetFiles(site.Force())
    Assert.That(files |> Array.map Path.GetFileName, Does.Contain ReportSite.IndexFile)
    for file in files do
        let text = File.ReadAllText file
        // An SVG's xmlns is a name, not a request; src, href, url() and @import are requests.
        for pattern in [ @"(src|href)\s*=\s*[""']?(https?:)?//"; @"url\(\s*['""]?(https?:)?//"; @"@import" ] do
            Assert.That(Regex.IsMatch(text, pattern), Is.False, sprintf "%s matches %s" (Path.GetFileName file) pattern)
        for href in Regex.Matches(text, "(?:src|href)=\"([^\"#]+)") |> Seq.map (fun m -> m.Groups[1].Value) do
            Assert.That(File.Exists(Path.Combine(site.Force(), href)), sprintf "%s links %s, which is in the folder" (Path.GetFileName file) href)
    let script = read ReportSite.ExplorerScript
    Assert.That(script, Does.Not.Contain "fetch(", "file:// pages cannot fetch; prompt data are scripts")
    Assert.That(script, Does.Not.Contain "XMLHttpRequest")

[<Test>]
let ``prompt weights survive the page's 16-bit encoding within half a step`` () =
    let patterns = AttentionPatterns([| "a"; "b"; "c" |], null, [| [| 1.0f; 0.0f; 0.0f; 0.25f; 0.75f; 0.0f; 0.1f; 0.2f; 0.7f |] |], 1)
    let bytes = Convert.FromBase64String(ReportSite.EncodeWeights patterns)
    let decoded = Array.init 9 (fun i -> float (BitConverter.ToUInt16(bytes, 2 * i)) / 65535.0)
    let expected = patterns.Layers[0] |> Array.map float
    Assert.That(Array.map2 (fun a b -> abs (a - b)) expected decoded |> Array.max, Is.LessThanOrEqualTo(ReportSite.WeightStep / 2.0 + 1e-9))
    Assert.That(decoded[0], eq 1.0)
    Assert.That(decoded[1], eq 0.0)

// ---- in a real browser -------------------------------------------------------------------------------------------

let private browser () =
    match Chromium.find () with
    | Some path -> new Chromium.Browser(path)
    | None when Environment.GetEnvironmentVariable "CI" = "true" ->
        Assert.Fail(sprintf "Chromium is needed for the report's browser specs and is not at %A: .ci/run installs the Debian package chromium" Chromium.candidates)
        Unchecked.defaultof<_>
    | None ->
        Assert.Inconclusive(sprintf "no Chromium at %A: apt-get install chromium (CI installs it)" Chromium.candidates)
        Unchecked.defaultof<_>

let private fileUrl name = Uri(Path.Combine(site.Force(), name)).AbsoluteUri

/// Screenshots go to out/screenshots/ (docs/ holds the ones the README shows) and to the test's attachments.
let private screenshot (page: Chromium.Page) (name: string) =
    let path = Path.Combine(Repository.Root, "out", "screenshots", name + ".png")
    page.Screenshot path
    TestContext.AddTestAttachment(path, name)

let private numbers (node: JsonNode) = node.AsArray() |> Seq.map (fun v -> v.GetValue<float>()) |> Array.ofSeq

let private noErrors (page: Chromium.Page) = Assert.That(page.Errors, Is.Empty, "JavaScript errors or failed loads in the page")

/// A[l, h][q, ·] from an independent source: the engine's cache of hook_pattern for one run, or the pattern_lens file.
let private cachedRow (model: string) (shown: AttentionPatterns) (layer: int) (head: int) (query: int) =
    let n = shown.Length
    if model.StartsWith ExplorerModels.PatternLensPrefix then
        let lens = PatternLens.Read(Real.PatternLensFolders.Folder(model.Substring ExplorerModels.PatternLensPrefix.Length))
        let prompt = lens.Prompts() |> Seq.find (fun p -> p.Patterns.Tokens = shown.Tokens)
        Array.init n (fun k -> float (prompt.Patterns.A(layer, head, query, k)))
    else
        let choice = ModelCatalog.Load model
        let hook = Hooks.Pattern layer
        let cache = choice.Model.Run([| shown.Ids |], RunOptions.Caching hook).Cache[hook] // [1, head, query, key]
        Array.init n (fun k -> float cache.Data[(head * n + query) * n + k])

[<TestCaseSource(nameof explorerModels)>]
let ``in Chromium a clicked token shows each head's weights from it as the run's cache holds them`` (model: string) =
    let prompts = ExplorerModels.Load(model, promptsPerModel)
    let shown = prompts.Patterns[1]
    let scores = prompts.Scores().Tables[0]
    // The head the first detector scores highest, and a token in the middle of the prompt.
    let layer, head = [ for l in 0 .. scores.Layers - 1 do for h in 0 .. scores.Heads - 1 -> l, h ] |> List.maxBy (fun (l, h) -> scores[l, h])
    let query = shown.Length / 2
    use chromium = browser ()
    use page = chromium.Open(fileUrl (ReportSite.ExplorerPage model))
    let ready () = page.WaitUntil("document.body.dataset.ready === 'true'", "the prompt's patterns to load")
    ready ()
    page.Evaluate("(() => { const s = document.getElementById('prompt'); s.value = '1'; s.dispatchEvent(new Event('change')); return true; })()") |> ignore
    ready ()
    let cell = sprintf "#grid td[data-layer='%d'][data-head='%d']" layer head
    Assert.That(page.Evaluate(sprintf "Number(document.querySelector(\"%s\").dataset.score)" cell).GetValue<float>(),
                Is.EqualTo(Math.Round(scores[layer, head], 4)).Within 1e-9, "the grid cell holds the detector's score over the prompts shown")
    page.Evaluate(sprintf "document.querySelector(\"%s\").click(), true" cell) |> ignore
    page.Evaluate(sprintf "document.querySelector(\"#tokens .token[data-index='%d']\").click(), true" query) |> ignore
    Assert.That(page.Evaluate("document.getElementById('selected').textContent") |> string, eq (sprintf "L%dH%d" layer head), "the grid cell opened its head")
    Assert.That(page.Evaluate("document.querySelectorAll('#tokens .token').length").GetValue<int>(), eq shown.Length, "one span per token")

    let tolerance = ReportSite.WeightStep / 2.0 + 1e-7
    let onPage = page.Evaluate("[...document.querySelectorAll('#tokens .token')].map(t => Number(t.dataset.weight))") |> numbers
    let cached = cachedRow model shown layer head query
    let worst = Array.map2 (fun a b -> abs (a - b)) cached onPage |> Array.max
    log (sprintf "%s L%dH%d from token %d: max |page − cache| %.2e over %d keys" model layer head query worst shown.Length)
    Assert.That(worst, Is.LessThanOrEqualTo tolerance, "the selected head's weights from the clicked token")

    // Every head of the layer: the key the page says it attends to most is the cache's largest weight (ties within a step).
    let rows = page.Evaluate("[...document.querySelectorAll('#heads-from tr[data-head]')].map(r => [Number(r.dataset.head), Number(r.dataset.topKey), Number(r.dataset.topWeight)])").AsArray()
    Assert.That(rows.Count, eq prompts.HeadCount, "a row per head of the layer")
    for row in rows do
        let h, key, weight = row[0].GetValue<int>(), row[1].GetValue<int>(), row[2].GetValue<float>()
        let cachedHead = cachedRow model shown layer h query
        Assert.That(abs (cachedHead[key] - weight), Is.LessThanOrEqualTo tolerance, sprintf "H%d's top weight" h)
        Assert.That(cachedHead[key], Is.GreaterThanOrEqualTo(Array.max cachedHead - 2.0 * tolerance), sprintf "H%d's top key is the cache's largest" h)
    noErrors page
    screenshot page ("explorer-" + FileNames.Slug model)

[<Test>]
let ``in Chromium the index lists every finding and a finding page draws its plots`` () =
    use chromium = browser ()
    use page = chromium.Open(fileUrl ReportSite.IndexFile)
    let files = findingFiles ()
    Assert.That(page.Evaluate("document.querySelectorAll('table.findings tbody tr').length").GetValue<int>(), eq files.Length)
    screenshot page "index"
    // A finding with plots: follow its link as a reader would, and check each plot is drawn (has a size).
    let file = files |> Array.find (fun f -> snd (parse f) |> List.exists (fun e -> e.EndsWith ".svg"))
    let plots = snd (parse file) |> List.filter (fun e -> e.EndsWith ".svg") |> List.length
    page.Evaluate(sprintf "document.querySelector(\"a[href='%s']\").click(), true" (ReportSite.FindingPage file)) |> ignore
    page.WaitUntil(sprintf "location.href.endsWith('%s') && document.readyState === 'complete'" (ReportSite.FindingPage file), "the finding page")
    Assert.That(page.Evaluate("document.querySelectorAll('section.evidence .plot svg').length").GetValue<int>(), eq plots)
    Assert.That(page.Evaluate("Math.min(...[...document.querySelectorAll('section.evidence .plot svg')].map(s => s.getBoundingClientRect().width))").GetValue<float>(),
                Is.GreaterThan 100.0, "every plot is drawn")
    screenshot page "finding"
    noErrors page
