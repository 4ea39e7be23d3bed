using Verification.Engine.Models;
using Verification.Engine.Tensors;
using static Verification.Fixtures.Zoo.CompiledVocabulary;

namespace Verification.Fixtures.Zoo;

/// <summary>
/// A compiled circuit with an MLP (GPT-2 family, no LayerNorm, one layer of 8 heads and 16 neurons), whose answer to the
/// context-lookup analysis is known:
///   L0H0 is a previous-token head that writes the previous token into PREV; L0H1–H7 attend to themselves and write nothing.
///   Neuron 0 reads PREV("the"), pre-activation 2·[previous token is "the"] − 1, and writes +4 to the logit of "cat":
///     a next-token neuron for "cat" that only L0H0 can drive.
///   Neuron 1 reads the current token "Monday" the same way and writes +4 to the logit of "Tuesday": no head needed.
/// Residual: TOK [0, 64), POS [64, 192), PREV [192, 256), LOGIT [256, 320); head coordinates: 0..63 tokens, 64..191 positions.
/// </summary>
public static class CompiledLookup
{
    const int Tok = 0, Pos = 64, Prev = 192, Logit = 256, Width = 320, HeadWidth = 192, Vocabulary = 64;
    public const int CatNeuron = 0, TuesdayNeuron = 1;
    static readonly float Beta = 24f * MathF.Sqrt(HeadWidth);

    public static Gpt2Config Config { get; } = new()
    {
        VocabularySize = 64, ContextLength = 128, ModelWidth = Width, LayerCount = 1, HeadCount = 8, MlpWidth = 16,
        HeadWidthOverride = HeadWidth, UseLayerNorm = false, TiedEmbeddings = false,
    };

    public static Gpt2Model Model()
    {
        var p = ParameterLayout.Initialise(Config, seed: 0, std: 0);
        for (var t = 0; t < Vocabulary; t++) p["embed.W_E"][t, Tok + t] = 1;
        for (var i = 0; i < Config.ContextLength; i++) p["pos_embed.W_pos"][i, Pos + i] = 1;
        for (var t = 0; t < Vocabulary; t++) p["unembed.W_U"][Logit + t, t] = 1;
        Tensor Q = p["blocks.0.attn.W_Q"], K = p["blocks.0.attn.W_K"], V = p["blocks.0.attn.W_V"], O = p["blocks.0.attn.W_O"];
        for (var h = 0; h < Config.HeadCount; h++)
        {
            var o = h * HeadWidth;
            for (var i = 0; i < Config.ContextLength; i++)
            {
                K[Pos + i, o + 64 + i] = 1;
                // L0H0 looks one position back; the others look at themselves.
                if (h == 0 && i >= 1) Q[Pos + i, o + 64 + i - 1] = Beta;
                else if (h > 0) Q[Pos + i, o + 64 + i] = Beta;
            }
        }
        for (var t = 0; t < Vocabulary; t++)
        {
            V[Tok + t, t] = 1;   // L0H0's value: the token
            O[t, Prev + t] = 1;  // its output: PREV
        }
        var wIn = p["blocks.0.mlp.W_in"];
        var bIn = p["blocks.0.mlp.b_in"];
        var wOut = p["blocks.0.mlp.W_out"];
        wIn[Prev + Id("the"), CatNeuron] = 2;
        bIn[CatNeuron] = -1;
        wOut[CatNeuron, Logit + Id("cat")] = 4;
        wIn[Tok + Id("Monday"), TuesdayNeuron] = 2;
        bIn[TuesdayNeuron] = -1;
        wOut[TuesdayNeuron, Logit + Id("Tuesday")] = 4;
        return new Gpt2Model(Config, p, "zoo: compiled-lookup (weights set by hand, Fixtures/Zoo/CompiledLookup.cs)");
    }
}
