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
    public void FisherVectorProductMatchesMonteCarloScoreOuterProductAndKlHessian()
    {
        var rng = new Prng(2);
        LinearGaussianPolicy policy = Random(ref rng);
        const int states = 4;
        float[] obs = new float[states * 3];
        for (int i = 0; i < obs.Length; i++) obs[i] = (float)rng.NextGaussian();
        int p = policy.ParameterCount;
        double[] v = new double[p], fv = new double[p];
        for (int i = 0; i < p; i++) v[i] = rng.NextGaussian();
        policy.FisherVectorProduct(obs, states, v, fv);

        // KL(π_θ ‖ π_{θ+tv}) = ½ t² vᵀFv + O(t³).
        double vfv = 0;
        for (int i = 0; i < p; i++) vfv += v[i] * fv[i];
        const double t = 1e-4;
        double[] shifted = policy.Parameters.ToArray();
        for (int i = 0; i < p; i++) shifted[i] += t * v[i];
        Assert.Equal(1.0, policy.MeanKl(shifted, obs, states) / (0.5 * t * t * vfv), 3); // third-order remainder ~ t‖v‖

        // F = E[∇log π ∇log πᵀ] by Monte Carlo over actions: (Fv)_j within 3 % of the exact product.
        double[] mc = new double[p], score = new double[p];
        float[] action = new float[2];
        const int samples = 200_000;
        for (int k = 0; k < samples; k++)
        {
            int n = k % states;
            policy.Sample(obs.AsSpan(n * 3, 3), ref rng, action);
            Array.Clear(score);
            policy.AccumulateLogProbGradient(obs.AsSpan(n * 3, 3), action, 1.0, score);
            double sv = 0;
            for (int i = 0; i < p; i++) sv += score[i] * v[i];
            for (int i = 0; i < p; i++) mc[i] += score[i] * sv / samples;
        }
        double scale = fv.Max(Math.Abs);
        for (int i = 0; i < p; i++) Assert.True(Math.Abs(mc[i] - fv[i]) < 0.03 * scale, $"component {i}: MC {mc[i]:F4}, exact {fv[i]:F4}");
    }
}
