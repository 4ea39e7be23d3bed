using Google.Protobuf;
using Onnx;
using Verification.Engine.Models;
using Verification.Engine.Tensors;

namespace Verification.Engine.Loading;

/// <summary>
/// A BERT encoder exported to ONNX by Hugging Face's exporter (the sentence-transformers packages ship these): the
/// biases, LayerNorms and embeddings keep their Hugging Face names, while each Linear's weight is an anonymous
/// <c>MatMul</c> input laid out [in, out]. The weight belongs to the Linear whose bias the consuming <c>Add</c> adds, so
/// the graph, not the names, says which matrix is which. The head width is read from the scale that divides Q·Kᵀ, the
/// LayerNorm epsilon from the constant added under its square root. Encoder only: hidden states, no MLM head.
/// </summary>
public static class OnnxBert
{
    /// <param name="source">What the stream is (a file or a package resource), for messages.</param>
    public static BertModel Load(Stream onnx, string source)
    {
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(onnx);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new ModelFileException(source, "is not an ONNX model: " + e.Message);
        }
        if (model.Graph is null) throw new ModelFileException(source, "has no graph");
        return ModelFileException.Guard(source, () => FromGraph(model.Graph, source));
    }

    static BertModel FromGraph(GraphProto graph, string source)
    {
        var initializers = new Dictionary<string, TensorProto>(StringComparer.Ordinal);
        foreach (var t in graph.Initializer) initializers[t.Name] = t;
        var producer = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        foreach (var node in graph.Node)
            foreach (var output in node.Output) producer[output] = node;
        var constants = graph.Node.Where(n => n.OpType == "Constant").ToDictionary(n => n.Output[0], StringComparer.Ordinal);

        // bias name → the MatMul weight whose product it is added to.
        var weightOfBias = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var add in graph.Node.Where(n => n.OpType == "Add" && n.Input.Count == 2))
        {
            var bias = add.Input.FirstOrDefault(initializers.ContainsKey);
            var product = add.Input.FirstOrDefault(i => producer.TryGetValue(i, out var p) && p.OpType == "MatMul");
            if (bias is null || product is null) continue;
            var matMul = producer[product];
            if (matMul.Input.Count == 2 && initializers.ContainsKey(matMul.Input[1])) weightOfBias[bias] = matMul.Input[1];
        }

        var missing = new List<string>();
        TensorProto? Find(string name)
        {
            if (initializers.TryGetValue(name, out var t)) return t;
            missing.Add(name);
            return null;
        }

        var layerCount = 0;
        while (initializers.ContainsKey($"encoder.layer.{layerCount}.attention.self.query.bias")) layerCount++;
        if (layerCount == 0) missing.Add("encoder.layer.0.attention.self.query.bias");
        var word = Find("embeddings.word_embeddings.weight");
        var position = Find("embeddings.position_embeddings.weight");
        var tokenType = Find("embeddings.token_type_embeddings.weight");
        var p = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        void Add(string ours, string name)
        {
            if (Find(name) is { } t) p[ours] = ModelFileException.RequireFinite(source, t.Name, Read(t, source));
        }
        // A Linear: its bias by name, its weight [in, out] (already our layout) by the graph.
        void AddLinear(string weightOurs, string biasOurs, string biasName)
        {
            Add(biasOurs, biasName);
            if (weightOfBias.TryGetValue(biasName, out var weight)) p[weightOurs] = ModelFileException.RequireFinite(source, weight, Read(initializers[weight], source));
            else missing.Add($"the MatMul weight whose product {biasName} is added to");
        }
        Add("embed.W_E", "embeddings.word_embeddings.weight");
        Add("pos_embed.W_pos", "embeddings.position_embeddings.weight");
        Add("token_type_embed.W_token_type", "embeddings.token_type_embeddings.weight");
        Add("embed_ln.w", "embeddings.LayerNorm.weight");
        Add("embed_ln.b", "embeddings.LayerNorm.bias");
        for (var l = 0; l < layerCount; l++)
        {
            var e = $"encoder.layer.{l}.";
            AddLinear($"blocks.{l}.attn.W_Q", $"blocks.{l}.attn.b_Q", e + "attention.self.query.bias");
            AddLinear($"blocks.{l}.attn.W_K", $"blocks.{l}.attn.b_K", e + "attention.self.key.bias");
            AddLinear($"blocks.{l}.attn.W_V", $"blocks.{l}.attn.b_V", e + "attention.self.value.bias");
            AddLinear($"blocks.{l}.attn.W_O", $"blocks.{l}.attn.b_O", e + "attention.output.dense.bias");
            Add($"blocks.{l}.ln1.w", e + "attention.output.LayerNorm.weight");
            Add($"blocks.{l}.ln1.b", e + "attention.output.LayerNorm.bias");
            AddLinear($"blocks.{l}.mlp.W_in", $"blocks.{l}.mlp.b_in", e + "intermediate.dense.bias");
            AddLinear($"blocks.{l}.mlp.W_out", $"blocks.{l}.mlp.b_out", e + "output.dense.bias");
            Add($"blocks.{l}.ln2.w", e + "output.LayerNorm.weight");
            Add($"blocks.{l}.ln2.b", e + "output.LayerNorm.bias");
        }

        var softmaxCount = graph.Node.Count(n => n.OpType == "Softmax");
        if (softmaxCount != layerCount) missing.Add($"one attention Softmax per layer ({layerCount} layers, {softmaxCount} Softmax nodes)");
        var headWidth = HeadWidth(graph, producer, initializers, constants, source);
        if (headWidth is null) missing.Add("the scale 1/√d_head applied to Q·Kᵀ before the Softmax");
        var epsilon = Epsilon(graph, producer, initializers, constants, source);
        if (epsilon is null) missing.Add("the LayerNorm epsilon (the constant added before Sqrt)");
        var erf = graph.Node.Count(n => n.OpType == "Erf");
        if (erf != layerCount) missing.Add($"an erf GELU per layer ({erf} Erf nodes)");
        if (missing.Count > 0)
            throw new ModelFileException(source, "does not have the layout of a BERT encoder exported to ONNX; missing: " + string.Join("; ", missing.Distinct()));

        var width = (int)word!.Dims[1];
        if (width % headWidth!.Value != 0)
            throw new ModelFileException(source, $"width {width} is not a multiple of the head width {headWidth} read from the attention scale");
        var config = new BertConfig
        {
            VocabularySize = (int)word.Dims[0], ContextLength = (int)position!.Dims[0], ModelWidth = width, LayerCount = layerCount,
            HeadCount = width / headWidth.Value, MlpWidth = p["blocks.0.mlp.b_in"].Shape[0], TypeVocabularySize = (int)tokenType!.Dims[0],
            LayerNormEpsilon = epsilon!.Value, Activation = GeluForm.Erf, LanguageModelHead = false,
        };
        return new BertModel(config, p, source);
    }

    /// <summary>√d_head, the divisor of Q·Kᵀ (Div by a constant feeding, directly or through the mask's Add, a Softmax).</summary>
    static int? HeadWidth(GraphProto graph, Dictionary<string, NodeProto> producer, Dictionary<string, TensorProto> initializers,
        Dictionary<string, NodeProto> constants, string source)
    {
        foreach (var softmax in graph.Node.Where(n => n.OpType == "Softmax"))
        {
            var node = producer.GetValueOrDefault(softmax.Input[0]);
            if (node?.OpType == "Add") node = node.Input.Select(i => producer.GetValueOrDefault(i)).FirstOrDefault(n => n?.OpType is "Div" or "Mul");
            if (node is null || node.Input.Count != 2) continue;
            if (Scalar(node.Input[1], initializers, constants, source) is not { } scale) continue;
            var root = node.OpType == "Div" ? scale : 1 / scale;
            return (int)Math.Round(root * root);
        }
        return null;
    }

    /// <summary>The constant of the Add whose sum feeds a Sqrt (LayerNorm's variance + ε).</summary>
    static float? Epsilon(GraphProto graph, Dictionary<string, NodeProto> producer, Dictionary<string, TensorProto> initializers,
        Dictionary<string, NodeProto> constants, string source)
    {
        foreach (var sqrt in graph.Node.Where(n => n.OpType == "Sqrt"))
            if (producer.GetValueOrDefault(sqrt.Input[0]) is { OpType: "Add" } add)
                foreach (var input in add.Input)
                    if (Scalar(input, initializers, constants, source) is { } eps) return eps;
        return null;
    }

    static float? Scalar(string name, Dictionary<string, TensorProto> initializers, Dictionary<string, NodeProto> constants, string source)
    {
        var tensor = initializers.GetValueOrDefault(name)
                     ?? constants.GetValueOrDefault(name)?.Attribute.FirstOrDefault(a => a.Name == "value")?.T;
        if (tensor is null || tensor.DataType != (int)TensorProto.Types.DataType.Float) return null;
        var values = Read(tensor, source);
        return values.Size == 1 ? values.Data[0] : null;
    }

    /// <summary>A float32 initializer as a tensor of its dims (raw little-endian bytes or float_data).</summary>
    static Tensor Read(TensorProto t, string source)
    {
        if (t.DataType != (int)TensorProto.Types.DataType.Float)
            throw new ModelFileException(source, $"is not float32 (ONNX data type {t.DataType})", t.Name);
        var shape = t.Dims.Select(d => d is > 0 and <= int.MaxValue ? (int)d
            : throw new ModelFileException(source, $"has dimension {d}", t.Name)).ToArray();
        var size = shape.Aggregate(1L, (a, d) => checked(a * d));
        var data = new float[size];
        if (!t.RawData.IsEmpty)
        {
            if (t.RawData.Length != size * 4) throw new ModelFileException(source, $"holds {t.RawData.Length} bytes; its dims need {size * 4}", t.Name);
            System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(t.RawData.Span).CopyTo(data);
        }
        else
        {
            if (t.FloatData.Count != size) throw new ModelFileException(source, $"holds {t.FloatData.Count} values; its dims need {size}", t.Name);
            t.FloatData.CopyTo(data, 0);
        }
        return shape.Length == 0 ? new Tensor(data, 1) : new Tensor(data, shape);
    }
}
