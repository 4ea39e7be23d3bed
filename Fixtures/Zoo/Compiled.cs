using Verification.Engine.Models;
using Verification.Engine.Tensors;
using static Verification.Fixtures.Zoo.CompiledVocabulary;

namespace Verification.Fixtures.Zoo;

/// <summary>
/// Transformers whose weights are set by hand so that each head does exactly one known thing. The residual stream
/// has named subspaces and every head reads and writes only the ones its job needs:
///
///   TOK [0, 64)      the current token, one-hot        POS [64, 192)  the position, one-hot (context 128)
///   PREV [192, 256)  the previous token (L0H0 writes)  ATT 256        the position L0H2 attended to (its own when
///                                                                     the token is new, an earlier one when repeated)
///   LOGIT [258, 322) read by the unembedding
///
/// Inside a head (dHead = 200) coordinates 0..63 match tokens, 64..191 match positions, 192 carries a position index,
/// 193 the delimiter flag. A match scores β/√dHead = 24; a head with nothing to match falls back to attending to
/// itself (score 12), so no head but the BOS sink uses position 0 as a resting place.
/// </summary>
public static class Compiled
{
    public const int Vocabulary = 64;
    public const int Context = 128;
    public const int HeadWidth = 200;
    public const int HeadCount = 8;

    const int Tok = 0, Pos = 64, Prev = 192, Att = 256, Logit = 258, Width = 322;
    const int CoordPos = 64, CoordIndex = 192, CoordDelimiter = 193;
    static readonly float Beta = 24f * MathF.Sqrt(HeadWidth);

    /// <summary>What each head of <see cref="Heads"/> was built to do, by name ("L0H0" → "previous-token").</summary>
    public static readonly IReadOnlyDictionary<string, string> HeadKinds = new Dictionary<string, string>
    {
        ["L0H0"] = "previous-token", ["L0H1"] = "BOS sink", ["L0H2"] = "duplicate-token", ["L0H3"] = "self",
        ["L0H4"] = "uniform", ["L0H5"] = "offset 2", ["L0H6"] = "successor", ["L0H7"] = "uniform",
        ["L1H0"] = "induction", ["L1H1"] = "S-inhibition", ["L1H2"] = "delimiter", ["L1H3"] = "uniform",
        ["L1H4"] = "uniform", ["L1H5"] = "uniform", ["L1H6"] = "uniform", ["L1H7"] = "uniform",
    };

    public static AttentionOnlyConfig HeadsConfig { get; } = new()
    {
        VocabularySize = Vocabulary, ContextLength = Context, ModelWidth = Width, LayerCount = 2, HeadCount = HeadCount,
        HeadWidthOverride = HeadWidth,
    };

    /// <summary>
    /// Two layers of eight heads. Layer 0: previous-token, BOS sink, duplicate-token, self, uniform, offset 2, successor,
    /// uniform. Layer 1: induction (K-composition with L0H0), S-inhibition (attends to a repeated token, writes minus it),
    /// delimiter, and five uniform heads with no output.
    /// </summary>
    public static AttentionOnlyModel Heads()
    {
        var p = ParameterLayout.Initialise(HeadsConfig, seed: 0, std: 0);
        var we = p["embed.W_E"];
        for (var t = 0; t < Vocabulary; t++) we[t, Tok + t] = 1;
        for (var i = 0; i < Context; i++) p["pos_embed.W_pos"][i, Pos + i] = 1;
        for (var t = 0; t < Vocabulary; t++) p["unembed.W_U"][Logit + t, t] = 1;

        // L0H0 previous-token: the query at p looks for position p−1; the value is the token, written to PREV.
        var h = new HeadWriter(p, 0, 0);
        for (var i = 1; i < Context; i++) h.Query(Pos + i, CoordPos + i - 1, Beta);
        for (var i = 0; i < Context; i++) h.Key(Pos + i, CoordPos + i);
        for (var t = 0; t < Vocabulary; t++)
        {
            h.Value(Tok + t, t);
            h.Output(t, Prev + t);
        }

        // L0H1 BOS sink: every query looks for position 0.
        h = new HeadWriter(p, 0, 1);
        for (var i = 0; i < Context; i++) h.Query(Pos + i, CoordPos + 0, Beta);
        h.Key(Pos + 0, CoordPos + 0);

        // L0H2 duplicate-token: earlier copies of the same token (β), else itself (β/2); writes the attended position to ATT.
        h = new HeadWriter(p, 0, 2);
        for (var t = 0; t < Vocabulary; t++)
        {
            h.Query(Tok + t, t, Beta);
            h.Key(Tok + t, t);
        }
        for (var i = 0; i < Context; i++)
        {
            h.Query(Pos + i, CoordPos + i, -Beta / 2);
            h.Key(Pos + i, CoordPos + i);
            h.Value(Pos + i, CoordIndex, i);
        }
        h.Output(CoordIndex, Att);

        // L0H3 self.
        h = new HeadWriter(p, 0, 3);
        for (var i = 0; i < Context; i++)
        {
            h.Query(Pos + i, CoordPos + i, Beta);
            h.Key(Pos + i, CoordPos + i);
        }

        // L0H4 uniform: no query, no key, no output.

        // L0H5 offset 2.
        h = new HeadWriter(p, 0, 5);
        for (var i = 2; i < Context; i++) h.Query(Pos + i, CoordPos + i - 2, Beta);
        for (var i = 0; i < Context; i++) h.Key(Pos + i, CoordPos + i);

        // L0H6 successor: a digit or weekday looks for its ordinal predecessor, else itself.
        h = new HeadWriter(p, 0, 6);
        foreach (var word in All)
            if (Predecessor(word) is { } previous) h.Query(Tok + Id(word), Id(previous), Beta);
        for (var t = 0; t < Vocabulary; t++) h.Key(Tok + t, t);
        SelfFallback(h);

        // L0H7 uniform.

        // L1H0 induction by K-composition: the query's token against the key's PREV (written by L0H0); copies the token.
        h = new HeadWriter(p, 1, 0);
        for (var t = 0; t < Vocabulary; t++)
        {
            h.Query(Tok + t, t, Beta);
            h.Key(Prev + t, t);
            h.Value(Tok + t, t);
            h.Output(t, Logit + t);
        }
        SelfFallback(h);

        // L1H1 S-inhibition: scores a key j by β·(j − ATT(j)), positive only where j repeats an earlier token (in IOI
        // prompts, S2), never itself; writes minus the token it attends to.
        h = new HeadWriter(p, 1, 1);
        for (var i = 0; i < Context; i++)
        {
            h.Query(Pos + i, CoordIndex, Beta);
            h.Query(Pos + i, CoordPos + i, -Beta * Context);
            h.Key(Pos + i, CoordIndex, i);
            h.Key(Pos + i, CoordPos + i);
        }
        h.Key(Att, CoordIndex, -1);
        for (var t = 0; t < Vocabulary; t++)
        {
            h.Value(Tok + t, t);
            h.Output(t, Logit + t, -1);
        }

        // L1H2 delimiter: attends to delimiter tokens, else itself.
        h = new HeadWriter(p, 1, 2);
        for (var i = 0; i < Context; i++) h.Query(Pos + i, CoordDelimiter, Beta);
        foreach (var d in Delimiters) h.Key(Tok + Id(d), CoordDelimiter);
        SelfFallback(h);

        return new AttentionOnlyModel(HeadsConfig, p, "zoo: compiled-heads (weights set by hand, Fixtures/Zoo/Compiled.cs)");
    }

    /// <summary>Every query also scores itself β/2, so with nothing else to match the head attends to itself.</summary>
    static void SelfFallback(HeadWriter h)
    {
        for (var i = 0; i < Context; i++)
        {
            h.Query(Pos + i, CoordPos + i, Beta / 2);
            h.Key(Pos + i, CoordPos + i);
        }
    }

    /// <summary>Writes one head's slices of W_Q, W_K, W_V [dModel, head·dHead] and W_O [head·dHead, dModel].</summary>
    sealed class HeadWriter(IReadOnlyDictionary<string, Tensor> p, int layer, int head)
    {
        readonly Tensor wq = p[$"blocks.{layer}.attn.W_Q"], wk = p[$"blocks.{layer}.attn.W_K"];
        readonly Tensor wv = p[$"blocks.{layer}.attn.W_V"], wo = p[$"blocks.{layer}.attn.W_O"];
        readonly int offset = head * HeadWidth;

        public void Query(int residual, int coordinate, float value) => wq[residual, offset + coordinate] += value;
        public void Key(int residual, int coordinate, float value = 1) => wk[residual, offset + coordinate] += value;
        public void Value(int residual, int coordinate, float value = 1) => wv[residual, offset + coordinate] += value;
        public void Output(int coordinate, int residual, float value = 1) => wo[offset + coordinate, residual] += value;
    }
}
