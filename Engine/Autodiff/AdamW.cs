using Verification.Engine.Tensors;

namespace Verification.Engine.Autodiff;

/// <summary>
/// AdamW as PyTorch implements it (torch.optim.AdamW): decoupled weight decay p ← p·(1 − lr·λ), then the
/// bias-corrected Adam step. Parameters for which <c>decay</c> is false (biases, norms) are not decayed.
/// </summary>
public sealed class AdamW
{
    readonly Tensor[] parameters;
    readonly float[][] firstMoment;
    readonly float[][] secondMoment;
    readonly bool[] decays;

    public AdamW(IEnumerable<Tensor> parameters, float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f,
        float epsilon = 1e-8f, float weightDecay = 0.01f, Func<Tensor, bool>? decay = null)
    {
        this.parameters = parameters.ToArray();
        foreach (var p in this.parameters) p.RequiresGrad = true;
        firstMoment = this.parameters.Select(p => new float[p.Size]).ToArray();
        secondMoment = this.parameters.Select(p => new float[p.Size]).ToArray();
        decay ??= p => p.Rank >= 2;
        decays = this.parameters.Select(decay).ToArray();
        LearningRate = learningRate;
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
        WeightDecay = weightDecay;
    }

    public float LearningRate { get; set; }
    public float Beta1 { get; }
    public float Beta2 { get; }
    public float Epsilon { get; }
    public float WeightDecay { get; }
    public int StepCount { get; private set; }
    public IReadOnlyList<Tensor> Parameters => parameters;

    /// <summary>
    /// Scales all gradients so their global L2 norm is at most <paramref name="maxNorm"/>
    /// (torch.nn.utils.clip_grad_norm_). Returns the norm before clipping.
    /// </summary>
    public float ClipGradNorm(float maxNorm)
    {
        double squares = 0;
        foreach (var p in parameters)
            if (p.Grad is { } g)
                foreach (var v in g.Data) squares += (double)v * v;
        var norm = (float)Math.Sqrt(squares);
        var scale = maxNorm / (norm + 1e-6f);
        if (scale < 1f)
            foreach (var p in parameters)
                if (p.Grad is { } g)
                    System.Numerics.Tensors.TensorPrimitives.Multiply(g.Data, scale, g.Data);
        return norm;
    }

    public void Step()
    {
        StepCount++;
        var correction1 = 1 - Math.Pow(Beta1, StepCount);
        var correction2 = 1 - Math.Pow(Beta2, StepCount);
        var stepSize = (float)(LearningRate / correction1);
        var rootCorrection2 = (float)Math.Sqrt(correction2);
        Parallel.For(0, parameters.Length, i =>
        {
            var p = parameters[i];
            if (p.Grad is not { } grad) return;
            var data = p.Data;
            var g = grad.Data;
            var m = firstMoment[i];
            var v = secondMoment[i];
            var decay = decays[i] ? 1f - LearningRate * WeightDecay : 1f;
            for (var j = 0; j < data.Length; j++)
            {
                data[j] *= decay;
                m[j] = Beta1 * m[j] + (1 - Beta1) * g[j];
                v[j] = Beta2 * v[j] + (1 - Beta2) * g[j] * g[j];
                data[j] -= stepSize * m[j] / (MathF.Sqrt(v[j]) / rootCorrection2 + Epsilon);
            }
        });
    }

    public void ZeroGrad()
    {
        foreach (var p in parameters) p.Grad = null;
    }
}
