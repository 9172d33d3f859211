using MathNet.Numerics.Integration;
using RobotPG.Learning.Networks;
using Xunit;

namespace RobotPG.Learning.Tests.Networks;

public class DiagonalGaussianKlTests
{
    // KL(old ‖ new) = ∫ p_old log(p_old / p_new), by numerical quadrature per dimension (independent of the closed form).
    private static double QuadratureKl(double m0, double s0, double m1, double s1)
    {
        double LogPdf(double x, double m, double s) => -0.5 * Math.Log(2 * Math.PI) - Math.Log(s) - 0.5 * ((x - m) / s) * ((x - m) / s);
        return NewtonCotesTrapeziumRule.IntegrateAdaptive(
            x => Math.Exp(LogPdf(x, m0, s0)) * (LogPdf(x, m0, s0) - LogPdf(x, m1, s1)), m0 - 12 * s0, m0 + 12 * s0, 1e-10);
    }

    [Fact]
    public void Kl_is_old_against_new_summed_over_dimensions()
    {
        float[] oldMean = [0.3f, -1.0f], oldLogStd = [-0.5f, 0.2f], newMean = [-0.4f, -0.7f], newLogStd = [0.1f, -0.3f];
        double expected = 0;
        for (int j = 0; j < 2; j++)
            expected += QuadratureKl(oldMean[j], Math.Exp(oldLogStd[j]), newMean[j], Math.Exp(newLogStd[j]));

        Assert.Equal(expected, DiagonalGaussian.Kl(oldMean, oldLogStd, newMean, newLogStd), 1e-6);
        // The order matters (KL is not symmetric here): swapped arguments give a different value.
        Assert.True(Math.Abs(expected - DiagonalGaussian.Kl(newMean, newLogStd, oldMean, oldLogStd)) > 0.05);
        Assert.Equal(0.0, DiagonalGaussian.Kl(oldMean, oldLogStd, oldMean, oldLogStd), 12);
    }
}
