/// The approval mechanism itself: snapshots that differ or are missing fail, rounding keeps them stable,
/// acceptance writes them, and stale received files are cleaned up.
module Verification.Specs.Approvals

open System.IO
open NUnit.Framework
open Verification.Fixtures.Approvals
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
