namespace Verification.Fixtures.Zoo;

/// <summary>Registers every zoo model with <see cref="ModelCatalog"/> by name.</summary>
public static class Catalog
{
    static readonly Lazy<bool> registered = new(() =>
    {
        ModelCatalog.Register("compiled-heads", () =>
            new ModelChoice("compiled-heads", Compiled.Heads(), CompiledVocabulary.Tokenizer, "Fixtures/Zoo/Compiled.cs"));
        return true;
    });

    public static void EnsureRegistered() => _ = registered.Value;
}
