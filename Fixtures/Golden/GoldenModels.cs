using Verification.Engine.Loading;

namespace Verification.Fixtures.Golden;

/// <summary>The small random models PyTorch built (make_models.py), with PyTorch's outputs for fixed inputs.</summary>
public static class GoldenModels
{
    public static readonly string[] Names = ["gpt2-tiny", "bert-tiny-random", "llama-mha-tied", "llama-gqa2-untied", "llama-gqa4-untied", "llama-plain-mlp"];

    public static string Folder(string name) => Path.Combine(GoldenFiles.Folder, "models", name);

    public static SafeTensors Expected(string name) => SafeTensors.Open(Path.Combine(Folder(name), "expected.safetensors"));
}
