using RobotPG.Controller.Control;
using RobotPG.Controller.Learning;
using RobotPG.Controller.Logging;
using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Normalization;
using RobotPG.Learning.Rollouts;
using RobotPG.Numerics;
using Xunit;

namespace RobotPG.Controller.Tests.Learning;

/// <summary>learning.replayBatches on the robot: what the learner hands PPO from the loop's records.</summary>
public sealed class LearnerReplayTests
{
    private const int Batch = 64, Obs = 4, Act = 2;

    /// <summary>
    /// Three batches of records (episodes ending, one cut by the time limit, one running across batch ends) with
    /// behaviour log-probs of their own. A twin PPO of the same seed, given the same transitions as the notes
    /// define them — step t's observation, action and recorded log-prob, the reward and end flags the task
    /// reported at t+1 (scaled as the learner scales them), the raw observation after a cut, after each batch the
    /// observation its episode goes on from — through <see cref="BatchReplay"/>, must end with the learner's
    /// parameters to the bit after each update. A learner that replayed the normalised observations, its own
    /// log-probs or a wrong next observation would part from it.
    /// </summary>
    [Fact]
    public void The_learner_replays_the_last_K_batches_as_the_loop_recorded_them()
    {
        var options = new LearningOptions
        {
            Algorithm = "ppo", BatchSteps = Batch, ReplayBatches = 2, ValueHiddenSizes = [8], CheckpointDirectory = null, Seed = 3, MaxKl = 1e9,
        };
        var algorithm = OnDeviceAlgorithms.Create(options, Obs, Act, [8], "balance-bot");
        var ring = new TrajectoryRing(Obs, Act, 4096);
        var learner = new OnDeviceLearner(algorithm, ring, options);
        var twin = (RobotPG.Learning.Algorithms.Ppo)OnDeviceAlgorithms.Create(options, Obs, Act, [8], "balance-bot");
        Assert.Equal(learner.Agent.Policy.Parameters.ToArray(), twin.Agent.Policy.Parameters.ToArray());
        var replay = new BatchReplay(2, Batch, Obs, Act);
        var scaler = new RewardScaler(twin.Hyperparameters.Gamma);

        var prng = new Prng(21);
        float[] pendingObs = new float[Obs], pendingAct = new float[Act];
        float pendingLogProb = 0;
        bool pendingValid = false;
        int count = 0, updates = 0;
        long step = 0;
        int[] lengths = [40, 30, 25, 70, 33, 50];
        for (int e = 0; e < lengths.Length; e++)
        {
            for (int t = 0; t < lengths[e]; t++, step++)
            {
                float[] obs = [(float)prng.NextGaussian(), (float)(2 + prng.NextGaussian()), 0.1f * t, (float)(-1 + 0.5 * prng.NextGaussian())];
                float[] act = [(float)prng.NextGaussian(), (float)prng.NextGaussian()];
                float logProb = (float)(-2 + 0.3 * prng.NextGaussian());
                float reward = (float)(1 + 0.2 * prng.NextGaussian());
                bool last = t == lengths[e] - 1;
                bool truncated = last && e == 2;
                bool terminated = last && !truncated;
                var flags = terminated ? TransitionFlags.Terminated : truncated ? TransitionFlags.Truncated : TransitionFlags.None;
                Assert.True(ring.TryAppend(step, step * 20_000_000L, obs, act, logProb, reward, flags));

                // The twin's side, as the notes define a transition.
                twin.Agent.ObserveStatistics(obs);
                if (pendingValid)
                {
                    float scaled = Math.Clamp(scaler.Scale(reward, terminated), -10f, 10f);
                    replay.Record(count++, pendingObs, pendingAct, pendingLogProb, scaled, terminated, truncated, obs);
                }
                pendingValid = !(terminated || truncated);
                if (pendingValid)
                {
                    obs.CopyTo(pendingObs);
                    act.CopyTo(pendingAct);
                    pendingLogProb = logProb;
                }
                if (count == Batch)
                {
                    replay.Commit(pendingValid ? pendingObs : default);
                    twin.Update(replay.Assemble(twin.Agent), ++updates, int.MaxValue);
                    count = 0;
                    learner.Pump();
                    Assert.Equal(updates, learner.Updates);
                    Assert.Equal(twin.Agent.Policy.Parameters.ToArray(), learner.Agent.Policy.Parameters.ToArray());
                    Assert.Equal(twin.Agent.Value.Parameters.ToArray(), learner.Agent.Value.Parameters.ToArray());
                }
            }
        }
        Assert.Equal(3, updates); // the third trained on batches 2 and 3, batch 1 dropped
        Assert.Equal(0, learner.Rollbacks);
    }
}
