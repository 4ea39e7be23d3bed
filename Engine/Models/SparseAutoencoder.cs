using System.Globalization;
using System.Text.Json;
using TorchSharp;
using TorchSharp.Modules;
using Verification.Engine.Loading;
using Verification.Engine.Torch;
using Verification.Engine.Training;
using static TorchSharp.torch;
using HostTensor = Verification.Engine.Tensors.Tensor;

namespace Verification.Engine.Models;

/// <summary>
/// An SAE's shape and sparsity: ReLU latents with an L1 penalty, or top-k latents when <see cref="TopK"/> &gt; 0.
/// <see cref="CentreInput"/>: subtract b_dec before encoding (SAELens's apply_b_dec_to_input).
/// </summary>
public sealed record SaeConfig(int InputWidth, int Latents, float L1 = 1e-2f, int TopK = 0, string Source = "", bool CentreInput = true);

/// <summary>How well an SAE fits: dead latents (never active), explained variance 1 − Var(x − x̂)/Var(x), mean active latents.</summary>
public sealed record SaeStatistics(int DeadLatents, double ExplainedVariance, double MeanL0);

/// <summary>
/// A sparse autoencoder f = act((x − b_dec)·W_enc + b_enc), x̂ = f·W_dec + b_dec, with unit-norm decoder rows. Trained on
/// a head's output (hook_z through its W_O slice, or hook_result) to find the features that AttentionRules describes.
/// </summary>
public sealed class SparseAutoencoder
{
    public SparseAutoencoder(SaeConfig config, HostTensor encoder, HostTensor encoderBias, HostTensor decoder, HostTensor decoderBias)
    {
        Config = config;
        Encoder = encoder;         // W_enc [input, latents]
        EncoderBias = encoderBias; // b_enc [latents]
        Decoder = decoder;         // W_dec [latents, input], rows of unit norm
        DecoderBias = decoderBias; // b_dec [input]
    }

    public SaeConfig Config { get; }
    public HostTensor Encoder { get; }
    public HostTensor EncoderBias { get; }
    public HostTensor Decoder { get; }
    public HostTensor DecoderBias { get; }

    /// <summary>Latent activations f [n, latents] of inputs x [n, input], on the host.</summary>
    public HostTensor Encode(HostTensor x)
    {
        if (x.Rank != 2 || x.Shape[1] != Config.InputWidth)
            throw new ArgumentException($"SAE input must be [rows, {Config.InputWidth}]; got {x.ShapeString}.");
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var device = Devices.Default;
        return TorchRuntime.ToHost(Encode(TorchRuntime.FromHost(x, device), Weights(device)), "latents");
    }

    /// <summary>Reconstructions x̂ [n, input] of latents f [n, latents], on the host.</summary>
    public HostTensor Decode(HostTensor f)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var device = Devices.Default;
        return TorchRuntime.ToHost(Decode(TorchRuntime.FromHost(f, device), Weights(device)), "reconstruction");
    }

    /// <summary>W_enc, b_enc, W_dec, b_dec on a device (fresh copies, owned by the caller's dispose scope).</summary>
    (Tensor Encoder, Tensor EncoderBias, Tensor Decoder, Tensor DecoderBias) Weights(string device) =>
        (TorchRuntime.FromHost(Encoder, device), TorchRuntime.FromHost(EncoderBias, device),
         TorchRuntime.FromHost(Decoder, device), TorchRuntime.FromHost(DecoderBias, device));

    Tensor Encode(Tensor x, (Tensor Encoder, Tensor EncoderBias, Tensor Decoder, Tensor DecoderBias) w)
    {
        var centred = Config.CentreInput ? x.sub(w.DecoderBias) : x;
        var pre = nn.functional.relu(Linear.Apply(centred, w.Encoder, w.EncoderBias));   // [n, latents]
        if (Config.TopK <= 0) return pre;
        // Top-k: the k largest of each row stay, the others are 0.
        var (values, indices) = pre.topk(Math.Min(Config.TopK, (int)pre.shape[1]), dim: 1);
        return torch.zeros_like(pre).scatter(1, indices, values);
    }

    static Tensor Decode(Tensor f, (Tensor Encoder, Tensor EncoderBias, Tensor Decoder, Tensor DecoderBias) w) =>
        Linear.Apply(f, w.Decoder, w.DecoderBias);

    /// <summary>
    /// Trains on rows of <paramref name="data"/> [n, input] with AdamW: loss = MSE(x̂, x) + L1·mean Σ|f|, decoder rows
    /// renormalised to unit length after every step. Seeded: the same data and seed give the same SAE.
    /// </summary>
    public static SparseAutoencoder Train(HostTensor data, SaeConfig config, int steps = 2000, int batchSize = 256, float learningRate = 3e-3f, int seed = 0,
        IProgress<TrainingProgress>? progress = null)
    {
        if (data.Rank != 2 || data.Shape[1] != config.InputWidth)
            throw new ArgumentException($"SAE data must be [rows, {config.InputWidth}]; got {data.ShapeString}.");
        int n = data.Shape[0], d = config.InputWidth, l = config.Latents;
        var random = new Random(seed);
        var decoder = HostTensor.RandomNormal(random, 1f, l, d);
        NormaliseRows(decoder);
        var encoder = HostTensor.Transposed(decoder.Data, l, d);
        var mean = new HostTensor(d);
        for (var r = 0; r < n; r++)
            for (var j = 0; j < d; j++) mean.Data[j] += data.Data[r * d + j] / n;
        var device = Devices.Default;
        using var rows = TorchRuntime.FromHost(data, device);                               // [n, input]
        var host = new[] { encoder, new HostTensor(l), decoder, mean };
        var parameters = host.Select(h =>
        {
            using var values = TorchRuntime.FromHost(h, device);
            return (Parameter)new Parameter(values, requires_grad: true).DetachFromDisposeScope();
        }).ToArray();
        try
        {
            var w = (Encoder: (Tensor)parameters[0], EncoderBias: (Tensor)parameters[1], Decoder: (Tensor)parameters[2], DecoderBias: (Tensor)parameters[3]);
            var sae = new SparseAutoencoder(config, encoder, host[1], decoder, mean);
            Trainer.Train(parameters, step =>
            {
                var picked = torch.tensor(Enumerable.Range(0, batchSize).Select(_ => (long)random.Next(n)).ToArray(), device: torch.device(device));
                var x = rows.index_select(0, picked);                                      // [batch, input]
                var f = sae.Encode(x, w);
                var loss = Losses.MeanSquaredError(Decode(f, w), x);
                if (config.TopK == 0 && config.L1 > 0) loss = loss.Plus(f.abs().sum().Times(config.L1 / batchSize));
                return (loss, batchSize);
            }, new TrainingSettings { Steps = steps, LearningRate = learningRate, WeightDecay = 0f, ClipNorm = 1f, Seed = seed }, progress,
                afterStep: _ =>
                {
                    // Unit-norm decoder rows; a zero row stays zero.
                    var norms = w.Decoder.norm(1, keepdim: true);
                    w.Decoder.div_(torch.where(norms.Positive(), norms, torch.ones_like(norms)));
                }, reportEvery: Math.Max(1, steps / 10));
            for (var i = 0; i < host.Length; i++) TorchRuntime.CopyToHost(parameters[i], host[i].Data);
            return sae;
        }
        finally
        {
            foreach (var p in parameters) p.Dispose();
        }
    }

    static void NormaliseRows(HostTensor m)
    {
        int rows = m.Shape[0], width = m.Shape[1];
        for (var r = 0; r < rows; r++)
        {
            var row = m.Data.AsSpan(r * width, width);
            var norm = System.Numerics.Tensors.TensorPrimitives.Norm(row);
            if (norm > 0) System.Numerics.Tensors.TensorPrimitives.Multiply(row, 1f / norm, row);
        }
    }

    public SaeStatistics Evaluate(HostTensor data)
    {
        var f = Encode(data);
        var reconstruction = Decode(f);
        int n = data.Shape[0], l = Config.Latents, d = Config.InputWidth;
        var everActive = new bool[l];
        double active = 0;
        for (var r = 0; r < n; r++)
            for (var j = 0; j < l; j++)
                if (f.Data[r * l + j] > 0) { everActive[j] = true; active++; }
        double residual = 0, total = 0;
        var mean = new double[d];
        for (var r = 0; r < n; r++)
            for (var j = 0; j < d; j++) mean[j] += data.Data[r * d + j] / n;
        for (var r = 0; r < n; r++)
            for (var j = 0; j < d; j++)
            {
                var x = data.Data[r * d + j];
                residual += Math.Pow(x - reconstruction.Data[r * d + j], 2);
                total += Math.Pow(x - mean[j], 2);
            }
        return new SaeStatistics(everActive.Count(a => !a), total > 0 ? 1 - residual / total : double.NaN, active / n);
    }

    public void Save(string path, IReadOnlyDictionary<string, string>? notes = null)
    {
        var metadata = new Dictionary<string, string>(notes ?? new Dictionary<string, string>()) { ["verification.sae"] = JsonSerializer.Serialize(Config) };
        SafeTensors.Write(path, new Dictionary<string, HostTensor> { ["W_enc"] = Encoder, ["b_enc"] = EncoderBias, ["W_dec"] = Decoder, ["b_dec"] = DecoderBias }, metadata);
    }

    public static SparseAutoencoder Load(string path)
    {
        var file = SafeTensors.Open(path);
        if (!file.Metadata.TryGetValue("verification.sae", out var json)) throw new ModelFileException(path, "no 'verification.sae' config in the metadata");
        var config = JsonSerializer.Deserialize<SaeConfig>(json) ?? throw new ModelFileException(path, "empty SAE config");
        return FromFile(config, file, path, "the SAE config");
    }

    /// <summary>W_enc, b_enc, W_dec and b_dec from a safetensors file, each checked against the config's shapes.</summary>
    static SparseAutoencoder FromFile(SaeConfig config, SafeTensors file, string path, string configName)
    {
        HostTensor Read(string name, params int[] shape)
        {
            var t = ModelFileException.RequireFinite(path, name, file.Read(name));
            if (!t.Shape.AsSpan().SequenceEqual(shape))
                throw new ModelFileException(path, $"has shape {t.ShapeString} but {configName} needs {HostTensor.Format(shape)}", name);
            return t;
        }
        return new SparseAutoencoder(config, Read("W_enc", config.InputWidth, config.Latents), Read("b_enc", config.Latents),
            Read("W_dec", config.Latents, config.InputWidth), Read("b_dec", config.InputWidth));
    }

    /// <summary>
    /// An SAE saved by SAELens (the layout of the source's per-head SAEs): a folder with cfg.json (d_in, d_sae,
    /// activation_fn_str "relu" or "topk" with activation_fn_kwargs.k, apply_b_dec_to_input) and sae_weights.safetensors
    /// (W_enc [d_in, d_sae], W_dec [d_sae, d_in], b_enc, b_dec).
    /// </summary>
    public static SparseAutoencoder LoadSaeLens(string folder)
    {
        var configPath = Path.Combine(folder, "cfg.json");
        var weightsPath = Path.Combine(folder, "sae_weights.safetensors");
        if (!File.Exists(configPath)) throw new FileNotFoundException($"No SAELens cfg.json in {folder}.", configPath);
        if (!File.Exists(weightsPath)) throw new FileNotFoundException($"No sae_weights.safetensors in {folder}.", weightsPath);
        using var json = JsonDocument.Parse(File.ReadAllText(configPath));
        var root = json.RootElement;
        int Need(string name) => root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number
            ? v.GetInt32()
            : throw new ModelFileException(configPath, $"needs an integer '{name}'");
        var activation = root.TryGetProperty("activation_fn_str", out var a) ? a.GetString() ?? "relu" : "relu";
        var topK = 0;
        if (activation == "topk")
            topK = root.TryGetProperty("activation_fn_kwargs", out var kw) && kw.TryGetProperty("k", out var k) ? k.GetInt32()
                : throw new ModelFileException(configPath, "activation 'topk' needs activation_fn_kwargs.k");
        else if (activation != "relu")
            throw new ModelFileException(configPath, $"activation '{activation}' is not supported (relu or topk)");
        var centre = !root.TryGetProperty("apply_b_dec_to_input", out var c) || c.ValueKind != JsonValueKind.False;
        var config = new SaeConfig(Need("d_in"), Need("d_sae"), L1: 0, TopK: topK, Source: folder, CentreInput: centre);
        return FromFile(config, SafeTensors.Open(weightsPath), weightsPath, "cfg.json");
    }

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"SAE {Config.InputWidth} → {Config.Latents} ({(Config.TopK > 0 ? $"top-{Config.TopK}" : $"ReLU, L1 {Config.L1}")})");
}
