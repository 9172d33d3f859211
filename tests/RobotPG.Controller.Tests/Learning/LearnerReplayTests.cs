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

    /// <summary>
    /// Four batches whose ends fall on episode ends (so no transition is pending when the learner stops). Learner A runs
    /// through all four; learner B takes two and stops (its checkpoint after update 2 is the last thing it leaves); learner
    /// C resumes from B's directory and takes the last two. C must end with A's parameters and optimiser to the bit:
    /// update 3 trains on batches 2 and 3, so a resume without the replay (batch 3 alone) or with a fresh minibatch
    /// shuffle parts from A.
    /// </summary>
    [Fact]
    public void A_learner_resumed_from_its_checkpoint_ends_bit_equal_to_one_that_ran_through()
    {
        using var throughDir = new TempDirectory();
        using var stoppedDir = new TempDirectory();
        var (through, throughRing) = CheckpointedLearner(throughDir.Path, replayBatches: 2);
        long step = 0;
        for (int b = 0; b < 4; b++)
        {
            step = AppendBatch(throughRing, step, b);
            through.Pump();
        }
        Assert.Equal(4, through.AcceptedUpdates);

        var (stopped, stoppedRing) = CheckpointedLearner(stoppedDir.Path, replayBatches: 2);
        step = 0;
        for (int b = 0; b < 2; b++)
        {
            step = AppendBatch(stoppedRing, step, b);
            stopped.Pump();
        }
        Assert.Equal(2, stopped.AcceptedUpdates);
        Assert.Equal(2, RobotPG.Learning.Checkpoints.CheckpointFile.ReadInfo(Path.Combine(stoppedDir.Path, LearnerCheckpoints.LatestName)).ReplayBatches);

        var (resumed, resumedRing) = CheckpointedLearner(stoppedDir.Path, replayBatches: 2);
        Assert.NotNull(resumed.Resume());
        for (int b = 2; b < 4; b++)
        {
            step = AppendBatch(resumedRing, step, b);
            resumed.Pump();
        }

        Assert.Equal(4, resumed.AcceptedUpdates);
        Assert.Equal(0, through.Rollbacks + resumed.Rollbacks);
        Assert.Equal(through.Agent.Policy.Parameters.ToArray(), resumed.Agent.Policy.Parameters.ToArray());
        Assert.Equal(through.Agent.Value.Parameters.ToArray(), resumed.Agent.Value.Parameters.ToArray());
        var a = ((RobotPG.Learning.Algorithms.Ppo)through.Algorithm).Optimizer;
        var c = ((RobotPG.Learning.Algorithms.Ppo)resumed.Algorithm).Optimizer;
        Assert.Equal(a.FirstMoment.ToArray(), c.FirstMoment.ToArray());
        Assert.Equal(a.SecondMoment.ToArray(), c.SecondMoment.ToArray());
    }

    /// <summary>
    /// The latest checkpoint's replay section cut short (a file that passes its CRC, as a writer bug would leave it):
    /// the learner says why it skips it and resumes from the previous checkpoint whole, replay included.
    /// </summary>
    [Fact]
    public void A_cut_replay_section_in_the_latest_checkpoint_falls_back_to_the_previous_one_replay_and_all()
    {
        using var dir = new TempDirectory();
        var (first, ring) = CheckpointedLearner(dir.Path, replayBatches: 2);
        long step = 0;
        for (int b = 0; b < 3; b++)
        {
            step = AppendBatch(ring, step, b);
            first.Pump();
        }
        string latest = Path.Combine(dir.Path, LearnerCheckpoints.LatestName);
        byte[] bytes = File.ReadAllBytes(latest);
        byte[] body = RobotPG.Learning.Tests.Checkpoints.CheckpointBytes.Section(bytes, RobotPG.Learning.Tests.Checkpoints.CheckpointBytes.ReplaySection).ToArray();
        File.WriteAllBytes(latest, RobotPG.Learning.Tests.Checkpoints.CheckpointBytes.WithSection(bytes,
            RobotPG.Learning.Tests.Checkpoints.CheckpointBytes.ReplaySection, body[..^40]));

        var events = new LearningEventQueue();
        var (second, _) = CheckpointedLearner(dir.Path, replayBatches: 2, events);
        Assert.Equal(Path.Combine(dir.Path, LearnerCheckpoints.PreviousName), second.Resume());
        Assert.True(events.TryTakeWarning(out string warning));
        Assert.Equal($"checkpoint {latest} is unusable (checkpoint '{latest}': malformed: the Replay section ends early); "
            + $"resuming from the previous one, {Path.Combine(dir.Path, LearnerCheckpoints.PreviousName)}", warning);
        Assert.Equal(2, second.AcceptedUpdates);
        Assert.Equal(2, second.Replay!.Count);
        Assert.Equal(FirstObservation(0), second.Replay.Kept(0).Observations[..Obs].ToArray());
        Assert.Equal(FirstObservation(1), second.Replay.Kept(1).Observations[..Obs].ToArray());
    }

    /// <summary>A checkpoint of three replay batches resumed by a learner that keeps two: the newest two, and a warning that says so.</summary>
    [Fact]
    public void A_learner_keeping_fewer_batches_resumes_with_the_newest_and_says_so()
    {
        using var dir = new TempDirectory();
        var (three, ring) = CheckpointedLearner(dir.Path, replayBatches: 3);
        long step = 0;
        for (int b = 0; b < 3; b++)
        {
            step = AppendBatch(ring, step, b);
            three.Pump();
        }
        var events = new LearningEventQueue();
        var (two, _) = CheckpointedLearner(dir.Path, replayBatches: 2, events);
        Assert.NotNull(two.Resume());
        Assert.True(events.TryTakeWarning(out string warning));
        Assert.Equal("the checkpoint's replay holds 3 batches, this learner keeps 2 (learning.replayBatches): resumed with the newest 2", warning);
        var replay = two.Replay!;
        Assert.Equal(2, replay.Count);
        // Batch b's first observation is the one AppendBatch drew first for it.
        Assert.Equal(FirstObservation(1), replay.Kept(0).Observations[..Obs].ToArray());
        Assert.Equal(FirstObservation(2), replay.Kept(1).Observations[..Obs].ToArray());
    }

    private static (OnDeviceLearner Learner, TrajectoryRing Ring) CheckpointedLearner(string directory, int replayBatches, LearningEventQueue? events = null)
    {
        var options = new LearningOptions
        {
            Algorithm = "ppo", BatchSteps = Batch, ReplayBatches = replayBatches, ValueHiddenSizes = [8], Seed = 3, MaxKl = 1e9,
            CheckpointDirectory = directory, CheckpointEveryUpdates = 1, CheckpointEveryEpisodes = 0,
        };
        var algorithm = OnDeviceAlgorithms.Create(options, Obs, Act, [8], "balance-bot");
        var ring = new TrajectoryRing(Obs, Act, 4096);
        return (new OnDeviceLearner(algorithm, ring, options, events, new LearnerCheckpoints(directory)), ring);
    }

    // Per batch: its episodes' transitions (records − 1) and whether each is cut by the time limit; each sums to Batch.
    private static readonly (int Transitions, bool Truncated)[][] Plan =
    [
        [(40, false), (24, true)],
        [(30, false), (34, false)],
        [(64, true)],
        [(20, false), (44, true)],
    ];

    private static float[] FirstObservation(int batch)
    {
        var prng = new Prng(100 + (ulong)batch);
        return Observation(ref prng, 0);
    }

    private static float[] Observation(ref Prng prng, int t) =>
        [(float)prng.NextGaussian(), (float)(2 + prng.NextGaussian()), 0.1f * t, (float)(-1 + 0.5 * prng.NextGaussian())];

    /// <summary>Appends batch <paramref name="batch"/> of <see cref="Plan"/>: random observations, actions, behaviour log-probs and rewards.</summary>
    private static long AppendBatch(TrajectoryRing ring, long step, int batch)
    {
        var prng = new Prng(100 + (ulong)batch);
        foreach (var (transitions, truncated) in Plan[batch])
        {
            for (int t = 0; t <= transitions; t++, step++)
            {
                float[] obs = Observation(ref prng, t);
                float[] act = [(float)prng.NextGaussian(), (float)prng.NextGaussian()];
                float logProb = (float)(-2 + 0.3 * prng.NextGaussian());
                float reward = (float)(1 + 0.2 * prng.NextGaussian());
                var flags = t < transitions ? TransitionFlags.None : truncated ? TransitionFlags.Truncated : TransitionFlags.Terminated;
                Assert.True(ring.TryAppend(step, step * 20_000_000L, obs, act, logProb, reward, flags));
            }
        }
        return step;
    }
}
