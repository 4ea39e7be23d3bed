using Verification.Fixtures;

namespace Verification.Cli.Commands;

/// <summary>Turns command-line input into token ids, with messages that say what is wrong.</summary>
public static class Inputs
{
    /// <summary>"1,2,3" → [1, 2, 3].</summary>
    public static int[] ParseIds(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0) throw new ArgumentException("--ids needs at least one token id, e.g. --ids 1,2,3");
        return [.. parts.Select(p => int.TryParse(p, out var id) ? id : throw new ArgumentException($"--ids: '{p}' is not a token id (ids are integers, comma-separated)."))];
    }

    /// <summary>Token ids from --ids, or from --text through the model's tokenizer.</summary>
    public static int[] Tokens(ModelChoice choice, string? ids, string? text)
    {
        if (ids is not null && text is not null) throw new ArgumentException("Give either --ids or --text, not both.");
        if (ids is not null) return ParseIds(ids);
        if (text is null) throw new ArgumentException("Give the input as --ids 1,2,3 or --text \"...\".");
        var tokenizer = choice.Tokenizer ?? throw new ArgumentException($"{choice.Name} has no tokenizer beside it ({choice.Where}): use --ids.");
        return tokenizer.Encode(text);
    }
}
