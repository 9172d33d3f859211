using RobotPG.Learning.Estimators;
using RobotPG.Learning.Networks;
using RobotPG.Numerics;
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

    /// <summary>
    /// The fit of a linear critic V(s) = w s + b, step by step in double: per epoch the sample order is the fitting's
    /// own shuffle stream (the same seed), per minibatch g = (1/m) Σ (V(sᵢ) − yᵢ)∇V + 2λ(φ − φ₀) with φ₀ the critic
    /// before the fit, then PyTorch's Adam (β₁ 0.9, β₂ 0.999, ε 1e-5).
    /// </summary>
    private static (double W, double B, double LastLoss) ReferenceFit(double w, double b, float[] obs, float[] targets, int count,
        int minibatch, int epochs, double lambda, double learningRate, ulong seed)
    {
        double w0 = w, b0 = b, mw = 0, mb = 0, vw = 0, vb = 0, lastLoss = double.NaN;
        int step = 0;
        int[] order = new int[count];
        for (int i = 0; i < count; i++) order[i] = i;
        var shuffle = new Prng(seed);
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            shuffle.Shuffle(order);
            for (int start = 0; start + minibatch <= count; start += minibatch)
            {
                double gw = 0, gb = 0, loss = 0;
                for (int k = start; k < start + minibatch; k++)
                {
                    double error = w * obs[order[k]] + b - targets[order[k]];
                    gw += error * obs[order[k]] / minibatch;
                    gb += error / minibatch;
                    loss += 0.5 * error * error / minibatch;
                }
                gw += 2 * lambda * (w - w0);
                gb += 2 * lambda * (b - b0);
                lastLoss = loss;
                step++;
                mw = 0.9 * mw + 0.1 * gw;
                mb = 0.9 * mb + 0.1 * gb;
                vw = 0.999 * vw + 0.001 * gw * gw;
                vb = 0.999 * vb + 0.001 * gb * gb;
                double c1 = 1 - Math.Pow(0.9, step), c2 = Math.Sqrt(1 - Math.Pow(0.999, step));
                w -= learningRate / c1 * mw / (Math.Sqrt(vw) / c2 + 1e-5);
                b -= learningRate / c1 * mb / (Math.Sqrt(vb) / c2 + 1e-5);
            }
        }
        return (w, b, lastLoss);
    }

    [Fact]
    public void LinearCriticFollowsShuffledMinibatchAdamWithTheTrustPenalty()
    {
        // Five samples in a buffer of six, four fitted (the fifth and the longer targets span are ignored),
        // minibatches of two, three epochs, λ = 0.5 towards the critic's parameters before the fit.
        float[] obs = [-1f, 0.5f, 2f, -0.25f, 1f], targets = [1f, 2f, -1f, 0.5f, 3f, 99f];
        var value = new ValueNetwork(1, [], 2, 1);
        Assert.Equal(2, value.ParameterCount); // [w, b]
        value.Parameters[0] = 0.3f;
        value.Parameters[1] = -0.2f;
        var fitting = new ValueFitting(value, 0.1f, capacity: 6, minibatchSize: 2, seed: 5);
        float loss = fitting.Fit(obs, targets, count: 4, epochs: 3, trustPenalty: 0.5f);
        var (w, b, lastLoss) = ReferenceFit(0.3, -0.2, obs, targets, 4, 2, 3, 0.5, 0.1, 5);
        Assert.Equal(w, value.Parameters[0], 1e-5);
        Assert.Equal(b, value.Parameters[1], 1e-5);
        Assert.Equal(lastLoss, loss, 1e-5);
        Assert.Equal(6, fitting.Optimizer.StepCount);
    }

    [Fact]
    public void RefusesBadSizesAndMoreSamplesThanFit()
    {
        Assert.Throws<ArgumentNullException>(() => new ValueFitting(null!, 0.1f, 4, 2, 1));
        var value = new ValueNetwork(1, [], 16, 1);
        Assert.Equal("capacity", Assert.Throws<ArgumentOutOfRangeException>(() => new ValueFitting(value, 0.1f, 0, 1, 1)).ParamName);
        Rejects.With<ArgumentOutOfRangeException>(() => new ValueFitting(value, 0.1f, 4, 0, 1), "must be in 1..min(4, 16)");
        Rejects.With<ArgumentOutOfRangeException>(() => new ValueFitting(value, 0.1f, 4, 5, 1), "must be in 1..min(4, 16)");
        Rejects.With<ArgumentOutOfRangeException>(() => new ValueFitting(value, 0.1f, 32, 17, 1), "must be in 1..min(32, 16)");
        _ = new ValueFitting(value, 0.1f, 1, 1, 1); // minibatches of one sample are allowed
        var fitting = new ValueFitting(value, 0.1f, 4, 2, 1);
        Rejects.With<ArgumentException>(() => fitting.Fit(new float[5], new float[5], 5, 1, 0), "at most 4 samples, with one target each");
        Rejects.With<ArgumentException>(() => fitting.Fit(new float[4], new float[3], 4, 1, 0), "at most 4 samples, with one target each");
    }
}
