namespace Verification.Engine.Loading;

/// <summary>JSON from a file, with its bytes checked as UTF-8 first (System.Text.Json only notices bad bytes when a string is read).</summary>
public static class JsonFile
{
    static readonly System.Text.UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Throws a <see cref="ModelFileException"/> naming the file when <paramref name="bytes"/> are not UTF-8.</summary>
    public static void CheckUtf8(string path, ReadOnlySpan<byte> bytes, string what = "the file")
    {
        try { StrictUtf8.GetCharCount(bytes); }
        catch (System.Text.DecoderFallbackException e) { throw new ModelFileException(path, $"{what} is not valid UTF-8 (byte {e.Index})"); }
    }

    /// <summary>A file holding one JSON object; anything else (an array, a number, null) names the file.</summary>
    public static System.Text.Json.Nodes.JsonObject ParseObject(string path)
    {
        var node = Parse(path);
        return node as System.Text.Json.Nodes.JsonObject
               ?? throw new ModelFileException(path, $"must hold a JSON object, not {(node is null ? "null" : node.GetValueKind().ToString().ToLowerInvariant())}");
    }

    public static System.Text.Json.Nodes.JsonNode? Parse(string path)
    {
        ModelFileException.NeedFile(path);
        var bytes = File.ReadAllBytes(path);
        CheckUtf8(path, bytes);
        try { return System.Text.Json.Nodes.JsonNode.Parse(bytes); }
        catch (System.Text.Json.JsonException e) { throw new ModelFileException(path, "not valid JSON: " + e.Message); }
    }
}
