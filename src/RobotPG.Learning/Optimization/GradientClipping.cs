using RobotPG.Numerics;

namespace RobotPG.Learning.Optimization;

/// <summary>
/// Global gradient-norm clipping as PyTorch's clip_grad_norm_: if ‖g‖ &gt; max, g ← g · max/(‖g‖ + 1e-6).
/// The two-span form clips actor and critic gradients by one joint norm (CleanRL's PPO).
/// </summary>
public static class GradientClipping
{
    /// <summary>Euclidean norm ‖g‖.</summary>
    public static float GlobalNorm(ReadOnlySpan<float> gradients) => (float)Math.Sqrt(Kernels.SumOfSquares(gradients));

    /// <summary>Scales <paramref name="gradients"/> to norm ≤ <paramref name="maxNorm"/>; returns the norm before clipping.</summary>
    public static float ClipGlobalNorm(Span<float> gradients, float maxNorm) => ClipGlobalNorm(gradients, Span<float>.Empty, maxNorm);

    /// <summary>Clips two spans by their joint norm; returns the joint norm before clipping.</summary>
    public static float ClipGlobalNorm(Span<float> first, Span<float> second, float maxNorm)
    {
        if (!(maxNorm > 0f)) throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "must be > 0");
        float norm = (float)Math.Sqrt((double)Kernels.SumOfSquares(first) + Kernels.SumOfSquares(second));
        float coefficient = maxNorm / (norm + 1e-6f);
        if (coefficient < 1f)
        {
            Kernels.Scale(coefficient, first);
            Kernels.Scale(coefficient, second);
        }
        return norm;
    }
}
