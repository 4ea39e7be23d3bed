using Verification.Engine.Tokenizers;

namespace Verification.Fixtures.Zoo;

/// <summary>Registers every zoo model with <see cref="ModelCatalog"/> by name.</summary>
public static class Catalog
{
    static readonly Lazy<bool> registered = new(() =>
    {
        ModelCatalog.Register("compiled-heads", () =>
            new ModelChoice("compiled-heads", Compiled.Heads(), CompiledVocabulary.Tokenizer, "Fixtures/Zoo/Compiled.cs"));
        ModelCatalog.Register("compiled-lookup", () =>
            new ModelChoice("compiled-lookup", CompiledLookup.Model(), CompiledVocabulary.Tokenizer, "Fixtures/Zoo/CompiledLookup.cs"));
        ModelCatalog.Register(ContextModel.Name, () =>
            new ModelChoice(ContextModel.Name, ContextModel.Load(), ContextModel.Tokenizer, TrainedZoo.PathOf(ContextModel.Name, "final.safetensors"))
            {
                Text = [.. ContextModel.Evaluation(16).Select(s => s.Tokens)],
            });
        ModelCatalog.Register(RulesModel.Name, () =>
            new ModelChoice(RulesModel.Name, RulesModel.Load(), RulesModel.Tokenizer, TrainedZoo.PathOf(RulesModel.Name, "final.safetensors"))
            {
                Text = RulesModel.Corpus(16),
            });
        ModelCatalog.Register(InductionModel.Name, () =>
            new ModelChoice(InductionModel.Name, InductionModel.Load(), IdTokenizer(InductionModel.Config.VocabularySize),
                TrainedZoo.PathOf(InductionModel.Name, "final.safetensors"))
            {
                Text = InductionModel.Evaluation(16),
            });
        ModelCatalog.Register(NegationModel.Name, () =>
            new ModelChoice(NegationModel.Name, NegationModel.Load(), NegationModel.Tokenizer, TrainedZoo.PathOf(NegationModel.Name, "final.safetensors"))
            {
                Text = [.. NegationModel.Batch(seed: 999, step: 0, batchSize: 16).Select(s => s.Tokens)],
            });
        return true;
    });

    public static void EnsureRegistered() => _ = registered.Value;

    /// <summary>Token ids written as "t0", "t1", …: the vocabulary of models trained on random tokens.</summary>
    public static WordTokenizer IdTokenizer(int vocabulary) =>
        new(Enumerable.Range(0, vocabulary).Select(i => "t" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
}
