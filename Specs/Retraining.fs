/// Slow: the trained zoo retrained from scratch with its committed recipes, and its claims re-checked on the result
/// (the claims, not the bits: a retrained model need not equal the committed checkpoint byte for byte).
/// Run with: dotnet test -- NUnit.Where="cat == Slow"
module Verification.Specs.Retraining

open System
open NUnit.Framework
open Verification.Engine.Models
open Verification.Analysis
open Verification.Fixtures.Zoo
open Verification.Specs.Support

[<Test; Category("Slow")>]
let ``retraining the induction model from scratch forms a previous-token head and an induction head again`` () =
    use dir = new TempFolder()
    let model = InductionModel.Train(dir.Path, progress = Progress<_>(fun p -> log (string p)), checkpointSteps = [ InductionModel.Settings.Steps ])
    let prompts = AttentionPatterns.FromModel(model, InductionModel.Evaluation 16, (fun i -> string i)) |> Seq.toList
    let prev = Detectors.PreviousToken prompts
    let induction = Ablations.InductionScores(model, InductionProtocol(HalfLength = 32, Sequences = 32))
    let losses = Ablations.PositionLosses(model, InductionModel.Evaluation 128)
    Assert.That(max prev.[0, 0] prev.[0, 1], Is.GreaterThan 0.8)
    Assert.That(max induction.[1, 0] induction.[1, 1], Is.GreaterThan 0.8)
    Assert.That(Ablations.InContextLearningScore(losses, 10, 60), Is.LessThan -0.5)

[<Test; Category("Slow")>]
let ``retraining the negation model from scratch learns the polarity and attends from the mask to the negation word`` () =
    use dir = new TempFolder()
    let model = NegationModel.Train(dir.Path, progress = Progress<_>(fun p -> log (string p)))
    Assert.That(NegationModel.Accuracy(model, 256), eq 1.0)
    let s = NegationModel.Build("the film was not good . i", false)
    let p = AttentionPatterns.Of(model, NegationModel.Tokenizer, s.Tokens)
    let negation = 4
    let best = [ for l in 0 .. 1 do for h in 0 .. 1 -> p.A(l, h, s.MaskPosition, negation) ] |> List.max
    Assert.That(best, Is.GreaterThan 0.9)

[<Test; Category("Slow")>]
let ``retraining the rules model from scratch learns every planted rule, and an SAE on its head finds them`` () =
    use dir = new TempFolder()
    let model = RulesModel.Train(dir.Path, progress = Progress<_>(fun p -> log (string p)))
    for (rule, _, pFiring, _, pSilent) in RulesModel.PlantedProbabilities(model, RulesModel.ExemplarCorpus()) do
        Assert.That(pFiring, Is.GreaterThan 0.95, rule)
        Assert.That(pSilent, Is.LessThan 0.05, rule)
    let sae = RulesModel.TrainSae model
    let inputs = TokenFeatures(model, RulesModel.Tokenizer)
    let report = RuleScan.Run(RulesModel.Name, model, inputs, 0, 0, sae, RulesModel.ExemplarCorpus())
    let circuits = SkipGramRules.Circuits(model, 0, 0, inputs)
    for rule in RulesModel.Planted do
        let recovered =
            report.Features |> Seq.exists (fun r ->
                let values = SkipGramRules.ValueScores(circuits, sae, r.Feature)
                RulesModel.Words.[Array.IndexOf(values, Array.max values)] = rule.Key && (r.Validation |> Seq.find (fun e -> e.K = 16)).F1 >= 0.9)
        Assert.That(recovered, sprintf "a feature for %s … %s" rule.Key rule.Query)
