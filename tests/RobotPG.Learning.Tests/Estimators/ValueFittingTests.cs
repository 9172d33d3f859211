using RobotPG.Learning.Estimators;
using RobotPG.Learning.Networks;
using Xunit;

namespace RobotPG.Learning.Tests.Estimators;

/// <summary>Note 001's value fitting: Monte-Carlo regression and the trust penalty λ‖φ − φᵢ‖².</summary>
public class ValueFittingTests
{
    [Fact]
    public void TrustPenaltyGradientIsTwoLambdaTimesTheDisplacement()
    {
        float[] gradient = [1f, 0f, -1f];
        ValueFitting.AccumulateTrustPenaltyGradient([1f, 2f, 3f], [0.5f, 2f, 4f], 0.25f, gradient);
        Assert.Equal([1f + 2 * 0.25f * 0.5f, 0f, -1f + 2 * 0.25f * -1f], gradient);
    }

    private static (float[] Obs, float[] Targets) Data(int n)
    {
        float[] obs = new float[n], targets = new float[n];
        for (int i = 0; i < n; i++)
        {
            obs[i] = -1f + 2f * i / (n - 1);
            targets[i] = 3f * obs[i] * obs[i] - 1f; // a smooth target the 16-unit critic can fit
        }
        return (obs, targets);
    }

    private static double MeanSquaredError(ValueNetwork value, float[] obs, float[] targets)
    {
        double sum = 0;
        for (int i = 0; i < obs.Length; i++) sum += Math.Pow(value.Predict(obs.AsSpan(i, 1)) - targets[i], 2);
        return sum / obs.Length;
    }

    [Fact]
    public void MonteCarloRegressionFitsTheReturns()
    {
        var (obs, targets) = Data(64);
        var value = new ValueNetwork(1, [16], 16, 3);
        var fitting = new ValueFitting(value, 1e-2f, 64, 16, 4);
        double before = MeanSquaredError(value, obs, targets);
        fitting.Fit(obs, targets, 64, epochs: 300, trustPenalty: 0);
        double after = MeanSquaredError(value, obs, targets);
        Assert.True(after < 0.01 * before, $"MSE {before:F3} → {after:F4}");
    }

    [Fact]
    public void TrustPenaltyKeepsTheCriticNearItsPreviousParameters()
    {
        var (obs, targets) = Data(64);
        double Displacement(float lambda)
        {
            var value = new ValueNetwork(1, [16], 16, 3);
            float[] anchor = value.Parameters.ToArray();
            new ValueFitting(value, 1e-2f, 64, 16, 4).Fit(obs, targets, 64, epochs: 100, trustPenalty: lambda);
            double d = 0;
            for (int i = 0; i < anchor.Length; i++) d += Math.Pow(value.Parameters[i] - anchor[i], 2);
            return Math.Sqrt(d);
        }
        double free = Displacement(0f), penalised = Displacement(10f);
        Assert.True(penalised < 0.5 * free, $"‖φ − φᵢ‖: {free:F3} free, {penalised:F3} with λ = 10");
        var allocationCheck = new ValueNetwork(1, [16], 16, 3);
        var fit = new ValueFitting(allocationCheck, 1e-2f, 64, 16, 4);
        fit.Fit(obs, targets, 64, 1, 1f);
        long before = GC.GetAllocatedBytesForCurrentThread();
        fit.Fit(obs, targets, 64, 2, 1f);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
