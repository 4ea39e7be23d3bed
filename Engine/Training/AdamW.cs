using TorchSharp;
using TorchSharp.Modules;
using Verification.Engine.Torch;
using static TorchSharp.torch;

namespace Verification.Engine.Training;

/// <summary>
/// AdamW (Loshchilov and Hutter), step for step as PyTorch's single-tensor <c>torch.optim.AdamW</c> computes it:
/// p ← p·(1 − lr·λ); m ← β₁m + (1 − β₁)g; v ← β₂v + (1 − β₂)g²; p ← p − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε).
/// Ours rather than TorchSharp's because that one hands libtorch a dozen Scalars per parameter per step and leaves them
/// to the garbage collector (see <see cref="Scalars"/>); here every number is disposed after the call that reads it, and
/// the moment tensors belong to this object. Checked against PyTorch 1.13's AdamW (Fixtures/Golden/make_adamw.py).
/// </summary>
public sealed class AdamW : IDisposable
{
    readonly IReadOnlyList<Parameter> parameters;
    readonly Tensor[] firstMoments;   // m, one per parameter, its shape
    readonly Tensor[] secondMoments;  // v, one per parameter, its shape
    readonly double beta1, beta2, epsilon, weightDecay;
    int step;

    public AdamW(IReadOnlyList<Parameter> parameters, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8, double weightDecay = 0.01)
    {
        this.parameters = parameters;
        (this.beta1, this.beta2, this.epsilon, this.weightDecay) = (beta1, beta2, epsilon, weightDecay);
        using var noGrad = torch.no_grad();
        firstMoments = [.. parameters.Select(p => torch.zeros_like(p).DetachFromDisposeScope())];
        secondMoments = [.. parameters.Select(p => torch.zeros_like(p).DetachFromDisposeScope())];
    }

    /// <summary>Sets every parameter's gradient to zero, as TorchSharp's optimizers do.</summary>
    public void ZeroGradients()
    {
        foreach (var p in parameters)
        {
            using var gradient = p.grad;
            gradient?.zero_();
        }
    }

    /// <summary>One update of every parameter that has a gradient, at learning rate <paramref name="learningRate"/>.</summary>
    public void Step(double learningRate)
    {
        step++;
        var biasCorrection1 = 1 - Math.Pow(beta1, step);
        var biasCorrection2 = 1 - Math.Pow(beta2, step);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        using var decay = (1 - learningRate * weightDecay).ToScalar();
        using var b1 = beta1.ToScalar();
        using var oneMinusB1 = (1 - beta1).ToScalar();
        using var b2 = beta2.ToScalar();
        using var oneMinusB2 = (1 - beta2).ToScalar();
        using var rootCorrection2 = Math.Sqrt(biasCorrection2).ToScalar();
        using var eps = epsilon.ToScalar();
        using var stepSize = (-learningRate / biasCorrection1).ToScalar();
        for (var i = 0; i < parameters.Count; i++)
        {
            var p = parameters[i];
            var g = p.grad;
            if (g is null) continue;
            p.mul_(decay);
            firstMoments[i].mul_(b1).add_(g, oneMinusB1);
            secondMoments[i].mul_(b2).addcmul_(g, g, oneMinusB2);
            var denominator = secondMoments[i].sqrt().div_(rootCorrection2).add_(eps, Scalars.One);
            p.addcdiv_(firstMoments[i], denominator, stepSize);
        }
    }

    public void Dispose()
    {
        foreach (var t in firstMoments.Concat(secondMoments)) t.Dispose();
    }
}
