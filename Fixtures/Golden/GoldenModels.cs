using Verification.Engine.Loading;

namespace Verification.Fixtures.Golden;

/// <summary>The small random models PyTorch built (make_models.py), with PyTorch's outputs for fixed inputs.</summary>
public static class GoldenModels
{
    /// <summary>bert-tiny-pickle is bert-tiny-random saved by torch.save as pytorch_model.bin (make_pytorch_bin.py).</summary>
    public static readonly string[] Names = ["gpt2-tiny", "bert-tiny-random", "bert-tiny-pickle", "llama-mha-tied", "llama-gqa2-untied", "llama-gqa4-untied", "llama-plain-mlp"];

    public static string Folder(string name) => Path.Combine(GoldenFiles.Folder, "models", name);

    /// <summary>A state dict in PyTorch's pre-1.6 (non-zip) format, which the pickle loader refuses by name.</summary>
    public static string LegacyPickle => Path.Combine(GoldenFiles.Folder, "legacy_state_dict.bin");

    public static SafeTensors Expected(string name) => SafeTensors.Open(Path.Combine(Folder(name), "expected.safetensors"));
}
