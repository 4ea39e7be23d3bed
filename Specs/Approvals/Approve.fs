namespace Verification.Specs.Snapshots

open System
open System.IO
open System.Runtime.InteropServices
open NUnit.Framework
open Verification.Engine.Models
open Verification.Engine
open Verification.Fixtures
open Verification.Reports

/// Approves a spec's tables, plots and text as `Approved/{SpecFile}.{Test}[.{part}].verified.{ext}`, where SpecFile is
/// the spec's module and Test its name with spaces and punctuation turned into '_'. VERIFICATION_ACCEPT=1 accepts
/// whatever is received.
[<AbstractClass; Sealed>]
type Approve =

    static member AcceptAll = Settings.Current.Accept

    static member private Approver = Approver(Repository.Approved, Approve.AcceptAll)

    /// The snapshot name of the running test: `{SpecFile}.{Test}[.{part}]`.
    static member CurrentName([<Optional; DefaultParameterValue(null: string)>] part: string) =
        let test = TestContext.CurrentContext.Test
        let className = match test.ClassName with | null -> "Unknown" | c -> c
        let specFile = className.[className.LastIndexOfAny([| '.'; '+' |]) + 1 ..]
        FileNames.SnapshotName(specFile, test.Name, part)

    static member SnapshotName(specFile: string, testName: string, [<Optional; DefaultParameterValue(null: string)>] part: string) =
        FileNames.SnapshotName(specFile, testName, part)

    /// Which test wrote each snapshot in this run: names are cut at 150 characters, so two tests (or two cases of one)
    /// whose names differ only later would share a file; that is an error, not a silent overwrite.
    static member val private Owners = Collections.Concurrent.ConcurrentDictionary<string, string>()

    static member private Check(part: string, extension: string, text: string, tolerance: Tolerance,
                                columns: Collections.Generic.IReadOnlyDictionary<string, Tolerance>) =
        let name = Approve.CurrentName part
        let test = TestContext.CurrentContext.Test.FullName
        let owner = Approve.Owners.GetOrAdd(name + "." + extension, test)
        if owner <> test then
            raise (ApprovalException(
                sprintf "Snapshot %s.%s is already written by %s in this run; shorten this test's name (names are cut at 150 characters) so each has its own." name extension owner))
        let outcome = Approve.Approver.Verify(name, extension, text, tolerance, columns)
        TestContext.Out.WriteLine(sprintf "snapshot: %s" outcome)

    /// Approves a table as CSV; each column's numbers compare within the tolerance the column declares.
    static member Table(table: Table, [<Optional; DefaultParameterValue(null: string)>] part: string,
                        [<Optional; DefaultParameterValue(null: Tolerance)>] tolerance: Tolerance) =
        let columns =
            table.Columns |> Seq.filter (fun c -> not (isNull c.Tolerance)) |> Seq.map (fun c -> c.Name, c.Tolerance) |> readOnlyDict
        Approve.Check(part, "csv", table.ToCsv(), tolerance, columns)

    static member Svg(svg: string, [<Optional; DefaultParameterValue(null: string)>] part: string,
                      [<Optional; DefaultParameterValue(null: Tolerance)>] tolerance: Tolerance) =
        Approve.Check(part, "svg", svg, tolerance, null)

    static member Text(text: string, [<Optional; DefaultParameterValue(null: string)>] part: string,
                       [<Optional; DefaultParameterValue(null: Tolerance)>] tolerance: Tolerance) =
        Approve.Check(part, "txt", text, tolerance, null)

    static member Markdown(markdown: string, [<Optional; DefaultParameterValue(null: string)>] part: string,
                           [<Optional; DefaultParameterValue(null: Tolerance)>] tolerance: Tolerance) =
        Approve.Check(part, "md", markdown, tolerance, null)

    /// Approves a finding as one Markdown row whose evidence links are this test's other approved files (so the index
    /// points at the tables and plots that back it); `otherEvidence` names other tests' snapshots that back it too.
    static member Finding(finding: Finding, [<ParamArray>] otherEvidence: string[]) =
        let folder = Repository.Approved
        let files (pattern: string) =
            if Directory.Exists folder then
                Directory.GetFiles(folder, pattern) |> Array.map Path.GetFileName |> Array.sortWith (fun a b -> String.CompareOrdinal(a, b))
                |> Array.toList
            else []
        let name = Approve.CurrentName()
        let parts = files (name + ".*.verified.*") |> List.filter (fun f -> not (f.Contains("." + Finding.Part + ".", StringComparison.Ordinal)))
        // The test's own unnamed snapshots ({name}.verified.csv) belong to it too.
        let own = files (name + ".verified.*")
        let others = otherEvidence |> Seq.collect (fun o -> files (o + ".verified.*")) |> Seq.toList
        Approve.Check(Finding.Part, "md", finding.ToRow(parts @ own @ others |> List.distinct), null, null)

    /// Approves the index of findings at Approved/README.md (received: Approved/README.received.md).
    static member Index(published: PublishedClaim seq) =
        let folder = Repository.Approved
        Approver(folder, Approve.AcceptAll)
            .VerifyAt(Path.Combine(folder, FindingsIndex.FileName), Path.Combine(folder, "README.received.md"),
                      FindingsIndex.Build(folder, published), null, null)
