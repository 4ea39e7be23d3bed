namespace Verification.Engine.Models;

/// <summary>TransformerLens's hook names, unchanged, so people coming from Python know them.</summary>
public static class Hooks
{
    public const string Embed = "hook_embed";
    public const string PosEmbed = "hook_pos_embed";
    public const string LnFinal = "ln_final.hook_normalized";
    public const string Logits = "logits";

    public static string ResidPre(int layer) => $"blocks.{layer}.hook_resid_pre";
    public static string Ln1(int layer) => $"blocks.{layer}.ln1.hook_normalized";
    public static string Q(int layer) => $"blocks.{layer}.attn.hook_q";
    public static string K(int layer) => $"blocks.{layer}.attn.hook_k";
    public static string V(int layer) => $"blocks.{layer}.attn.hook_v";
    public static string RotQ(int layer) => $"blocks.{layer}.attn.hook_rot_q";
    public static string RotK(int layer) => $"blocks.{layer}.attn.hook_rot_k";
    public static string AttnScores(int layer) => $"blocks.{layer}.attn.hook_attn_scores";
    public static string Pattern(int layer) => $"blocks.{layer}.attn.hook_pattern";
    public static string Z(int layer) => $"blocks.{layer}.attn.hook_z";
    public static string Result(int layer) => $"blocks.{layer}.attn.hook_result";
    public static string AttnOut(int layer) => $"blocks.{layer}.hook_attn_out";
    public static string ResidMid(int layer) => $"blocks.{layer}.hook_resid_mid";
    public static string Ln2(int layer) => $"blocks.{layer}.ln2.hook_normalized";
    public static string MlpPre(int layer) => $"blocks.{layer}.mlp.hook_pre";
    public static string MlpPreLinear(int layer) => $"blocks.{layer}.mlp.hook_pre_linear";
    public static string MlpPost(int layer) => $"blocks.{layer}.mlp.hook_post";
    public static string MlpOut(int layer) => $"blocks.{layer}.hook_mlp_out";
    public static string ResidPost(int layer) => $"blocks.{layer}.hook_resid_post";
}
