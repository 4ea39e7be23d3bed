/// The approved index of findings, Approved/README.md: every claim with its source, model, expected and measured values,
/// verdict and links to its tables and plots, so a reviewer sees the findings at a glance in a pull request.
module Verification.Specs.Index

open NUnit.Framework
open Verification.Reports
open Verification.Specs.Snapshots
open Verification.Fixtures.Real
open Verification.Specs.Support

[<Test>]
let ``the index of findings lists every approved finding and every published claim`` () =
    log (Approve.Index PublishedClaims.all)
    let text = System.IO.File.ReadAllText(System.IO.Path.Combine(Verification.Fixtures.Repository.Approved, FindingsIndex.FileName))
    for claim in PublishedClaims.all do
        Assert.That(text, Does.Contain(sprintf "| %s |" claim.Id))

[<Test>]
let ``the index tells validations, claims on models trained here and claims on real models apart`` () =
    Assert.That(FindingsIndex.KindOf "zoo: compiled-heads", eq FindingsIndex.EvidenceKind.Validation)
    Assert.That(FindingsIndex.KindOf "zoo: rules (1 layer, 1 head, planted skip-grams)", eq FindingsIndex.EvidenceKind.Validation)
    Assert.That(FindingsIndex.KindOf "zoo: induction", eq FindingsIndex.EvidenceKind.TrainedHere)
    Assert.That(FindingsIndex.KindOf "zoo: compiled-heads, induction, negation", eq FindingsIndex.EvidenceKind.TrainedHere)
    Assert.That(FindingsIndex.KindOf "pythia-14m (real patterns)", eq FindingsIndex.EvidenceKind.RealModel)
    let text = FindingsIndex.Build(Verification.Fixtures.Repository.Approved, PublishedClaims.all)
    text |> mentions [ "## Claims on real models"; "## Claims on models trained here"; "## Validations of the instruments"; "| criterion | measured |" ]
