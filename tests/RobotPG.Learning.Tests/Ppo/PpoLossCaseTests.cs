using MathNet.Numerics.Statistics;
using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Rollouts;
using Xunit;

namespace RobotPG.Learning.Tests.Ppo;

/// <summary>Cases of the PPO loss pieces the reference tests do not reach, each against a closed form.</summary>
public class PpoLossCaseTests
{
    [Fact]
    public void Value_clip_keeps_a_change_inside_epsilon_unclipped()
    {
        // v − v_old = 0.1 is inside ±0.2, so the clipped value is v itself: loss ½(0.1 − (−1))² = 0.605 and
        // ∂/∂v = 1.1. Clamping to [+ε, ε] instead would give (0.2 + 1)² = 1.44 as the larger square.
        var g = new float[1];
        float loss = PpoLoss.ValueLoss([0.1f], [0f], [-1f], 0.2f, true, 1f, g);
        Assert.Equal(0.605, loss, 1e-6);
        Assert.Equal(1.1, g[0], 1e-6);
    }

    [Fact]
    public void Explained_variance_of_residuals_with_a_nonzero_mean()
    {
        float[] values = [1f, 2f, 4f, -1f], returns = [2f, 3.5f, 7f, 0f];
        double[] y = [.. returns.Select(v => (double)v)];
        double[] residual = [.. returns.Select((r, i) => (double)r - values[i])];
        double expected = 1 - residual.PopulationVariance() / y.PopulationVariance();
        Assert.Equal(expected, PpoLoss.ExplainedVariance(values, returns), 1e-6);
    }

    [Fact]
    public void Ppo_reports_the_learning_rate_it_used_annealed_or_not()
    {
        var h = new PpoHyperparameters
        {
            EnvironmentCount = 2, StepsPerEnvironment = 4, Minibatches = 2, Epochs = 1, LearningRate = 0.01f,
            PolicyHiddenSizes = [3], ValueHiddenSizes = [3], NormalizeObservations = false, ScaleRewards = false,
        };
        var rollout = new RolloutBuffer(4, 2, 3, 1);
        // lr·(1 − (i − 1)/I): iteration 2 of 4 runs at 0.75·lr; without annealing every iteration runs at lr.
        Assert.Equal(0.0075f, new Algorithms.Ppo(h, new AlgorithmContext(3, 1, "x", 1)).Update(rollout, 2, 4).LearningRate, 1e-7f);
        Assert.Equal(0.01f, new Algorithms.Ppo(h with { AnnealLearningRate = false }, new AlgorithmContext(3, 1, "x", 1)).Update(rollout, 2, 4).LearningRate);
    }
}
