using System.Numerics;

namespace RobotPG.Learning.Networks;

/// <summary>
/// One dimension of the diagonal Gaussian N(μ, σ²) both policies use (note 001 "Continuous Action"),
/// in terms of d = a − μ and log σ: the log-density and the score. Generic so the float MLP policy and
/// the double linear policy run the same formula, each in its own precision.
/// </summary>
public static class DiagonalGaussian
{
    /// <summary>½·log(2π).</summary>
    public const double HalfLogTwoPi = 0.9189385332046727;

    /// <summary>log N(a; μ, σ²) = −½(d/σ)² − log σ − ½ log 2π.</summary>
    public static T LogDensity<T>(T difference, T logStd) where T : IFloatingPointIeee754<T>
    {
        T z = difference * T.Exp(-logStd);
        return -(T.CreateTruncating(0.5) * z * z + logStd + T.CreateTruncating(HalfLogTwoPi));
    }

    /// <summary>∂log π/∂μ = d/σ².</summary>
    public static T MeanScore<T>(T difference, T logStd) where T : IFloatingPointIeee754<T> =>
        difference * T.Exp(T.CreateTruncating(-2) * logStd);

    /// <summary>∂log π/∂log σ = d²/σ² − 1.</summary>
    public static T LogStdScore<T>(T difference, T logStd) where T : IFloatingPointIeee754<T> =>
        difference * difference * T.Exp(T.CreateTruncating(-2) * logStd) - T.One;

    /// <summary>KL(old ‖ new) of two diagonal Gaussians at one observation, in double: the guards' exact check.</summary>
    public static double Kl(ReadOnlySpan<float> oldMean, ReadOnlySpan<float> oldLogStd, ReadOnlySpan<float> newMean, ReadOnlySpan<float> newLogStd)
    {
        double kl = 0;
        for (int j = 0; j < oldMean.Length; j++)
        {
            double oldVar = Math.Exp(2.0 * oldLogStd[j]), newVar = Math.Exp(2.0 * newLogStd[j]);
            double dm = oldMean[j] - newMean[j];
            kl += newLogStd[j] - oldLogStd[j] + (oldVar + dm * dm) / (2 * newVar) - 0.5;
        }
        return kl;
    }
}
