using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Environments;
using RobotPG.Learning.Estimators;
using RobotPG.Sim.Environments;
using Xunit;
using Xunit.Abstractions;

namespace RobotPG.Sim.Tests.Estimators;

/// <summary>
/// The point-mass LQR task and note 002's black-box gradients on it. The reference optimum is the
/// finite-horizon LQR solution by the Riccati recursion (in double, independent of the code under
/// test): no policy can beat −Σ s₀ᵀP₀s₀ on the same start states.
/// </summary>
public class PointMassTests(ITestOutputHelper output)
{
    private const int Episodes = 8;
    private const ulong Seed = 100;

    [Fact]
    public void OneStepByHand()
    {
        var env = new PointMass();
        float[] obs = new float[2];
        env.ResetTo([0.5, -1.0], obs);
        StepResult r = env.Step([2f], obs);
        // cost = 0.25 + 0.1·1 + 0.01·4 = 0.39; x' = 0.5 + 0.1·(−1) = 0.4; v' = −1 + 0.1·2 = −0.8
        Assert.Equal(-0.39f, r.Reward, 6);
        Assert.Equal(0.4f, obs[0], 6);
        Assert.Equal(-0.8f, obs[1], 6);
        Assert.False(r.Done);
        for (int t = 1; t < PointMass.MaxEpisodeSteps - 1; t++) Assert.False(env.Step([0f], obs).Done);
        StepResult last = env.Step([0f], obs);
        Assert.True(last.Truncated);
        Assert.False(last.Terminated);
    }

    /// <summary>Mean optimal return over the utility's start states (seeds Seed..Seed+Episodes−1).</summary>
    private static double OptimalReturn()
    {
        double dt = PointMass.Dt, q1 = PointMass.PositionCost, q2 = PointMass.VelocityCost, r = PointMass.ForceCost;
        // P as [[p11, p12], [p12, p22]]; A = [[1, dt], [0, 1]], B = [0, dt].
        double p11 = 0, p12 = 0, p22 = 0;
        for (int t = PointMass.MaxEpisodeSteps - 1; t >= 0; t--)
        {
            // AᵀPA
            double a11 = p11, a12 = p11 * dt + p12, a22 = p11 * dt * dt + 2 * p12 * dt + p22;
            // BᵀPB = dt² p22; BᵀPA = dt·[p12, p12·dt + p22]
            double bpb = dt * dt * p22, bpa1 = dt * p12, bpa2 = dt * (p12 * dt + p22);
            double inv = 1 / (r + bpb);
            p11 = q1 + a11 - bpa1 * bpa1 * inv;
            p12 = a12 - bpa1 * bpa2 * inv;
            p22 = q2 + a22 - bpa2 * bpa2 * inv;
        }
        var env = new PointMass();
        float[] obs = new float[2];
        double total = 0;
        for (int k = 0; k < Episodes; k++)
        {
            env.Reset(obs, Seed + (ulong)k);
            double x = obs[0], v = obs[1];
            total -= p11 * x * x + 2 * p12 * x * v + p22 * v * v;
        }
        return total / Episodes;
    }

    [Theory]
    [InlineData(PolicySearchGradient.FiniteDifference)]
    [InlineData(PolicySearchGradient.Regression)]
    public void BlackBoxGradientAscentSolvesThePointMass(PolicySearchGradient gradient)
    {
        double optimum = OptimalReturn();
        var policy = new LinearGaussianPolicy(2, 1);
        var search = new FiniteDifferencePolicySearch(policy, new PointMass(),
            new PolicySearchSettings(gradient, StepSize: 0.5, Delta: 1e-3, Perturbations: 6, PerturbationScale: 0.01, Episodes, Seed, MaxStepNorm: 1.0));
        double start = search.Evaluate(), u = start;
        int updates = 0;
        // "Solved": within 1 % of the LQR optimum (the best stationary gain is within 0.05 % of the
        // time-varying optimum on this task; checked by a grid search).
        double threshold = optimum * 1.01;
        while (u < threshold && updates < 500)
        {
            u = search.Update();
            updates++;
        }
        output.WriteLine($"{gradient}: U {start:F3} → {u:F3} in {updates} updates ({search.Utility.EnvironmentSteps} env steps); optimum {optimum:F3}; θ = [{string.Join(", ", policy.MeanParameters.ToArray().Select(p => p.ToString("F3")))}]");
        Assert.True(u >= threshold, $"U = {u:F3} after {updates} updates, optimum {optimum:F3}");
        Assert.True(u <= optimum + 1e-9, "a policy beat the LQR optimum: the reference or the task is wrong");

        long before = GC.GetAllocatedBytesForCurrentThread();
        search.Update();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
