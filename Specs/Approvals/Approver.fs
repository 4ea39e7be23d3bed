namespace Verification.Specs.Snapshots

open System
open System.Collections.Generic
open System.IO
open System.Text
open DiffPlex
open DiffPlex.DiffBuilder
open DiffPlex.DiffBuilder.Model
open Verification.Engine.IO
open Verification.Reports

/// A snapshot did not match its approved file, or there was no approved file.
type ApprovalException(message: string) =
    inherit Exception(message)

/// Compares text against `{directory}/{name}.verified.{ext}`, following Verify's conventions, with numbers compared
/// within a tolerance (SnapshotComparer): a mismatch (or a missing approved file) writes `{name}.received.{ext}` beside
/// it and fails naming the numbers that moved and a line diff; a match, exact or within tolerance, leaves the approved
/// file untouched and deletes any stale received file. With `accept` on, a changed text becomes the approved file and
/// the check passes.
type Approver(directory: string, accept: bool) =

    static let truncate (max: int) (line: string) = if line.Length <= max then line else line.[.. max - 1] + "…"

    static let preview (text: string) =
        let maxLines = 20
        let lines = text.Split '\n'
        let shown = lines |> Seq.truncate maxLines |> Seq.map (fun l -> "+ " + truncate 200 l) |> String.concat "\n"
        if lines.Length > maxLines then shown + sprintf "\n  ... (%d more lines)" (lines.Length - maxLines) else shown

    member _.Directory = directory
    member _.Accept = accept

    member _.VerifiedPath(name: string, extension: string) = Path.Combine(directory, sprintf "%s.verified.%s" name extension)
    member _.ReceivedPath(name: string, extension: string) = Path.Combine(directory, sprintf "%s.received.%s" name extension)

    /// Text as it is stored: LF line endings, exactly one final newline.
    static member Normalize(text: string) =
        let lf = text.Replace("\r\n", "\n").Replace('\r', '\n')
        lf.TrimEnd('\n') + "\n"

    /// A unified-style line diff: changed lines with two lines of context.
    static member Diff(approved: string, received: string) =
        let context, maxLines = 2, 80
        let lines = InlineDiffBuilder(Differ()).BuildDiffModel(approved, received, ignoreWhitespace = false).Lines
        let keep = Array.zeroCreate<bool> lines.Count
        for i in 0 .. lines.Count - 1 do
            if lines.[i].Type <> ChangeType.Unchanged then
                for j in max 0 (i - context) .. min (lines.Count - 1) (i + context) do keep.[j] <- true
        let text = StringBuilder()
        let mutable written = 0
        let mutable skipped = false
        let mutable i = 0
        while i < lines.Count && written < maxLines do
            if not keep.[i] then skipped <- true
            else
                if skipped then
                    text.Append("  ...\n") |> ignore
                    skipped <- false
                let prefix =
                    match lines.[i].Type with
                    | ChangeType.Inserted -> "+ "
                    | ChangeType.Deleted -> "- "
                    | _ -> "  "
                text.Append(prefix).Append(truncate 200 lines.[i].Text).Append('\n') |> ignore
                written <- written + 1
                if written >= maxLines then text.Append("  ... (diff truncated)\n") |> ignore
            i <- i + 1
        text.ToString()

    /// The check against explicitly named files (Approved/README.md keeps its plain name). Returns what happened.
    member _.VerifyAt(verifiedPath: string, receivedPath: string, text: string, tolerance: Tolerance,
                      columns: IReadOnlyDictionary<string, Tolerance>) : string =
        let received = Approver.Normalize text
        Directory.CreateDirectory(match Path.GetDirectoryName verifiedPath with | null | "" -> directory | d -> d) |> ignore
        let approved = if File.Exists verifiedPath then Some(Approver.Normalize(File.ReadAllText(verifiedPath, Encoding.UTF8))) else None
        let comparison =
            match approved with
            | Some a when a <> received ->
                Some(SnapshotComparer.Compare(a, received, Path.GetExtension(verifiedPath).TrimStart('.'), tolerance, columns))
            | _ -> None
        let name = Path.GetFileName verifiedPath
        match approved, comparison with
        | Some _, None ->
            if File.Exists receivedPath then File.Delete receivedPath
            sprintf "matches %s" name
        | Some _, Some c when c.Matches ->
            if File.Exists receivedPath then File.Delete receivedPath
            sprintf "matches %s (%d number(s) differ within tolerance; the approved file is kept)" name c.WithinTolerance
        | _ when accept ->
            AtomicFile.WriteAllText(verifiedPath, received)
            if File.Exists receivedPath then File.Delete receivedPath
            (if approved.IsNone then "accepted new " else "accepted changed ") + name
        | None, _ ->
            AtomicFile.WriteAllText(receivedPath, received)
            raise (ApprovalException(
                sprintf "No approved snapshot %s.\nThe new snapshot is in %s. Check its numbers against the definition, then accept it by renaming it to .verified., or run the tests with VERIFICATION_ACCEPT=1.\n%s"
                    verifiedPath receivedPath (preview received)))
        | Some a, Some c ->
            AtomicFile.WriteAllText(receivedPath, received)
            raise (ApprovalException(
                sprintf "Snapshot %s changed. Received file: %s\n%sline diff (approved: -, received: +):\n%s\nIf the change is right, accept it by renaming the received file, or run the tests with VERIFICATION_ACCEPT=1."
                    name receivedPath (c.Describe()) (Approver.Diff(a, received))))

    /// `tolerance`: how far numbers may move (null: one unit in the last printed place, integers exact); `columns`: for
    /// CSV, a tolerance per column header, overriding it.
    member this.Verify(name: string, extension: string, text: string, ?tolerance: Tolerance, ?columns: IReadOnlyDictionary<string, Tolerance>) =
        this.VerifyAt(this.VerifiedPath(name, extension), this.ReceivedPath(name, extension), text,
                      Option.toObj tolerance, Option.toObj columns)
