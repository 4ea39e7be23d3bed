using MathNet.Numerics.LinearAlgebra;
using TorchSharp;
using Verification.Engine.Models;
using Verification.Engine.Tensors;
using Verification.Engine.Torch;
using Tensor = Verification.Engine.Tensors.Tensor;

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

    /// <summary>
    /// <see cref="OvCopyScore"/> for every head [layer, head], on the device: the named tokens' embeddings and unembedding
    /// columns are gathered once, each layer's heads go through W_V and W_O in one product (float64 from the float32
    /// weights). <see cref="OvCopyScoresOnHost"/> is its slow reference.
    /// </summary>
    public static double[,] OvCopyScores(Transformer model, IReadOnlyCollection<int> tokens)
    {
        var c = model.Config;
        var scores = new double[c.LayerCount, c.HeadCount];
        if (tokens.Count == 0)
        {
            for (var l = 0; l < c.LayerCount; l++)
                for (var h = 0; h < c.HeadCount; h++) scores[l, h] = double.NaN;
            return scores;
        }
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var w = model.WeightsOn(Devices.Default, Precision.Float32);
        var ids = torch.tensor(tokens.Select(t => (long)t).ToArray(), device: torch.device(w.Device));
        var embedded = w["embed.W_E"].index_select(0, ids).to(torch.ScalarType.Float64);                     // [n, dModel]
        var unembedded = (w.Maybe("unembed.W_U") is { } wu ? wu.index_select(1, ids) : w["embed.W_E"].index_select(0, ids).t())
            .to(torch.ScalarType.Float64);                                                                    // [dModel, n]
        int heads = c.HeadCount, kvHeads = c.KeyValueHeadCount, dHead = c.HeadWidth;
        for (var l = 0; l < c.LayerCount; l++)
        {
            var wv = w[$"blocks.{l}.attn.W_V"].to(torch.ScalarType.Float64);                                  // [dModel, kvHead·dHead]
            var wo = w[$"blocks.{l}.attn.W_O"].to(torch.ScalarType.Float64).view(heads, dHead, -1);          // [head, dHead, dModel]
            var values = embedded.matmul(wv).view(-1, kvHeads, dHead);                                        // [n, kvHead, dHead]
            if (kvHeads != heads) values = values.repeat_interleave(heads / kvHeads, dim: 1);                 // [n, head, dHead]
            var written = torch.einsum("nhj,hjm->nhm", values, wo);                                           // [n, head, dModel]
            var perHead = torch.einsum("nhm,mn->h", written, unembedded).Times(1.0 / tokens.Count);         // [head]
            var host = perHead.cpu().data<double>().ToArray();
            for (var h = 0; h < heads; h++) scores[l, h] = host[h];
        }
        return scores;
    }

    /// <summary>The host reference of <see cref="OvCopyScores"/>: <see cref="OvCopyScore"/> per head, in double loops.</summary>
    public static double[,] OvCopyScoresOnHost(Transformer model, IReadOnlyCollection<int> tokens)
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
        var scores = new double[c.LayerCount, c.HeadCount];
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var w = model.WeightsOn(Devices.Default, Precision.Float32);
        var ue = UnembedEmbed(w);                                                                                       // [dModel, dModel], once for every head
        int heads = c.HeadCount, kvHeads = c.KeyValueHeadCount, dHead = c.HeadWidth;
        for (var l = 0; l < c.LayerCount; l++)
        {
            var wv = w[$"blocks.{l}.attn.W_V"].to(torch.ScalarType.Float64).view(-1, kvHeads, dHead).permute(1, 0, 2); // [kvHead, dModel, dHead]
            if (kvHeads != heads) wv = wv.repeat_interleave(heads / kvHeads, dim: 0);                                   // [head, dModel, dHead]
            var wo = w[$"blocks.{l}.attn.W_O"].to(torch.ScalarType.Float64).view(heads, dHead, -1);                    // [head, dHead, dModel]
            var small = wo.matmul(ue).matmul(wv).cpu();                                                                 // [head, dHead, dHead]
            var values = small.data<double>().ToArray();
            for (var h = 0; h < heads; h++)
            {
                var m = Matrix<double>.Build.Dense(dHead, dHead, (i, j) => values[(h * dHead + i) * dHead + j]);
                scores[l, h] = CopyingScore(m);
            }
        }
        return scores;
    }

    /// <summary>
    /// W_U · W_E [dModel, dModel] in float64 on the weights' device, summed over vocabulary chunks (a float64 copy of the
    /// whole unembedding would be GPT-2-large's 515 MB). The caller's dispose scope owns it.
    /// </summary>
    static torch.Tensor UnembedEmbed(WeightSet w)
    {
        var embed = w["embed.W_E"];                                                                   // [vocab, dModel]
        var unembed = w.Maybe("unembed.W_U");                                                          // [dModel, vocab], or tied
        long vocab = embed.shape[0], width = embed.shape[1];
        var sum = torch.zeros(width, width, torch.ScalarType.Float64, embed.device);
        const long chunk = 8192;
        for (long start = 0; start < vocab; start += chunk)
        {
            using var inner = torch.NewDisposeScope();
            var count = Math.Min(chunk, vocab - start);
            var rows = embed.narrow(0, start, count).to(torch.ScalarType.Float64);                     // [chunk, dModel]
            var columns = unembed is null ? rows.t() : unembed.narrow(1, start, count).to(torch.ScalarType.Float64); // [dModel, chunk]
            sum.add_(columns.matmul(rows), Scalars.One);
        }
        return sum;
    }

    /// <summary>Σ Re(λ) / Σ |λ| over the eigenvalues of one head's [dHead, dHead] circuit; 0 for a zero circuit.</summary>
    static double CopyingScore(Matrix<double> small)
    {
        var eigenvalues = small.Evd().EigenValues;
        var absolute = eigenvalues.Sum(e => e.Magnitude);
        return absolute < 1e-12 ? 0 : eigenvalues.Sum(e => e.Real) / absolute;
    }

    /// <summary>The host reference of <see cref="CopyingScores"/>: the same eigenvalues from double matrices built on the host.</summary>
    public static double[,] CopyingScoresOnHost(Transformer model)
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
                scores[l, h] = CopyingScore(wo * unembedEmbed * wv); // [dHead, dHead]
            }
        return scores;
    }

    static Matrix<double> ToMatrix(Tensor t) => Matrix<double>.Build.Dense(t.Shape[0], t.Shape[1], (i, j) => t.Data[i * t.Shape[1] + j]);
}
