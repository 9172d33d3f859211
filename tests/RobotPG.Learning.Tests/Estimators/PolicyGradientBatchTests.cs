using RobotPG.Learning.Advantages;
using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Estimators;
using RobotPG.Learning.Rollouts;
using Xunit;

namespace RobotPG.Learning.Tests.Estimators;

/// <summary>The step-major rollout re-laid trajectory by trajectory, with the bootstrap values, by hand.</summary>
public class PolicyGradientBatchTests
{
    [Fact]
    public void RelaysEnvironmentsAndBootstrapsCutTrajectories()
    {
        // 2 environments × 3 steps, step-major: index = t·2 + e.
        // env 0: r 1, 2 (terminated), 3 (cut by the rollout end, last value 10)
        // env 1: r 4 (truncated, bootstrap 20), 5, 6 (cut, last value 30)
        var rollout = new RolloutBuffer(3, 2, 1, 1);
        float[] rewards = [1, 4, 2, 5, 3, 6];
        bool[] terminated = [false, false, true, false, false, false];
        bool[] truncated = [false, true, false, false, false, false];
        float[] bootstrap = [0, 20, 0, 0, 0, 0];
        for (int i = 0; i < 6; i++)
        {
            rollout.Observation(i)[0] = 100 + i;
            rollout.Action(i)[0] = -i;
            rollout.Record(i, logProb: -i, value: 0.5f * i, rewards[i], terminated[i], truncated[i], bootstrap[i]);
        }
        rollout.LastValues[0] = 10;
        rollout.LastValues[1] = 30;

        var batch = new PolicyGradientBatch(6, 1, 1);
        GaeEstimator.Estimate(rollout, 0.5, 1.0);
        batch.Load(rollout);
        Assert.Equal([100f, 102, 104, 101, 103, 105], batch.Observations);
        Assert.Equal([1f, 2, 3, 4, 5, 6], batch.Rewards);
        Assert.Equal([false, true, true, true, false, true], batch.TrajectoryEnds);
        Assert.Equal([0f, 0, 10, 20, 0, 30], batch.Bootstrap);
        Assert.Equal(4, batch.TrajectoryCount);

        // γ = 0.5: bootstrapped reward-to-go = [1 + 0.5·2, 2, 3 + 0.5·10, 4 + 0.5·20, 5 + 0.5·(6 + 15), 6 + 15]
        float[] bootstrapped = new float[6], toGo = new float[6];
        batch.BootstrappedRewards(0.5, true, bootstrapped);
        ReturnWeighting.RewardToGo(bootstrapped, batch.TrajectoryEnds, 0.5, toGo);
        Assert.Equal([2f, 2, 8, 14, 15.5f, 21], toGo);

        // GAE with λ = 1 (run on the rollout, carried into trajectory order) is the bootstrapped return minus V.
        for (int k = 0; k < 6; k++)
        {
            Assert.Equal(toGo[k], batch.Returns[k], 5);
            Assert.Equal(toGo[k] - batch.Values[k], batch.Advantages[k], 5);
        }

        // TD targets r + γV(s′) (note 001, fitted V iteration): V(s′) is the next stored value inside a run,
        // 0 after termination, V(final) after truncation, the last value at the rollout's cut.
        // Values in trajectory order: env 0 → 0, 1, 2; env 1 → 0.5, 1.5, 2.5.
        float[] targets = new float[6];
        batch.TemporalDifferenceTargets(0.5, targets);
        Assert.Equal([1 + 0.5f * 1, 2, 3 + 0.5f * 10, 4 + 0.5f * 20, 5 + 0.5f * 2.5f, 6 + 0.5f * 30], targets);
    }
}
