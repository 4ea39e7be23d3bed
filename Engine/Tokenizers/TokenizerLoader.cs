using Verification.Engine.Loading;

namespace Verification.Engine.Tokenizers;

/// <summary>Finds the tokenizer stored beside a model: tokenizer.json, vocab.json + merges.txt, vocab.txt, or tokenizer.bin.</summary>
public static class TokenizerLoader
{
    /// <summary>
    /// The tokenizer beside a model, or null when there is none. A tokenizer whose ids run past the model's vocabulary is
    /// refused here, naming both files: its text would otherwise fail later, on some inputs only, with an id error.
    /// </summary>
    public static ITokenizer? TryLoad(string modelPath, int vocabularySize)
    {
        var folder = Directory.Exists(modelPath) ? modelPath : Path.GetDirectoryName(Path.GetFullPath(modelPath)) ?? ".";
        string In(string name) => Path.Combine(folder, name);
        (ITokenizer Tokenizer, string File)? found =
            File.Exists(In("vocab.json")) && File.Exists(In("merges.txt")) ? (Gpt2Tokenizer.FromFiles(In("vocab.json"), In("merges.txt")), In("vocab.json"))
            : File.Exists(In("tokenizer.json")) ? (FromTokenizerJson(In("tokenizer.json")), In("tokenizer.json"))
            : File.Exists(In("vocab.txt")) ? (WordPieceTokenizer.FromFile(In("vocab.txt")), In("vocab.txt"))
            : File.Exists(In("tokenizer.bin")) ? (Llama2cTokenizer.Load(In("tokenizer.bin"), vocabularySize), In("tokenizer.bin"))
            : null;
        if (found is not { } f) return null;
        if (f.Tokenizer.VocabularySize > vocabularySize)
            throw new ModelFileException(f.File,
                $"its ids run to {f.Tokenizer.VocabularySize - 1}, but the model beside it ({modelPath}) has a vocabulary of {vocabularySize}: " +
                "this tokenizer belongs to another model");
        return f.Tokenizer;
    }

    /// <summary>
    /// A Hugging Face tokenizer.json by its model type: byte-level BPE (GPT-2's) or WordPiece (BERT's, and the word-piece
    /// tokenizers small research models ship); any other type is a named error.
    /// </summary>
    public static ITokenizer FromTokenizerJson(string path) => ModelFileException.Guard<ITokenizer>(path, () =>
    {
        var root = JsonFile.ParseObject(path);
        var model = root["model"] as System.Text.Json.Nodes.JsonObject ?? throw new ModelFileException(path, "has no 'model' object", field: "model");
        var type = model["type"]?.GetValue<string>() ?? (model.ContainsKey("merges") ? "BPE" : "");
        switch (type)
        {
            case "BPE":
                return Gpt2Tokenizer.FromTokenizerJson(path);
            case "WordPiece":
                var vocab = model["vocab"] as System.Text.Json.Nodes.JsonObject ?? throw new ModelFileException(path, "WordPiece needs model.vocab", field: "model.vocab");
                var byId = vocab.Select(p => (Token: p.Key, Id: p.Value!.GetValue<int>())).OrderBy(p => p.Id).ToList();
                for (var i = 0; i < byId.Count; i++)
                    if (byId[i].Id != i) throw new ModelFileException(path, $"WordPiece ids must run 0..{byId.Count - 1}; id {i} is missing", field: "model.vocab");
                var lowerCase = root["normalizer"]?["lowercase"]?.GetValue<bool>() ?? true;
                return new WordPieceTokenizer([.. byId.Select(p => p.Token)], lowerCase, path);
            default:
                throw new ModelFileException(path, $"tokenizer model type '{type}' is not supported (BPE with byte-level pre-tokenization, or WordPiece)", field: "model.type");
        }
    });

    public static ITokenizer Load(string modelPath, int vocabularySize) =>
        TryLoad(modelPath, vocabularySize) ?? throw new ModelFileException(modelPath,
            "no tokenizer beside the model (tokenizer.json, vocab.json + merges.txt, vocab.txt or tokenizer.bin): pass token ids instead");
}
