/// The approval mechanism itself: snapshots that differ or are missing fail, rounding keeps them stable,
/// acceptance writes them, and stale received files are cleaned up.
module Verification.Specs.Approvals

open System.IO
open NUnit.Framework
open Verification.Reports
open Verification.Specs.Snapshots
open Verification.Specs.Support

let private table (values: float list) =
    let t = Table(Column("head", 0), Column("score", 3))
    values |> List.iteri (fun i v -> t.AddRow(box i, box v) |> ignore)
    t

[<Test>]
let ``a snapshot that differs from its approved file fails with a diff and writes the received file`` () =
    use dir = new TempFolder()
    File.WriteAllText(dir.File "t.verified.csv", "head,score\n0,0.500\n1,0.250\n")
    let approver = Approver(dir.Path, accept = false)
    let error = throws<ApprovalException> (fun () -> approver.Verify("t", "csv", (table [ 0.5; 0.75 ]).ToCsv()) |> ignore)
    error.Message |> mentions [ "- 1,0.250"; "+ 1,0.750"; "t.received.csv" ]
    Assert.That(File.ReadAllText(dir.File "t.received.csv"), eq "head,score\n0,0.500\n1,0.750\n")
    Assert.That(File.ReadAllText(dir.File "t.verified.csv"), eq "head,score\n0,0.500\n1,0.250\n", "the approved file is untouched")

/// Approves `received` against an approved file holding `approved`; returns the failure message, or None on a pass.
let private compare (extension: string) (approved: string) (received: string) (tolerance: Tolerance) (columns: (string * Tolerance) list) =
    use dir = new TempFolder()
    File.WriteAllText(dir.File("t.verified." + extension), approved)
    let approver = Approver(dir.Path, accept = false)
    let columns = if columns.IsEmpty then null else readOnlyDict columns
    try
        approver.Verify("t", extension, received, tolerance, columns) |> ignore
        Assert.That(File.ReadAllText(dir.File("t.verified." + extension)), eq approved, "a pass leaves the approved file untouched")
        Assert.That(File.Exists(dir.File("t.received." + extension)), Is.False, "a pass leaves no received file")
        None
    with :? ApprovalException as e ->
        Assert.That(File.Exists(dir.File("t.received." + extension)), Is.True, "a failure writes the received file")
        Some e.Message

let private passes ext approved received = Assert.That(compare ext approved received null [], eq None)

let private fails ext approved received = (compare ext approved received null []).Value

[<Test>]
let ``a number one unit away in its last printed place is the same snapshot`` () =
    passes "svg" "<text>7.462</text>\n" "<text>7.461</text>\n"
    passes "csv" "head,score\n0,7.462\n" "head,score\n0,7.463\n"
    passes "md" "| L0H1 | 0.954 |\n" "| L0H1 | 0.953 |\n"
    // A plot's "0.##" numbers drop trailing zeros: 7.5 is 7.50, one unit from 7.49.
    passes "svg" "<rect x=\"7.5\" y=\"120\"/>\n" "<rect x=\"7.49\" y=\"120.01\"/>\n"
    passes "txt" "-0.001\n" "0.000\n"

[<Test>]
let ``a number that moves further than its tolerance fails and the message names it with its change`` () =
    let message = fails "svg" "<text>a</text>\n<text>7.462</text>\n" "<text>a</text>\n<text>7.470</text>\n"
    message |> mentions [ "1 number(s) moved"; "line 2"; "7.462 → 7.470"; "change +0.008"; "allowed ±0.001" ]
    let table = fails "csv" "head,score\n0,0.500\n1,0.250\n" "head,score\n0,0.501\n1,0.750\n"
    table |> mentions [ "line 3 (column 'score'): 0.250 → 0.750"; "change +0.5"; "1 other number(s) differ within tolerance" ]

[<Test>]
let ``integers are counts and indices and must match exactly`` () =
    fails "md" "17 of 29 features\n" "18 of 29 features\n" |> mentions [ "17 → 18" ]
    fails "csv" "head,n\nL1H0,3\n" "head,n\nL1H1,3\n" |> mentions [ "text (not numbers) changed on line(s) 2" ]

[<Test>]
let ``a changed label fails even when every number matches`` () =
    fails "csv" "head,score\nL0H1,0.954\n" "head,score\nL0H2,0.954\n" |> mentions [ "text (not numbers) changed on line(s) 2" ]
    fails "md" "| 3.1 | holds |\n" "| 3.1 | refuted on this model |\n" |> mentions [ "line(s) 1"; "- | 3.1 | holds |" ]
    fails "svg" "<text>previous-token</text>\n" "<text>previous token</text>\n" |> ignore

[<Test>]
let ``a changed number of rows fails`` () =
    fails "csv" "head,score\n0,0.5\n" "head,score\n0,0.5\n1,0.2\n" |> mentions [ "rows: 2 approved, 3 received" ]
    fails "txt" "a\nb\n" "a\n" |> mentions [ "lines: 2 approved, 1 received" ]
    fails "csv" "a,b\n1,2\n" "a,b,c\n1,2,3\n" |> mentions [ "row 1 has 2 cells approved and 3 received" ]

[<Test>]
let ``a wider tolerance declared for a snapshot or a column is honoured and no wider`` () =
    Assert.That(compare "svg" "<text>7.462</text>\n" "<text>7.470</text>\n" (Tolerance.Abs 0.01) [], eq None)
    Assert.That((compare "svg" "<text>7.462</text>\n" "<text>7.480</text>\n" (Tolerance.Abs 0.01) []).IsSome, Is.True)
    Assert.That(compare "txt" "1000.0\n" "1009.0\n" (Tolerance.Rel 0.01) [], eq None)
    Assert.That((compare "txt" "1000.0\n" "1011.0\n" (Tolerance.Rel 0.01) []).IsSome, Is.True)
    // Per column: loss may move by 0.05, score keeps the default.
    let approved = "step,loss,score\n10,2.500,0.500\n"
    Assert.That(compare "csv" approved "step,loss,score\n10,2.540,0.501\n" null [ "loss", Tolerance.Abs 0.05 ], eq None)
    let message = (compare "csv" approved "step,loss,score\n10,2.540,0.510\n" null [ "loss", Tolerance.Abs 0.05 ]).Value
    message |> mentions [ "line 2 (column 'score'): 0.500 → 0.510" ]
    Assert.That(message, Does.Not.Contain "column 'loss'")
    // A count column may be declared approximate too.
    Assert.That(compare "csv" "k,n\n1,17\n" "k,n\n1,18\n" null [ "n", Tolerance.Abs 1.0 ], eq None)

[<Test>]
let ``a table's column tolerance travels with Approve.Table`` () =
    let t = Table(Column("head", 0), Column("score", 3, Tolerance.Abs 0.01))
    t.AddRow("L0H0", 0.5) |> ignore
    Assert.That(t.Columns.[1].Tolerance, eq (Tolerance.Abs 0.01))

[<Test>]
let ``a plot's colour that moves a few units per channel is the same picture, a different colour band is not`` () =
    passes "svg" "<rect fill=\"#6baed6\" x=\"1\"/>\n" "<rect fill=\"#6aafd5\" x=\"1\"/>\n"
    let message = fails "svg" "<rect fill=\"#6baed6\" x=\"1\"/>\n" "<rect fill=\"#4292c6\" x=\"1\"/>\n"
    message |> mentions [ "line(s) 1" ]
    // Only plots: in a table a colour code is text like any other.
    fails "csv" "head,colour\n0,#6baed6\n" "head,colour\n0,#6aafd5\n" |> mentions [ "line(s) 2" ]
    // The rest of the line must still match exactly.
    fails "svg" "<rect fill=\"#6baed6\" x=\"a\"/>\n" "<rect fill=\"#6aafd5\" x=\"b\"/>\n" |> ignore

[<Test>]
let ``numbers inside names, colours and versions are text, not numbers`` () =
    let struct (literals, numbers) = SnapshotComparer.Tokenize "L1H0 F31 #a1b2c3 v1.2.3 x=-0.25 1e-6 (0.954)"
    Assert.That(numbers |> Seq.map (fun n -> n.Text) |> List.ofSeq, eq [ "-0.25"; "1e-6"; "0.954" ])
    Assert.That(numbers.[1].LastPlaceUnit, Is.EqualTo(1e-6).Within(1e-18))
    Assert.That(literals.[0], eq "L1H0 F31 #a1b2c3 v1.2.3 x=")

[<Test>]
let ``a snapshot without an approved file fails and is not silently accepted`` () =
    use dir = new TempFolder()
    let approver = Approver(dir.Path, accept = false)
    let error = throws<ApprovalException> (fun () -> approver.Verify("new", "txt", "hello") |> ignore)
    error.Message |> mentions [ "No approved snapshot"; "new.received.txt"; "VERIFICATION_ACCEPT=1" ]
    Assert.That(File.Exists(dir.File "new.verified.txt"), Is.False)
    Assert.That(File.ReadAllText(dir.File "new.received.txt"), eq "hello\n")

[<Test>]
let ``a matching snapshot passes and removes a stale received file`` () =
    use dir = new TempFolder()
    let approver = Approver(dir.Path, accept = false)
    File.WriteAllText(dir.File "t.verified.txt", "same\n")
    File.WriteAllText(dir.File "t.received.txt", "older attempt\n")
    approver.Verify("t", "txt", "same") |> ignore
    Assert.That(File.Exists(dir.File "t.received.txt"), Is.False)

[<Test>]
let ``fixing the output after a failure passes and cleans the received file`` () =
    use dir = new TempFolder()
    let approver = Approver(dir.Path, accept = false)
    File.WriteAllText(dir.File "t.verified.txt", "right\n")
    throws<ApprovalException> (fun () -> approver.Verify("t", "txt", "wrong") |> ignore) |> ignore
    Assert.That(File.Exists(dir.File "t.received.txt"), Is.True)
    approver.Verify("t", "txt", "right") |> ignore
    Assert.That(File.Exists(dir.File "t.received.txt"), Is.False)

[<Test>]
let ``acceptance writes the received text as the approved file, after which it matches`` () =
    use dir = new TempFolder()
    File.WriteAllText(dir.File "changed.verified.csv", "old\n")
    File.WriteAllText(dir.File "changed.received.csv", "new\n")
    let accepting = Approver(dir.Path, accept = true)
    accepting.Verify("fresh", "csv", "a,b\r\n1,2") |> ignore
    accepting.Verify("changed", "csv", "new") |> ignore
    Assert.That(File.ReadAllText(dir.File "fresh.verified.csv"), eq "a,b\n1,2\n", "stored with LF endings")
    Assert.That(File.ReadAllText(dir.File "changed.verified.csv"), eq "new\n")
    Assert.That(File.Exists(dir.File "changed.received.csv"), Is.False)
    Approver(dir.Path, accept = false).Verify("fresh", "csv", "a,b\n1,2\n") |> ignore

[<Test>]
let ``numbers are rounded to the column's declared precision so tiny differences do not change a snapshot`` () =
    // Two runs whose sums differ in the last bits (different thread counts) must give the same file.
    let a = table [ 0.12340000001; 0.0005; -0.00004; 2.0 / 3.0 ]
    let b = table [ 0.12339999999; 0.00050000001; -0.00001; 0.6666666667 ]
    Assert.That(a.ToCsv(), eq "head,score\n0,0.123\n1,0.001\n2,0.000\n3,0.667\n")
    Assert.That(b.ToCsv(), eq(a.ToCsv()))
    Assert.That(Table.FormatNumber(-0.0004, 3), eq "0.000", "negative zero is written as 0")
    Assert.That(Table.FormatNumber(nan, 3), eq "NaN")

[<Test>]
let ``a table renders as CSV with quoting and as Markdown`` () =
    let t = Table(Column("token", 0), Column("value", 2))
    t.AddRow("a,b", 1.0051).AddRow("say \"hi\"", -2.0).AddRow("x|y", 3) |> ignore
    Assert.That(t.ToCsv(), eq "token,value\n\"a,b\",1.01\n\"say \"\"hi\"\"\",-2.00\nx|y,3\n")
    Assert.That(t.ToMarkdown(), eq "| token | value |\n| --- | --- |\n| a,b | 1.01 |\n| say \"hi\" | -2.00 |\n| x\\|y | 3 |\n")
    Assert.Throws<System.ArgumentException>(fun () -> t.AddRow(1) |> ignore) |> ignore

[<Test>]
let ``snapshot files are named after the spec file and the test`` () =
    Assert.That(Approve.CurrentName(), eq "Approvals.snapshot_files_are_named_after_the_spec_file_and_the_test")
    Assert.That(Approve.SnapshotName("HeadDetectors", "layer 1, head 1 scores 0.604", "grid"),
                eq "HeadDetectors.layer_1_head_1_scores_0_604.grid")

[<Test>]
let ``the approved table of this spec file matches its snapshot`` () =
    // An end-to-end check through Approve.Table: the file Approved/Approvals.the_approved_table... exists.
    Approve.Table(table [ 0.604; 0.308; 0.05 ])
