namespace Verification.Fixtures.Zoo;

/// <summary>Registers every zoo model with <see cref="ModelCatalog"/> by name.</summary>
public static class Catalog
{
    static readonly Lazy<bool> registered = new(() =>
    {
        return true;
    });

    public static void EnsureRegistered() => _ = registered.Value;
}
