using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Verification.Engine.Models;
using Verification.Engine.IO;

namespace Verification.Engine.Loading;

/// <summary>One prompt of a pattern_lens folder: its text, tokens (without BOS) and patterns (with BOS at position 0).</summary>
public sealed record PatternLensPrompt(string Hash, string Text, string[] Tokens, AttentionPatterns Patterns);

/// <summary>A model's folder in pattern_lens's layout.</summary>
public sealed record PatternLensModel(string Name, string Folder, int Layers, int Heads, JsonObject Config, IReadOnlyList<string> PromptHashes)
{
    /// <summary>The prompts, read one at a time.</summary>
    public IEnumerable<PatternLensPrompt> Prompts() => PromptHashes.Select(h => PatternLens.ReadPrompt(this, h));
}

/// <summary>
/// pattern_lens's folder format (mivanit/pattern-lens): &lt;root&gt;/models.jsonl, &lt;root&gt;/&lt;model&gt;/model_cfg.json
/// (a TransformerLens config), prompts.jsonl, and per prompt prompts/&lt;hash&gt;/prompt.json (text, n_tokens, tokens without
/// BOS) and activations.npz (blocks.{l}.attn.hook_pattern: float32 [1, heads, T, T], T = n_tokens + 1, BOS at 0).
/// The hash is base64url(md5(text)) without padding.
/// </summary>
public static class PatternLens
{
    public const string BosToken = "<|endoftext|>";

    public static PatternLensModel Read(string modelFolder) =>
        ModelFileException.Guard(Path.Combine(modelFolder, "model_cfg.json"), () => ReadChecked(modelFolder));

    static PatternLensModel ReadChecked(string modelFolder)
    {
        var configPath = Path.Combine(modelFolder, "model_cfg.json");
        if (!File.Exists(configPath)) throw new ModelFileException(configPath, "file not found (a pattern_lens model folder needs model_cfg.json)");
        var config = JsonFile.ParseObject(configPath);
        int Need(string key) =>
            config[key] is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<int>(out var n)
                ? n > 0 ? n : throw new ModelFileException(configPath, $"must be at least 1, not {n}", field: key)
                : throw new ModelFileException(configPath, config[key] is null ? "missing" : $"must be an integer, not {config[key]!.ToJsonString()}", field: key);
        var layers = Need("n_layers");
        var heads = Need("n_heads");
        var prompts = Path.Combine(modelFolder, "prompts");
        if (!Directory.Exists(prompts)) throw new ModelFileException(prompts, "folder not found");
        var index = Path.Combine(modelFolder, "prompts.jsonl");
        List<string> hashes;
        if (File.Exists(index))
        {
            hashes = [];
            var line = 0;
            foreach (var text in File.ReadLines(index))
            {
                line++;
                if (text.Trim().Length == 0) continue;
                JsonNode? entry;
                try { entry = JsonNode.Parse(text); }
                catch (JsonException e) { throw new ModelFileException(index, $"line {line} is not valid JSON: {e.Message}"); }
                var hash = entry is JsonObject o && o["hash"] is JsonValue h && h.TryGetValue<string>(out var value) ? value
                    : throw new ModelFileException(index, $"line {line} has no string 'hash'", field: "hash");
                hashes.Add(hash);
            }
        }
        else hashes = [.. Directory.GetDirectories(prompts).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal)];
        foreach (var hash in hashes)
            if (hash.Length == 0 || hash != Path.GetFileName(hash) || hash is "." or "..")
                throw new ModelFileException(index, $"prompt hash '{hash}' is not a folder name under prompts/", field: "hash");
        if (hashes.Distinct(StringComparer.Ordinal).Count() != hashes.Count)
            throw new ModelFileException(index, $"prompt hash '{hashes.GroupBy(h => h).First(g => g.Count() > 1).Key}' is listed twice", field: "hash");
        if (hashes.Count == 0) throw new ModelFileException(File.Exists(index) ? index : prompts, "no prompts: nothing to scan");
        var name = config["model_name"] is JsonValue n && n.TryGetValue<string>(out var modelName) ? modelName : Path.GetFileName(modelFolder);
        return new PatternLensModel(name, modelFolder, layers, heads, config, hashes);
    }

    public static PatternLensPrompt ReadPrompt(PatternLensModel model, string hash) =>
        ModelFileException.Guard(Path.Combine(model.Folder, "prompts", hash), () => ReadPromptChecked(model, hash));

    static PatternLensPrompt ReadPromptChecked(PatternLensModel model, string hash)
    {
        var folder = Path.Combine(model.Folder, "prompts", hash);
        var promptPath = Path.Combine(folder, "prompt.json");
        ModelFileException.NeedFile(promptPath);
        var prompt = JsonFile.ParseObject(promptPath);
        var tokens = prompt["tokens"] is JsonArray array && array.All(t => t is JsonValue v && v.GetValueKind() == JsonValueKind.String)
            ? array.Select(t => t!.GetValue<string>()).ToArray()
            : throw new ModelFileException(promptPath, prompt["tokens"] is null ? "missing" : "must be an array of strings", field: "tokens");
        if (tokens.Length == 0) throw new ModelFileException(promptPath, "no tokens", field: "tokens");
        var text = prompt["text"] is JsonValue t && t.TryGetValue<string>(out var promptText) ? promptText : "";
        var count = tokens.Length + 1;
        var npz = Path.Combine(folder, "activations.npz");
        var arrays = Npy.ReadArchive(npz);
        var beyond = arrays.Keys.Where(k => k.StartsWith("blocks.", StringComparison.Ordinal) && k.EndsWith(".attn.hook_pattern", StringComparison.Ordinal)
                                            && !(int.TryParse(k["blocks.".Length..^".attn.hook_pattern".Length], out var l) && l >= 0 && l < model.Layers)).ToList();
        if (beyond.Count > 0) throw new ModelFileException(npz, $"array '{beyond[0]}' is beyond the config's {model.Layers} layers (n_layers)");
        // Find a missing layer before allocating one slot per layer the config claims (n_layers may be absurd).
        var missing = Enumerable.Range(0, Math.Min(model.Layers, arrays.Count + 1)).FirstOrDefault(l => !arrays.ContainsKey($"blocks.{l}.attn.hook_pattern"), -1);
        if (missing >= 0) throw new ModelFileException(npz, $"no array 'blocks.{missing}.attn.hook_pattern' (the config says {model.Layers} layers)");
        var layers = new float[model.Layers][];
        for (var l = 0; l < model.Layers; l++)
        {
            var name = $"blocks.{l}.attn.hook_pattern";
            var (values, shape) = arrays[name]; // present: checked above
            if (shape.Length != 4 || shape[0] != 1 || shape[1] != model.Heads || shape[2] != count || shape[3] != count)
                throw new ModelFileException(npz, $"shape ({string.Join(", ", shape)}) disagrees with {model.Heads} heads and {tokens.Length} tokens + BOS " +
                                                  $"(expected (1, {model.Heads}, {count}, {count}))", name);
            CheckCausal(values, model.Heads, count, npz, name);
            layers[l] = values;
        }
        return new PatternLensPrompt(hash, text, tokens, new AttentionPatterns([BosToken, .. tokens], null, layers, model.Heads));
    }

    /// <summary>Every row sums to 1 and puts no weight after its own position.</summary>
    static void CheckCausal(float[] values, int heads, int count, string path, string array)
    {
        for (var h = 0; h < heads; h++)
            for (var q = 0; q < count; q++)
            {
                var row = values.AsSpan((h * count + q) * count, count);
                double sum = 0;
                for (var k = 0; k < count; k++)
                {
                    // NaN compares false with every bound below: reject it (and ±Inf) first.
                    if (!float.IsFinite(row[k])) throw new ModelFileException(path, $"head {h}, row {q}, key {k} is {row[k]}: not a probability", array);
                    if (k > q && Math.Abs(row[k]) > 1e-6)
                        throw new ModelFileException(path, $"head {h}, row {q} attends to later position {k} ({row[k]}): not a causal pattern", array);
                    if (row[k] < -1e-6) throw new ModelFileException(path, $"head {h}, row {q} has a negative probability {row[k]}", array);
                    sum += row[k];
                }
                if (Math.Abs(sum - 1) > 1e-3)
                    throw new ModelFileException(path, $"head {h}, row {q} sums to {sum:F4}, not 1: not an attention distribution", array);
            }
    }

    /// <summary>pattern_lens's prompt hash: base64url(md5(text)) without padding (a name, not a security measure).</summary>
#pragma warning disable CA5351 // MD5 is pattern_lens's naming scheme, not used for security.
    public static string Hash(string text) =>
        Convert.ToBase64String(MD5.HashData(Encoding.UTF8.GetBytes(text))).TrimEnd('=').Replace('+', '-').Replace('/', '_');
#pragma warning restore CA5351

    /// <summary>
    /// Writes prompts as a pattern_lens model folder under <paramref name="root"/>, so pattern_lens's reader (and, after its
    /// figures step, its web viewer) can open our runs. Each prompt's patterns must have the BOS at position 0 and its
    /// tokens list the rest.
    /// </summary>
    public static string Write(string root, string modelName, JsonObject config, IEnumerable<(string Text, string[] Tokens, AttentionPatterns Patterns)> prompts)
    {
        var folder = Path.Combine(root, modelName);
        Directory.CreateDirectory(Path.Combine(folder, "prompts"));
        config["model_name"] = modelName;
        var options = new JsonSerializerOptions { WriteIndented = false };
        AtomicFile.WriteAllText(Path.Combine(folder, "model_cfg.json"), config.ToJsonString(options));
        var modelsPath = Path.Combine(root, "models.jsonl");
        var others = File.Exists(modelsPath)
            ? File.ReadAllLines(modelsPath).Where(l => JsonNode.Parse(l)?["model_name"]?.GetValue<string>() != modelName).ToList()
            : [];
        AtomicFile.WriteAllLines(modelsPath, [.. others, config.ToJsonString(options)]);
        var index = new List<string>();
        foreach (var (text, tokens, patterns) in prompts)
        {
            if (patterns.Length != tokens.Length + 1)
                throw new ArgumentException($"Patterns over {patterns.Length} positions for {tokens.Length} tokens: pattern_lens expects the tokens without BOS plus BOS at position 0.");
            var hash = Hash(text);
            var prompt = new JsonObject
            {
                ["text"] = text, ["hash"] = hash, ["n_tokens"] = tokens.Length, ["tokens"] = new JsonArray([.. tokens.Select(t => (JsonNode)t)]),
            };
            var promptFolder = Path.Combine(folder, "prompts", hash);
            Directory.CreateDirectory(promptFolder);
            AtomicFile.WriteAllText(Path.Combine(promptFolder, "prompt.json"), prompt.ToJsonString(options));
            Npy.WriteArchive(Path.Combine(promptFolder, "activations.npz"),
                Enumerable.Range(0, patterns.LayerCount).Select(l => ($"blocks.{l}.attn.hook_pattern", patterns.Layers[l],
                    new[] { 1, patterns.HeadCount, patterns.Length, patterns.Length })));
            index.Add(prompt.ToJsonString(options));
        }
        AtomicFile.WriteAllLines(Path.Combine(folder, "prompts.jsonl"), index);
        return folder;
    }
}
