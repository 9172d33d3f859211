using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Rollouts;
using Xunit;
using static RobotPG.Learning.Tests.Networks.ReferenceNetworks;

namespace RobotPG.Learning.Tests.Ppo;

/// <summary>
/// Which batch lands where in the assembled rollout, with K = 3 (K = 2 cannot tell the newest-first order, or
/// head + fill from head − fill, from the right one: both agree modulo 2), two observation and two action
/// components (strides), and the episode ends; and what is refused, with its message.
/// </summary>
public class BatchReplayBookkeepingTests
{
    private const int K = 3, Steps = 2, Obs = 2, Act = 2;

    private static float[] ObservationOf(int batch, int t) => [0.1f * batch + 0.05f * t, -0.2f + 0.03f * batch - 0.07f * t];
    private static float[] ActionOf(int batch, int t) => [batch + 0.5f * t, -batch - 0.25f * t];
    private static float[] FinalOf(int batch) => [0.4f - 0.1f * batch, 0.3f];
    private static float[] NextOf(int batch) => [-0.3f + 0.05f * batch, 0.6f];

    /// <summary>Step 1 of an even batch terminates, of an odd batch is cut by a time limit; odd batches go on after their last step.</summary>
    private static void Collect(BatchReplay replay, int batch)
    {
        for (int t = 0; t < Steps; t++)
            replay.Record(t, ObservationOf(batch, t), ActionOf(batch, t), -1f - batch - 0.1f * t, batch + 0.01f * t,
                terminated: t == 1 && batch % 2 == 0, truncated: t == 1 && batch % 2 == 1, FinalOf(batch));
        replay.Commit(batch % 2 == 1 ? NextOf(batch) : default);
    }

    [Fact]
    public void Fills_to_K_then_keeps_the_newest_K_oldest_first_with_every_field_at_its_index()
    {
        var agent = new ActorCritic(Obs, Act, [3], [4], maxBatch: 8, seed: 11, normalizeObservations: false, observationClip: 10f);
        double[] phi = ToDouble(agent.Value.Parameters);
        double V(float[] s) => MlpForward(phi, [Obs, 4, 1], ToDouble(s))[0];
        var replay = new BatchReplay(K, Steps, Obs, Act);
        Assert.Equal(K, replay.Batches);
        Assert.Equal(Steps, replay.BatchSteps);
        for (int committed = 1; committed <= 7; committed++)
        {
            Collect(replay, committed - 1);
            int kept = Math.Min(committed, K);
            Assert.Equal(kept, replay.Count);
            RolloutBuffer rollout = replay.Assemble(agent);
            Assert.Equal(kept, rollout.EnvironmentCount);
            Assert.Equal(Steps, rollout.StepsPerEnvironment);
            for (int e = 0; e < kept; e++)
            {
                int batch = committed - kept + e; // oldest first
                for (int t = 0; t < Steps; t++)
                {
                    int i = t * kept + e;
                    Assert.Equal(ObservationOf(batch, t), rollout.Observation(i).ToArray());
                    Assert.Equal(ActionOf(batch, t), rollout.Action(i).ToArray());
                    Assert.Equal(-1f - batch - 0.1f * t, rollout.LogProbs[i]);
                    Assert.Equal(batch + 0.01f * t, rollout.Rewards[i]);
                    Assert.Equal(t == 1 && batch % 2 == 0, rollout.Terminated[i]);
                    Assert.Equal(t == 1 && batch % 2 == 1, rollout.Truncated[i]);
                    Assert.Equal(V(ObservationOf(batch, t)), rollout.Values[i], tolerance: 1e-5);
                    Assert.Equal(t == 1 && batch % 2 == 1 ? V(FinalOf(batch)) : 0, rollout.BootstrapValues[i], tolerance: 1e-5);
                }
                Assert.Equal(batch % 2 == 1 ? V(NextOf(batch)) : 0, rollout.LastValues[e], tolerance: 1e-5);
            }
        }

        replay.Clear();
        Assert.Equal(0, replay.Count);
        Assert.Equal("no batch is committed", Assert.Throws<InvalidOperationException>(() => replay.Assemble(agent)).Message);
        Collect(replay, 9);
        RolloutBuffer one = replay.Assemble(agent);
        Assert.Equal(1, one.EnvironmentCount);
        Assert.Equal(ObservationOf(9, 0), one.Observation(0).ToArray());
        Assert.Equal(V(NextOf(9)), one.LastValues[0], tolerance: 1e-5);
    }

    [Fact]
    public void Refuses_empty_shapes_a_step_outside_the_batch_and_an_agent_of_another_shape()
    {
        Assert.Equal("batches", Assert.Throws<ArgumentOutOfRangeException>(() => new BatchReplay(0, Steps, Obs, Act)).ParamName);
        Assert.Equal("batchSteps", Assert.Throws<ArgumentOutOfRangeException>(() => new BatchReplay(K, 0, Obs, Act)).ParamName);
        Assert.Equal("observationSize", Assert.Throws<ArgumentOutOfRangeException>(() => new BatchReplay(K, Steps, 0, Act)).ParamName);
        Assert.Equal("actionSize", Assert.Throws<ArgumentOutOfRangeException>(() => new BatchReplay(K, Steps, Obs, 0)).ParamName);

        var replay = new BatchReplay(K, Steps, Obs, Act);
        foreach (int index in new[] { -1, Steps })
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
                replay.Record(index, new float[Obs], new float[Act], 0f, 0f, false, false, default));
            Assert.Equal("index", e.ParamName);
            Assert.StartsWith($"outside the batch of {Steps}", e.Message);
        }
        // The final observation is read only for a step cut by a time limit: one of another length is ignored elsewhere.
        float[] longer = new float[Obs + 3];
        replay.Record(0, new float[Obs], new float[Act], 0f, 0f, terminated: false, truncated: false, longer);
        replay.Record(0, new float[Obs], new float[Act], 0f, 0f, terminated: true, truncated: true, longer);
        Collect(replay, 0);
        Assert.Equal("agent", Assert.Throws<ArgumentNullException>(() => replay.Assemble(null!)).ParamName);
        foreach (var (obs, act) in new[] { (Obs + 1, Act), (Obs, Act - 1) })
        {
            var agent = new ActorCritic(obs, act, [3], [3], maxBatch: 4, seed: 1, normalizeObservations: false, observationClip: 10f);
            var e = Assert.Throws<ArgumentException>(() => replay.Assemble(agent));
            Assert.Equal("agent", e.ParamName);
            Assert.StartsWith($"the agent is {obs} → {act}, the replay {Obs} → {Act}", e.Message);
        }
    }
}
