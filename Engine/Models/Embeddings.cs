using Verification.Engine.Tensors;

namespace Verification.Engine.Models;

/// <summary>Token and position embeddings and the unembedding, shared by the families.</summary>
internal static class Embeddings
{
    /// <summary>Rows of table for ids [batch·pos] → [batch, pos, dModel].</summary>
    public static Tensor Lookup(int[] ids, Tensor table, int batch, int pos) =>
        Ops.Reshape(Ops.Embedding(ids, table), batch, pos, table.Shape[1]);

    /// <summary>Position ids 0..pos−1 for each batch item: [batch·pos].</summary>
    public static int[] Positions(int batch, int pos) => [.. Enumerable.Range(0, batch).SelectMany(_ => Enumerable.Range(0, pos))];

    /// <summary>x [batch, pos, dModel] → logits [batch, pos, vocab], through W_U [dModel, vocab] or tied W_E [vocab, dModel].</summary>
    public static Tensor Unembed(Tensor x, Tensor? unembed, Tensor embed, Tensor? bias) =>
        unembed is not null ? Ops.MatMul(x, unembed, bias: bias) : Ops.MatMul(x, embed, transposeW: true, bias: bias);
}
