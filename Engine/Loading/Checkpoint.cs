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

    static readonly JsonSerializerOptions Json = new() { WriteIndented = false };

    public static void Save(Transformer model, string path, IReadOnlyDictionary<string, string>? notes = null)
    {
        var metadata = new Dictionary<string, string>(notes ?? new Dictionary<string, string>())
        {
            [FamilyKey] = model.Config.Family.ToString(),
            [ConfigKey] = JsonSerializer.Serialize(model.Config, model.Config.GetType(), Json),
        };
        SafeTensors.Write(path, model.Parameters.OrderBy(kv => kv.Key, StringComparer.Ordinal), metadata);
    }

    public static bool IsCheckpoint(SafeTensors file) => file.Metadata.ContainsKey(FamilyKey);

    public static Transformer Load(string path)
    {
        var file = SafeTensors.Open(path);
        if (!IsCheckpoint(file))
            throw new ModelFileException(path, $"no '{FamilyKey}' in the metadata: not a checkpoint written by this suite");
        var config = ReadConfig(file);
        var parameters = file.Tensors.Keys.ToDictionary(k => k, file.Read);
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
