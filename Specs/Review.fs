/// Reviewing a changed finding: `verification review` lists every received snapshot beside its approved one, grouped
/// by claim with flipped verdicts first, writes the same as a CI step summary, and accepts exactly as renaming by hand.
module Verification.Specs.Review

open System.IO
open NUnit.Framework
open Verification.Analysis
open Verification.Reports
open Verification.Reports.Review
open Verification.Specs.Snapshots
open Verification.Specs.Support

let private claim verdict = Finding("9.1", "a demo claim", "this spec", "zoo: compiled-heads", "score > 0.3", "0.250", verdict)

let private scores (first: float) (second: float) =
    Table(Column("layer", 0), Column("head", 0), Column("score", 3)).AddRow(0, 0, first).AddRow(0, 1, second).AddRow(1, 0, 0.05)

let private kinds (second: string) = Table("head", "kind").AddRow("L0H0", "previous-token").AddRow("L0H1", second)

let private grid (value: float) =
    ScanReport.ToSvg(HeadScores("previous-token", "A[q, q−1]", array2D [ [ value; 0.1 ]; [ 0.2; 0.05 ] ], 0.3), "demo")

let private findingRow verdict =
    (claim verdict).ToRow([ "Demo.scores_move.scores.verified.csv" ])

/// A folder as a failed test run leaves it: approved files, then received ones written by the real Approver.
let private failedRun (folder: string) =
    let approve = Approver(folder, true)
    approve.Verify("Demo.scores_move.scores", "csv", (scores 0.25 0.1).ToCsv()) |> ignore
    approve.Verify("Demo.scores_move.finding", "md", findingRow Verdict.Holds) |> ignore
    approve.Verify("Demo.labels_change.kinds", "csv", (kinds "BOS sink").ToCsv()) |> ignore
    approve.Verify("Demo.plot_changes.grid", "svg", grid 0.9) |> ignore
    let index = FindingsIndex.Build(folder, [])
    approve.VerifyAt(Path.Combine(folder, FindingsIndex.FileName), Path.Combine(folder, "README.received.md"), index, null, null) |> ignore
    let check = Approver(folder, false)
    let fails f = try f () |> ignore with :? ApprovalException -> ()
    // A number that moved (and one that flickers in its last place), a label, a verdict, a plot, a new snapshot, the index.
    fails (fun () -> check.Verify("Demo.scores_move.scores", "csv", (scores 0.75 0.101).ToCsv()))
    fails (fun () -> check.Verify("Demo.scores_move.finding", "md", findingRow Verdict.Refuted))
    fails (fun () -> check.Verify("Demo.labels_change.kinds", "csv", (kinds "induction").ToCsv()))
    fails (fun () -> check.Verify("Demo.plot_changes.grid", "svg", grid 0.1))
    fails (fun () -> check.Verify("Demo.new_claim.table", "csv", Table("a").AddRow(1).ToCsv()))
    fails (fun () ->
        check.VerifyAt(Path.Combine(folder, FindingsIndex.FileName), Path.Combine(folder, "README.received.md"),
                       index.Replace("| holds |", "| refuted on this model |"), null, null))

let private files (folder: string) =
    Directory.GetFiles folder |> Array.map (fun f -> Path.GetFileName f, File.ReadAllText f) |> Array.sortBy fst

[<Test>]
let ``a moved number, a changed label, a new snapshot and a flipped verdict each appear in the review, flips first`` () =
    use dir = new TempFolder()
    failedRun dir.Path
    let claims = SnapshotReview.Review dir.Path
    Assert.That(claims |> Seq.map (fun c -> c.Claim) |> List.ofSeq,
                eq [ "README"; "Demo.scores_move"; "Demo.labels_change"; "Demo.new_claim"; "Demo.plot_changes" ],
                "the index, then the claim whose verdict flipped, then the rest by name")
    Assert.That(claims[1].Title, eq "9.1 a demo claim (zoo: compiled-heads)", "a claim is named by its finding")
    let scoresChange = claims[1].Snapshots |> Seq.find (fun s -> s.Snapshot.Part = "scores")
    Assert.That(scoresChange.Moved |> Seq.map (fun c -> c.RowLabel, c.Column, c.Old, c.New) |> List.ofSeq, eq [ ("L0H0", "score", "0.250", "0.750") ])
    Assert.That(scoresChange.Cells.Count, eq 2, "the flicker 0.100 → 0.101 is counted, not listed as moved")

    let summary = ReviewPages.Markdown claims
    log summary
    let firstLine = summary.Split('\n')[0]
    Assert.That(firstLine, Does.StartWith "**Verdict flipped: 9.1 a demo claim (zoo: compiled-heads): holds → refuted on this model")
    summary |> mentions [ "| L0H0 | score | 0.250 | 0.750 | +0.5 |"; "1 within a unit of the last place"
                          "| L0H1 | kind | BOS sink | induction | (text) |"
                          "`Demo.new_claim.table.verified.csv`: new snapshot"
                          "`Demo.plot_changes.grid.verified.svg`: plot changed"
                          "`README.md`: 1 verdict(s) flipped" ]
    Assert.That(summary, Does.Not.Contain "| L0H1 | score |", "a flicker is not a moved cell")

    let html = ReviewPages.Html claims
    let plot = html.Substring(html.IndexOf "data-file=\"Demo.plot_changes.grid.verified.svg\"")
    Assert.That(System.Text.RegularExpressions.Regex.Matches(plot, "<img alt=\"(approved|received) plot\" src=\"data:image/svg\\+xml;base64,").Count, eq 2,
                "approved and received plots side by side")

[<Test>]
let ``accepting through the command gives the same files as renaming by hand`` () =
    use byCommand = new TempFolder()
    use byHand = new TempFolder()
    use html = new TempFolder()
    failedRun byCommand.Path
    failedRun byHand.Path
    for received in Directory.GetFiles(byHand.Path, "*.received.*") do
        let name = Path.GetFileName received
        let target = if name = "README.received.md" then FindingsIndex.FileName else name.Replace(".received.", ".verified.")
        File.Move(received, Path.Combine(byHand.Path, target), true)
    let code = Verification.Cli.Program.Main [| "review"; "--approved"; byCommand.Path; "--accept-all"; "--html"; html.Path |]
    Assert.That(code, eq 0)
    Assert.That(files byCommand.Path, eq (files byHand.Path))
    Assert.That(SnapshotReview.Pending byCommand.Path, Is.Empty)

[<Test>]
let ``accept PATTERN takes only the matching snapshots and reject-all keeps the approved files`` () =
    use dir = new TempFolder()
    use html = new TempFolder()
    failedRun dir.Path
    let approvedBefore = File.ReadAllText(dir.File "Demo.labels_change.kinds.verified.csv")
    let code = Verification.Cli.Program.Main [| "review"; "--approved"; dir.Path; "--accept"; "Demo.scores_move.*"; "--html"; html.Path |]
    Assert.That(code, eq 0)
    Assert.That(File.ReadAllText(dir.File "Demo.scores_move.scores.verified.csv"), Does.Contain "0.750")
    let pending = SnapshotReview.Pending dir.Path |> Seq.map (fun p -> p.Name) |> List.ofSeq
    Assert.That(pending, eq [ "Demo.labels_change.kinds"; "Demo.new_claim.table"; "Demo.plot_changes.grid"; "README" ])
    let code = Verification.Cli.Program.Main [| "review"; "--approved"; dir.Path; "--reject-all"; "--html"; html.Path |]
    Assert.That(code, eq 0)
    Assert.That(SnapshotReview.Pending dir.Path, Is.Empty)
    Assert.That(File.ReadAllText(dir.File "Demo.labels_change.kinds.verified.csv"), eq approvedBefore)
    Assert.That(File.Exists(dir.File "Demo.new_claim.table.verified.csv"), Is.False, "a rejected new snapshot leaves nothing")

[<Test>]
let ``the summary says so when nothing differs`` () =
    use dir = new TempFolder()
    Approver(dir.Path, true).Verify("Demo.same.table", "csv", Table("a").AddRow(1).ToCsv()) |> ignore
    let claims = SnapshotReview.Review dir.Path
    Assert.That(claims, Is.Empty)
    Assert.That(ReviewPages.Markdown(claims).Split('\n')[0], eq "No snapshot differs from its approved file.")

/// Runs review in this process; its exit code and standard error.
let private review (args: string list) =
    let error = new StringWriter()
    let original = System.Console.Error
    System.Console.SetError error
    try Verification.Cli.Program.Main(List.toArray ("review" :: args)), error.ToString()
    finally System.Console.SetError original

[<Test>]
let ``a received file that is not the snapshot's text format is refused by name, and nothing is accepted`` () =
    use dir = new TempFolder()
    use html = new TempFolder()
    failedRun dir.Path
    let binary = dir.File "Demo.scores_move.scores.received.csv"
    File.WriteAllBytes(binary, [| 0x50uy; 0x4Buy; 0x03uy; 0x04uy; 0xFFuy; 0x00uy |])
    let code, stderr = review [ "--approved"; dir.Path; "--accept-all"; "--html"; html.Path ]
    Assert.That(code, eq 1)
    stderr |> mentions [ binary; "is not a snapshot"; "not UTF-8" ]
    Assert.That(File.ReadAllText(dir.File "Demo.scores_move.scores.verified.csv"), Does.Contain "0.250", "the approved table is untouched")
    File.WriteAllText(binary, "layer,head,score\n0,0,0.25\u0007\n")
    let _, stderr = review [ "--approved"; dir.Path; "--accept-all"; "--html"; html.Path ]
    stderr |> mentions [ binary; "control character U+0007" ]
    File.WriteAllText(binary, "layer,head,score\n0,0,\"0.25\n")
    let _, stderr = review [ "--approved"; dir.Path; "--accept-all"; "--html"; html.Path ]
    stderr |> mentions [ binary; "not a table"; "quoted" ]
    File.Delete binary
    File.WriteAllText(dir.File "Demo.plot_changes.grid.received.svg", "<html><body>not a plot</body></html>")
    let _, stderr = review [ "--approved"; dir.Path; "--accept-all"; "--html"; html.Path ]
    stderr |> mentions [ "Demo.plot_changes.grid.received.svg"; "not an <svg> document" ]

[<Test>]
let ``a received plot's scripts never reach review html: plots are shown as images`` () =
    use dir = new TempFolder()
    use html = new TempFolder()
    failedRun dir.Path
    let received = dir.File "Demo.plot_changes.grid.received.svg"
    let hostile = File.ReadAllText(received).Replace("</svg>", "<script>alert(1)</script><a href=\"javascript:alert(2)\"><text onclick=\"alert(3)\">x</text></a></svg>")
    File.WriteAllText(received, hostile)
    let code, _ = review [ "--approved"; dir.Path; "--html"; html.Path ]
    Assert.That(code, eq 0)
    let page = File.ReadAllText(Path.Combine(html.Path, ReviewPages.HtmlFile))
    for text in [ "<script"; "javascript:"; "onclick" ] do
        Assert.That(page, Does.Not.Contain text, "the received SVG's markup is not in the page")
    let encoded = System.Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes hostile)
    Assert.That(page, Does.Contain("<img alt=\"received plot\" src=\"data:image/svg+xml;base64," + encoded + "\">"), "shown as an image, which runs no script")

[<Test>]
let ``an accept pattern that matches nothing is an error that lists what was received, and accepts nothing`` () =
    use dir = new TempFolder()
    use html = new TempFolder()
    failedRun dir.Path
    let before = SnapshotReview.Pending dir.Path |> Seq.length
    let code, stderr = review [ "--approved"; dir.Path; "--accept"; "Demo.scores_move.*"; "--accept"; "HeadDetectors.typo*"; "--html"; html.Path ]
    Assert.That(code, eq 1)
    stderr |> mentions [ "--accept 'HeadDetectors.typo*' matches none of the 6 received snapshot(s)"; "Demo.labels_change.kinds"; "nothing was accepted" ]
    Assert.That(SnapshotReview.Pending dir.Path |> Seq.length, eq before, "the matching pattern was not applied either")
