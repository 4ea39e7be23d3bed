using Verification.Engine.Loading;

namespace Verification.Engine.Tokenizers;

/// <summary>Finds the tokenizer stored beside a model: tokenizer.json, vocab.json + merges.txt, vocab.txt, or tokenizer.bin.</summary>
public static class TokenizerLoader
{
    public static ITokenizer? TryLoad(string modelPath, int vocabularySize)
    {
        var folder = Directory.Exists(modelPath) ? modelPath : Path.GetDirectoryName(Path.GetFullPath(modelPath)) ?? ".";
        string In(string name) => Path.Combine(folder, name);
        if (File.Exists(In("vocab.json")) && File.Exists(In("merges.txt"))) return Gpt2Tokenizer.FromFiles(In("vocab.json"), In("merges.txt"));
        if (File.Exists(In("tokenizer.json"))) return Gpt2Tokenizer.FromTokenizerJson(In("tokenizer.json"));
        if (File.Exists(In("vocab.txt"))) return WordPieceTokenizer.FromFile(In("vocab.txt"));
        if (File.Exists(In("tokenizer.bin"))) return Llama2cTokenizer.Load(In("tokenizer.bin"), vocabularySize);
        return null;
    }

    public static ITokenizer Load(string modelPath, int vocabularySize) =>
        TryLoad(modelPath, vocabularySize) ?? throw new ModelFileException(modelPath,
            "no tokenizer beside the model (tokenizer.json, vocab.json + merges.txt, vocab.txt or tokenizer.bin): pass token ids instead");
}
