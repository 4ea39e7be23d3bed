using MathNet.Numerics.LinearAlgebra;
using Verification.Engine.Models;
using Verification.Engine.Tensors;

namespace Verification.Analysis;

/// <summary>
/// Per-head weight matrices and the circuit scores read from them (no forward pass). Layouts are x·W:
/// W_E [vocab, dModel], W_V [dModel, kvHead·dHead], W_O [head·dHead, dModel], W_U [dModel, vocab].
/// </summary>
public static class Circuits
{
    /// <summary>The unembedding [dModel, vocab]: W_U, or W_Eᵀ when the model ties them.</summary>
    public static Tensor Unembedding(Transformer model)
    {
        if (model.Parameters.TryGetValue("unembed.W_U", out var wu)) return wu;
        var we = model.Parameter("embed.W_E");
        return Tensor.Transposed(we.Data, we.Shape[0], we.Shape[1]);
    }

    /// <summary>Columns of W_V (or W_Q, W_K) for one head: [dModel, dHead].</summary>
    public static double[,] HeadColumns(Transformer model, string weight, int layer, int head)
    {
        var w = model.Parameter($"blocks.{layer}.attn.{weight}");
        var c = model.Config;
        var kvHead = weight == "W_Q" ? head : head / (c.HeadCount / c.KeyValueHeadCount);
        var dHead = c.HeadWidth;
        var width = w.Shape[1];
        var m = new double[w.Shape[0], dHead];
        for (var i = 0; i < w.Shape[0]; i++)
            for (var j = 0; j < dHead; j++) m[i, j] = w.Data[i * width + kvHead * dHead + j];
        return m;
    }

    /// <summary>Rows of W_O for one head: [dHead, dModel].</summary>
    public static double[,] OutputRows(Transformer model, int layer, int head)
    {
        var w = model.Parameter($"blocks.{layer}.attn.W_O");
        var dHead = model.Config.HeadWidth;
        var dModel = w.Shape[1];
        var m = new double[dHead, dModel];
        for (var i = 0; i < dHead; i++)
            for (var j = 0; j < dModel; j++) m[i, j] = w.Data[(head * dHead + i) * dModel + j];
        return m;
    }

    /// <summary>
    /// SPD's OV copy score: mean over the given tokens t of W_U[:, t] · (W_E[t] · W_V,h · W_O,h). Negative means the
    /// head writes against the tokens it attends to.
    /// </summary>
    public static double OvCopyScore(Transformer model, int layer, int head, IReadOnlyCollection<int> tokens)
    {
        var we = model.Parameter("embed.W_E");
        var wu = Unembedding(model);
        var wv = HeadColumns(model, "W_V", layer, head);
        var wo = OutputRows(model, layer, head);
        int dModel = we.Shape[1], dHead = wv.GetLength(1), vocab = wu.Shape[1];
        double total = 0;
        foreach (var t in tokens)
        {
            var v = new double[dHead];
            for (var j = 0; j < dHead; j++)
                for (var i = 0; i < dModel; i++) v[j] += we.Data[t * dModel + i] * wv[i, j];
            double score = 0;
            for (var m = 0; m < dModel; m++)
            {
                double o = 0;
                for (var j = 0; j < dHead; j++) o += v[j] * wo[j, m];
                score += o * wu.Data[m * vocab + t];
            }
            total += score;
        }
        return tokens.Count == 0 ? double.NaN : total / tokens.Count;
    }

    public static double[,] OvCopyScores(Transformer model, IReadOnlyCollection<int> tokens)
    {
        var c = model.Config;
        var scores = new double[c.LayerCount, c.HeadCount];
        for (var l = 0; l < c.LayerCount; l++)
            for (var h = 0; h < c.HeadCount; h++) scores[l, h] = OvCopyScore(model, l, h, tokens);
        return scores;
    }

    /// <summary>
    /// Elhage et al.'s copying score Σ Re(λ) / Σ |λ| over the eigenvalues λ of the full OV circuit W_E W_V,h W_O,h W_U
    /// [vocab × vocab], computed from the same nonzero eigenvalues of W_O,h (W_U W_E) W_V,h [dHead × dHead].
    /// 0 for a head whose circuit is zero.
    /// </summary>
    public static double[,] CopyingScores(Transformer model)
    {
        var c = model.Config;
        var we = ToMatrix(model.Parameter("embed.W_E"));
        var wu = ToMatrix(Unembedding(model));
        var unembedEmbed = wu * we; // [dModel, dModel]
        var scores = new double[c.LayerCount, c.HeadCount];
        for (var l = 0; l < c.LayerCount; l++)
            for (var h = 0; h < c.HeadCount; h++)
            {
                var wv = Matrix<double>.Build.DenseOfArray(HeadColumns(model, "W_V", l, h));
                var wo = Matrix<double>.Build.DenseOfArray(OutputRows(model, l, h));
                var small = wo * unembedEmbed * wv; // [dHead, dHead]
                var eigenvalues = small.Evd().EigenValues;
                var absolute = eigenvalues.Sum(e => e.Magnitude);
                scores[l, h] = absolute < 1e-12 ? 0 : eigenvalues.Sum(e => e.Real) / absolute;
            }
        return scores;
    }

    static Matrix<double> ToMatrix(Tensor t) => Matrix<double>.Build.Dense(t.Shape[0], t.Shape[1], (i, j) => t.Data[i * t.Shape[1] + j]);
}
