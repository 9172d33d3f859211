using RobotPG.Learning.Estimators;
using RobotPG.Numerics;
using Xunit;

namespace RobotPG.Learning.Tests.Estimators;

public class LinearGaussianPolicyTests
{
    private static LinearGaussianPolicy Random(ref Prng rng)
    {
        var policy = new LinearGaussianPolicy(3, 2);
        for (int i = 0; i < policy.ParameterCount; i++) policy.Parameters[i] = 0.5 * rng.NextGaussian();
        return policy;
    }

    [Fact]
    public void LogProbGradientMatchesCentralDifferences()
    {
        var rng = new Prng(1);
        LinearGaussianPolicy policy = Random(ref rng);
        float[] s = [0.3f, -1.2f, 0.7f], a = [0.4f, -0.9f];
        double[] gradient = new double[policy.ParameterCount];
        policy.AccumulateLogProbGradient(s, a, 1.0, gradient);
        double[] theta = policy.Parameters.ToArray();
        const double h = 1e-6;
        for (int j = 0; j < theta.Length; j++)
        {
            double[] plus = (double[])theta.Clone(), minus = (double[])theta.Clone();
            plus[j] += h;
            minus[j] -= h;
            double numeric = (policy.LogProb(plus, s, a) - policy.LogProb(minus, s, a)) / (2 * h);
            Assert.Equal(numeric, gradient[j], 6);
        }
    }

    [Fact]
    public void LogProbIsTheGaussianDensity()
    {
        var policy = new LinearGaussianPolicy(1, 1, initialLogStd: Math.Log(2));
        policy.Parameters[0] = 3; // w
        policy.Parameters[1] = 1; // b → μ = 3·2 + 1 = 7
        // N(8; 7, 2²): −½(1/2)² − log 2 − ½ log 2π
        Assert.Equal(-0.125 - Math.Log(2) - 0.5 * Math.Log(2 * Math.PI), policy.LogProb([2f], [8f]), 12);
    }

    [Fact]
    public void LayoutIsWeightsThenBiasThenLogStdAndEmptySizesAreRefused()
    {
        var policy = new LinearGaussianPolicy(3, 2, initialLogStd: -0.5);
        Assert.Equal(2 * (3 + 2), policy.ParameterCount);
        Assert.Equal([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -0.5, -0.5], policy.Parameters.ToArray());
        Assert.Equal(8, policy.MeanParameters.Length);
        Assert.Throws<ArgumentOutOfRangeException>(() => new LinearGaussianPolicy(0, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LinearGaussianPolicy(3, 0));
    }

    [Fact]
    public void SampleIsTheMeanPlusSigmaTimesTheNextGaussians()
    {
        // W = [[1, −2], [0.5, 0]], b = (0.25, −1), log σ = (log 2, −log 4); s = (1, 0.5) → μ = (0.25, −0.5).
        var policy = new LinearGaussianPolicy(2, 2);
        double[] theta = [1, -2, 0.5, 0, 0.25, -1, Math.Log(2), -Math.Log(4)];
        theta.CopyTo(policy.Parameters);
        var rng = new Prng(17);
        var reference = rng; // a copy of the stream: the same two Gaussians
        float[] action = new float[2];
        policy.Sample([1f, 0.5f], ref rng, action);
        Assert.Equal(0.25 + 2 * reference.NextGaussian(), action[0], 1e-6);
        Assert.Equal(-0.5 + 0.25 * reference.NextGaussian(), action[1], 1e-6);
        Assert.Equal(reference.NextUInt64(), rng.NextUInt64()); // exactly one draw per action dimension
    }
}
