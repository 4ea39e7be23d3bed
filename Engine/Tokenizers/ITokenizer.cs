namespace Verification.Engine.Tokenizers;

public interface ITokenizer
{
    int VocabularySize { get; }

    /// <summary>Token ids of a text (BERT adds [CLS] and [SEP]).</summary>
    int[] Encode(string text);

    string Decode(IEnumerable<int> ids);

    /// <summary>A token as a readable string (for tables and plot labels).</summary>
    string TokenText(int id);
}
