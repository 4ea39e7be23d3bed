using System.Text.Json;
using Verification.Engine.Models;
using Verification.Engine.Tensors;

namespace Verification.Engine.Loading;

/// <summary>
/// The suite's own checkpoint: one safetensors file holding the model's tensors under TransformerLens's names and,
/// in its metadata, the family and config as JSON plus free-form notes (how it was trained).
/// </summary>
public static class Checkpoint
{
    public const string FamilyKey = "verification.family";
    public const string ConfigKey = "verification.config";

    /// <summary>Metadata key listing the matrices stored sparsely: only their nonzero rows, with the row ids beside.</summary>
    public const string SparseKey = "verification.sparse_rows";

    static readonly JsonSerializerOptions Json = new() { WriteIndented = false };

    /// <param name="sparse">
    /// Matrices to store as their nonzero rows only ("{name}" [rows, width] and "{name}.rows" ids): an embedding whose
    /// untrained rows are zero takes a fraction of the space.
    /// </param>
    public static void Save(Transformer model, string path, IReadOnlyDictionary<string, string>? notes = null, IReadOnlyCollection<string>? sparse = null)
    {
        var metadata = new Dictionary<string, string>(notes ?? new Dictionary<string, string>())
        {
            [FamilyKey] = model.Config.Family.ToString(),
            [ConfigKey] = JsonSerializer.Serialize(model.Config, model.Config.GetType(), Json),
        };
        var tensors = new List<KeyValuePair<string, Tensor>>();
        var ints = new List<KeyValuePair<string, (int[], int[])>>();
        var sparseShapes = new List<string>();
        foreach (var (name, t) in model.Parameters.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (sparse?.Contains(name) != true || t.Rank != 2)
            {
                tensors.Add(new(name, t));
                continue;
            }
            int rows = t.Shape[0], width = t.Shape[1];
            var kept = Enumerable.Range(0, rows).Where(r => t.Data.AsSpan(r * width, width).ContainsAnyExcept(0f)).ToArray();
            var values = new float[kept.Length * width];
            for (var i = 0; i < kept.Length; i++) t.Data.AsSpan(kept[i] * width, width).CopyTo(values.AsSpan(i * width));
            tensors.Add(new(name, new Tensor(values, kept.Length, width)));
            ints.Add(new(name + ".rows", (kept, [kept.Length])));
            sparseShapes.Add($"{name}:{rows}");
        }
        if (sparseShapes.Count > 0) metadata[SparseKey] = string.Join(",", sparseShapes);
        SafeTensors.Write(path, tensors, metadata, ints);
    }

    public static bool IsCheckpoint(SafeTensors file) => file.Metadata.ContainsKey(FamilyKey);

    public static Transformer Load(string path) => ModelFileException.Guard(path, () => LoadChecked(path));

    static Transformer LoadChecked(string path)
    {
        var file = SafeTensors.Open(path);
        if (!IsCheckpoint(file))
            throw new ModelFileException(path, $"no '{FamilyKey}' in the metadata: not a checkpoint written by this suite");
        var config = ReadConfig(file);
        var sparse = file.Metadata.TryGetValue(SparseKey, out var list)
            ? list.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(e => e.Split(':')).ToDictionary(e => e[0], e => int.Parse(e[1], System.Globalization.CultureInfo.InvariantCulture))
            : [];
        var parameters = new Dictionary<string, Tensor>();
        foreach (var name in file.Tensors.Keys)
        {
            if (name.EndsWith(".rows", StringComparison.Ordinal) && sparse.ContainsKey(name[..^5])) continue;
            var t = ModelFileException.RequireFinite(path, name, file.Read(name));
            if (sparse.TryGetValue(name, out var rows))
            {
                var (ids, _) = file.ReadInts(name + ".rows");
                var width = t.Shape[1];
                var full = new Tensor(rows, width) { Name = name };
                for (var i = 0; i < ids.Length; i++)
                {
                    if ((uint)ids[i] >= (uint)rows) throw new ModelFileException(path, $"row id {ids[i]} is outside {rows} rows", name + ".rows");
                    t.Data.AsSpan(i * width, width).CopyTo(full.Data.AsSpan(ids[i] * width));
                }
                t = full;
            }
            parameters[name] = t;
        }
        var model = Create(config, parameters, path);
        if (model.Parameters.Unread is { Count: > 0 } unread)
            throw new ModelFileException(path, $"tensors the {config.Family} model does not use: {string.Join(", ", unread.Take(8))}");
        return model;
    }

    public static ModelConfig ReadConfig(SafeTensors file)
    {
        var family = file.Metadata[FamilyKey];
        var json = file.Metadata.TryGetValue(ConfigKey, out var j) ? j : throw new ModelFileException(file.Path, $"metadata lacks '{ConfigKey}'");
        Type type = family switch
        {
            nameof(ModelFamily.Gpt2) => typeof(Gpt2Config),
            nameof(ModelFamily.Bert) => typeof(BertConfig),
            nameof(ModelFamily.Llama) => typeof(LlamaConfig),
            nameof(ModelFamily.AttentionOnly) => typeof(AttentionOnlyConfig),
            _ => throw new ModelFileException(file.Path, $"unknown model family '{family}'"),
        };
        try
        {
            return (ModelConfig)(JsonSerializer.Deserialize(json, type, Json) ?? throw new JsonException("null config"));
        }
        catch (JsonException e)
        {
            throw new ModelFileException(file.Path, $"config in the metadata is not a valid {type.Name}: {e.Message}");
        }
    }

    /// <summary>A model of the config's family from named tensors.</summary>
    public static Transformer Create(ModelConfig config, IReadOnlyDictionary<string, Tensor> parameters, string source) => config switch
    {
        Gpt2Config c => new Gpt2Model(c, parameters, source),
        BertConfig c => new BertModel(c, parameters, source),
        LlamaConfig c => new LlamaModel(c, parameters, source),
        AttentionOnlyConfig c => new AttentionOnlyModel(c, parameters, source),
        _ => throw new ArgumentException($"No model for config {config.GetType().Name}."),
    };
}
