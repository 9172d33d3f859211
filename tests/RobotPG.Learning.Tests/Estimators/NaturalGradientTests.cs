using RobotPG.Learning.Estimators;
using RobotPG.Learning.Networks;
using RobotPG.Numerics;
using Xunit;

namespace RobotPG.Learning.Tests.Estimators;

/// <summary>
/// Note 004's natural-gradient step on a real policy: with x = F⁻¹g solved by CG on the exact
/// Fisher-vector product, θ₁ = θ₀ + sqrt(2ε) x / sqrt(gᵀx) has ½ΔᵀFΔ = ε, so the true mean KL equals ε
/// up to third-order terms. With damping λ (needed: an MLP's F is near singular) x = (F + λI)⁻¹g and the
/// identity becomes ½Δᵀ(F + λI)Δ = ε; the true KL still matches the quadratic model ½ΔᵀFΔ to second
/// order, the relative error shrinking with ε (down to ε ≈ 1e-4; below, float32 rounding of the KL dominates).
/// Also the TRPO line search.
/// </summary>
public class NaturalGradientTests
{
    private const int Batch = 64;
    private const double Damping = 0.1; // TRPO's default: keeps Δ out of F's near-null directions, where μ(θ) is not linear enough

    private struct Fisher(GaussianPolicy policy, float[] observations) : ILinearOperator<float>
    {
        public readonly void Apply(ReadOnlySpan<float> x, Span<float> result) => policy.FisherVectorProduct(observations, Batch, x, result);
    }

    private static (GaussianPolicy Policy, float[] Observations, float[] Gradient) Setup()
    {
        var policy = new GaussianPolicy(3, 2, [8], Batch, 7);
        var rng = new Prng(8);
        // A non-trivial head so the step moves means and log σ alike.
        for (int i = 0; i < policy.ParameterCount; i++) policy.Parameters[i] += (float)(0.1 * rng.NextGaussian());
        float[] obs = new float[Batch * 3], actions = new float[Batch * 2], logp = new float[Batch], weights = new float[Batch];
        for (int i = 0; i < obs.Length; i++) obs[i] = (float)rng.NextGaussian();
        for (int i = 0; i < Batch; i++)
        {
            policy.Sample(obs.AsSpan(i * 3, 3), actions.AsSpan(i * 2, 2), ref rng);
            weights[i] = (float)rng.NextGaussian() / Batch;
        }
        policy.ZeroGradients();
        policy.LogProbBatch(obs, actions, Batch, logp);
        policy.AccumulateLogProbGradient(weights, Batch);
        return (policy, obs, policy.Gradients.ToArray());
    }

    [Fact]
    public void StepHasKlEqualToEpsilonToSecondOrder()
    {
        var (policy, obs, g) = Setup();
        int p = policy.ParameterCount;
        var fisher = new Fisher(policy, obs);
        float[] x = new float[p], step = new float[p], fx = new float[p];
        ConjugateGradientResult cg = new ConjugateGradient<float>(p).Solve(ref fisher, g, x, maxIterations: 4 * p, damping: Damping, relativeTolerance: 1e-6);
        Assert.True(cg.RelativeResidual < 1e-4, $"CG residual {cg.RelativeResidual:E2}");

        var old = new GaussianPolicy(3, 2, [8], Batch, 7);
        old.CopyFrom(policy);
        float[] theta0 = policy.Parameters.ToArray();
        double previousError = double.PositiveInfinity;
        foreach (double epsilon in new[] { 1e-2, 1e-3, 1e-4 })
        {
            NaturalGradientStep.Compute(g, x, epsilon, step);
            // The damped quadratic model: ½ Δᵀ(F + λI)Δ = ε exactly (CG to 1e-6, float rounding).
            fisher.Apply(step, fx);
            double quadratic = 0, damped = 0;
            for (int i = 0; i < p; i++)
            {
                quadratic += 0.5 * step[i] * fx[i];
                damped += 0.5 * step[i] * (fx[i] + Damping * step[i]);
            }
            Assert.Equal(1.0, damped / epsilon, 3);

            for (int i = 0; i < p; i++) policy.Parameters[i] = theta0[i] + step[i];
            double kl = policy.KlDivergence(old, obs, Batch);
            double error = Math.Abs(kl / quadratic - 1);
            Assert.True(error < previousError, $"ε {epsilon}: |KL/½ΔᵀFΔ − 1| = {error:F4} did not shrink (was {previousError:F4})");
            previousError = error;
            theta0.CopyTo(policy.Parameters);
        }
        Assert.True(previousError < 0.01, $"at ε = 1e-4 KL is off the quadratic model by {previousError:P1}");
    }

    private sealed class Objective(GaussianPolicy policy, GaussianPolicy old, float[] obs, float[] direction) : ITrustRegionObjective
    {
        public readonly List<(double Surrogate, double Kl)> Calls = [];

        // A surrogate that keeps improving along the direction, so only the KL bound limits the step.
        public void Evaluate(ReadOnlySpan<float> parameters, out double surrogate, out double meanKl)
        {
            parameters.CopyTo(policy.Parameters);
            meanKl = policy.KlDivergence(old, obs, Batch);
            surrogate = 0;
            for (int i = 0; i < direction.Length; i++) surrogate += direction[i] * (parameters[i] - old.Parameters[i]);
            Calls.Add((surrogate, meanKl));
        }
    }

    [Fact]
    public void LineSearchAcceptsOnlyInsideTheTrustRegion()
    {
        var (policy, obs, g) = Setup();
        var old = new GaussianPolicy(3, 2, [8], Batch, 7);
        old.CopyFrom(policy);
        int p = policy.ParameterCount;
        float[] start = policy.Parameters.ToArray(), result = new float[p], step = new float[p];
        // A full step 30× too long in KL: it must shrink by 0.8ᵏ until KL ≤ δ.
        double norm = Math.Sqrt(g.Sum(v => (double)v * v));
        for (int i = 0; i < p; i++) step[i] = (float)(3.0 * g[i] / norm);
        var objective = new Objective(policy, old, obs, g);
        var search = new BacktrackingLineSearch(p, maxKl: 0.01, backtrackRatio: 0.8, maxBacktracks: 30);
        LineSearchResult r = search.Search(ref objective, start, step, 0.0, result);
        Assert.True(r.Accepted);
        Assert.True(r.MeanKl <= 0.01);
        Assert.Equal(Math.Pow(0.8, r.Backtracks), r.StepFraction, 9);
        for (int k = 0; k < r.Backtracks; k++) Assert.True(objective.Calls[k].Kl > 0.01, "a rejected candidate was inside the region");
        Assert.Equal(r.Backtracks + 1, objective.Calls.Count);

        // A surrogate that never improves: nothing accepted, θ unchanged.
        var none = new BacktrackingLineSearch(p, maxKl: 0.01, backtrackRatio: 0.8, maxBacktracks: 10);
        LineSearchResult rejected = none.Search(ref objective, start, step, double.PositiveInfinity, result);
        Assert.False(rejected.Accepted);
        Assert.Equal(start, result);
    }

    [Fact]
    public void StepScaleIsSqrtTwoEpsilonOverGTransposeXAndZeroWithoutAnAscentDirection()
    {
        // g = (1, 2), x = (3, −0.5): gᵀx = 2, scale = sqrt(2·0.01/2) = 0.1, step = 0.1 x.
        float[] step = new float[2];
        Assert.Equal(0.1, NaturalGradientStep.Compute([1f, 2f], [3f, -0.5f], 0.01, step), 15);
        Assert.Equal([0.3f, -0.05f], step);
        // gᵀx = 0 (orthogonal) and gᵀx < 0 (descent): no step along x would increase the objective.
        step = [9f, 9f];
        Assert.Equal(0.0, NaturalGradientStep.Compute([1f, 2f], [2f, -1f], 0.01, step));
        Assert.Equal([0f, 0f], step);
        Assert.Equal(0.0, NaturalGradientStep.StepScale([1f, 2f], [-3f, -1f], 0.01));
        Assert.Equal(0.0, NaturalGradientStep.StepScale([1f, float.NaN], [1f, 1f], 0.01));
    }

    [Fact]
    public void StepScaleRefusesAZeroRadiusAndMismatchedVectors()
    {
        Rejects.With<ArgumentOutOfRangeException>(() => NaturalGradientStep.StepScale([1f], [1f], 0), "the KL radius ε must be positive");
        Rejects.With<ArgumentException>(() => NaturalGradientStep.StepScale([1f, 2f], [1f], 0.01), "gradient (2) and F⁻¹g (1) differ in length");
    }
}
