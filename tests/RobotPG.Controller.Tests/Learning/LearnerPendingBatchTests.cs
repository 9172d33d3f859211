using RobotPG.Controller.Control;
using RobotPG.Controller.Learning;
using RobotPG.Controller.Logging;
using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Checkpoints;
using RobotPG.Numerics;
using Xunit;
using CheckpointBytes = RobotPG.Learning.Tests.Checkpoints.CheckpointBytes;

namespace RobotPG.Controller.Tests.Learning;

/// <summary>
/// A clean restart keeps the batch in progress: the shutdown checkpoint holds it, a resumed learner fills it on and
/// makes the update it would have made without the restart. A batch it cannot use leaves an empty batch and one warning.
/// </summary>
public sealed class LearnerPendingBatchTests
{
    private const int Batch = 64, Obs = 4, Act = 2;

    // Before the restart: an episode of 40 transitions (terminated), one of 30 cut by the time limit (update 1 at its
    // 24th), then an episode still open after 20 records: 6 + 19 = 25 transitions pending, the last leading to record 20.
    private static readonly (int Records, TransitionFlags End)[] BeforeRestart =
        [(41, TransitionFlags.Terminated), (31, TransitionFlags.Truncated), (20, TransitionFlags.None)];

    private const int Pending = 25;

    // After it (the loop counts its steps from 0 again and begins a new episode): 30 transitions, 50, then one still open.
    private static readonly (int Records, TransitionFlags End)[] AfterRestart =
        [(31, TransitionFlags.Terminated), (51, TransitionFlags.Terminated), (60, TransitionFlags.None)];

    private static (OnDeviceLearner Learner, TrajectoryRing Ring, LearningEventQueue Events) Build(string directory, int replayBatches = 1,
        int batchSteps = Batch, int evaluationEpisodes = 0)
    {
        var options = new LearningOptions
        {
            Algorithm = "ppo", BatchSteps = batchSteps, ReplayBatches = replayBatches, ValueHiddenSizes = [8], Seed = 3, MaxKl = 1e9,
            CheckpointDirectory = directory, CheckpointEveryUpdates = 1, CheckpointEveryEpisodes = 0, EvaluationEpisodes = evaluationEpisodes,
        };
        var algorithm = OnDeviceAlgorithms.Create(options, Obs, Act, [8], "balance-bot");
        var ring = new TrajectoryRing(Obs, Act, 4096);
        var events = new LearningEventQueue();
        return (new OnDeviceLearner(algorithm, ring, options, events, new LearnerCheckpoints(directory)), ring, events);
    }

    /// <summary>Appends the episodes' records from loop step 0, drawn from <paramref name="seed"/>, pumping after each; returns the records (0-based) at which updates came.</summary>
    private static List<int> Feed(OnDeviceLearner learner, TrajectoryRing ring, (int Records, TransitionFlags End)[] episodes, ulong seed)
    {
        var prng = new Prng(seed);
        var updatesAt = new List<int>();
        long step = 0;
        int record = 0;
        foreach (var (records, end) in episodes)
        {
            for (int t = 0; t < records; t++, step++, record++)
            {
                float[] obs = [(float)prng.NextGaussian(), (float)(2 + prng.NextGaussian()), 0.1f * t, (float)(-1 + 0.5 * prng.NextGaussian())];
                float[] act = [(float)prng.NextGaussian(), (float)prng.NextGaussian()];
                float logProb = (float)(-2 + 0.3 * prng.NextGaussian());
                float reward = (float)(1 + 0.2 * prng.NextGaussian());
                Assert.True(ring.TryAppend(step, step * 20_000_000L, obs, act, logProb, reward, t == records - 1 ? end : TransitionFlags.None));
                long before = learner.Updates;
                learner.Pump();
                if (learner.Updates != before) updatesAt.Add(record);
            }
        }
        return updatesAt;
    }

    private static List<LearnerUpdate> Updates(LearningEventQueue events)
    {
        var updates = new List<LearnerUpdate>();
        while (events.TryTakeUpdate(out var u)) updates.Add(u);
        return updates;
    }

    /// <summary>
    /// Learner A takes the records of a run and of the run after a restart (the steps start again at 0: a gap) without
    /// stopping. Learner B takes the first run's records and stops mid-batch, mid-episode; learner C resumes from B's
    /// shutdown checkpoint and takes the second run's. C's first update must come at the same record as A's — after the
    /// 64 − 25 transitions the batch lacked — and both of C's updates must equal A's to the bit (policy, critic, losses).
    /// Without the pending batch C would update 25 transitions later, on other data.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void A_learner_resumed_mid_batch_makes_the_update_of_one_that_ran_through(int replayBatches)
    {
        using var throughDir = new TempDirectory();
        using var stoppedDir = new TempDirectory();
        var (through, throughRing, throughEvents) = Build(throughDir.Path, replayBatches);
        Assert.Equal([65], Feed(through, throughRing, BeforeRestart, 5)); // 40 + 24 transitions
        Assert.Equal(Pending, through.BatchFill);
        List<int> throughAfter = Feed(through, throughRing, AfterRestart, 6);

        var (stopped, stoppedRing, _) = Build(stoppedDir.Path, replayBatches);
        Feed(stopped, stoppedRing, BeforeRestart, 5);
        stopped.Stop(TimeSpan.FromSeconds(10));
        Assert.Equal(Pending, CheckpointFile.ReadInfo(Path.Combine(stoppedDir.Path, LearnerCheckpoints.LatestName)).PendingTransitions);

        var (resumed, resumedRing, resumedEvents) = Build(stoppedDir.Path, replayBatches);
        Assert.Equal(Path.Combine(stoppedDir.Path, LearnerCheckpoints.LatestName), resumed.Resume());
        Assert.False(resumedEvents.TryTakeWarning(out string? warning), warning);
        Assert.Equal(Pending, resumed.BatchFill);
        // In lockstep the loop may run until the batch could be full: 39 transitions need the records of steps 0..39.
        Assert.Equal(Batch - Pending - 1, resumed.Gate.LastStep);
        List<int> resumedAfter = Feed(resumed, resumedRing, AfterRestart, 6);

        // 30 transitions in the first episode (records 1..30), the next 9 in the second (records 32..40): record 40. The
        // next batch: the second episode's other 41 (records 41..81), 23 of the third (records 83..105).
        Assert.Equal([40, 105], resumedAfter);
        Assert.Equal(throughAfter, resumedAfter);
        Assert.Equal(3, resumed.AcceptedUpdates);
        Assert.Equal(through.Agent.Policy.Parameters.ToArray(), resumed.Agent.Policy.Parameters.ToArray());
        Assert.Equal(through.Agent.Value.Parameters.ToArray(), resumed.Agent.Value.Parameters.ToArray());
        var a = Updates(throughEvents).Skip(1).ToList();
        var c = Updates(resumedEvents);
        Assert.Equal(2, c.Count);
        for (int u = 0; u < 2; u++)
        {
            Assert.Equal(a[u].Update, c[u].Update);
            Assert.Equal(a[u].PolicyLoss, c[u].PolicyLoss);
            Assert.Equal(a[u].ValueLoss, c[u].ValueLoss);
            Assert.Equal(a[u].ApproxKl, c[u].ApproxKl);
            Assert.Equal(a[u].Steps, c[u].Steps);
        }
    }

    /// <summary>
    /// What the cut is, against a twin PPO of the same seed given the transitions as the notes define them: records with
    /// gaps in their steps (a full ring dropped some; a restart begins again at step 0) in the middle of open episodes.
    /// The transition before a gap is cut as a time limit cuts one — truncated, the value beyond it V(the observation
    /// after it) under the statistics and critic of that moment (with a replay: that raw observation, valued at the
    /// update) — and the pending step of the gap's far side starts a new episode. A learner that let the transition lean
    /// on the next episode's first value (no cut), or bootstrapped from another observation, parts from the twin.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void A_gap_in_the_steps_cuts_the_open_episode_at_its_last_transition_as_a_time_limit_would(int replayBatches)
    {
        var options = new LearningOptions
        {
            Algorithm = "ppo", BatchSteps = Batch, ReplayBatches = replayBatches, ValueHiddenSizes = [8], CheckpointDirectory = null, Seed = 3, MaxKl = 1e9,
        };
        var ring = new TrajectoryRing(Obs, Act, 4096);
        var learner = new OnDeviceLearner(OnDeviceAlgorithms.Create(options, Obs, Act, [8], "balance-bot"), ring, options);
        var twin = (Ppo)OnDeviceAlgorithms.Create(options, Obs, Act, [8], "balance-bot");
        var rollout = new RobotPG.Learning.Rollouts.RolloutBuffer(Batch, 1, Obs, Act);
        var replay = replayBatches > 1 ? new RobotPG.Learning.Rollouts.BatchReplay(replayBatches, Batch, Obs, Act) : null;
        var scaler = new RobotPG.Learning.Normalization.RewardScaler(twin.Hyperparameters.Gamma);
        float[] normalized = new float[Obs];
        float ValueOf(float[] raw)
        {
            twin.Agent.NormalizeObservation(raw, normalized);
            return twin.Agent.Value.Predict(normalized);
        }

        // Segments of records; a gap in the steps follows those marked. Cuts at transitions 59 (batch 1) and 48 (batch 2).
        (int Records, TransitionFlags End, bool GapAfter)[] plan =
        [
            (41, TransitionFlags.Terminated, false), (20, TransitionFlags.None, true), (30, TransitionFlags.Truncated, false),
            (25, TransitionFlags.None, true), (50, TransitionFlags.Terminated, false), (40, TransitionFlags.None, true), (30, TransitionFlags.Terminated, false),
        ];
        var prng = new Prng(77);
        float[] pendingObs = new float[Obs], pendingAct = new float[Act], lastObs = new float[Obs], lastAct = new float[Act];
        float pendingLogProb = 0, lastLogProb = 0, lastReward = 0;
        bool pendingValid = false, linked = false;
        int count = 0, updates = 0, cuts = 0;
        long step = 0;
        foreach (var (records, end, gapAfter) in plan)
        {
            for (int t = 0; t < records; t++, step++)
            {
                float[] obs = [(float)prng.NextGaussian(), (float)(2 + prng.NextGaussian()), 0.1f * t, (float)(-1 + 0.5 * prng.NextGaussian())];
                float[] act = [(float)prng.NextGaussian(), (float)prng.NextGaussian()];
                float logProb = (float)(-2 + 0.3 * prng.NextGaussian());
                float reward = (float)(1 + 0.2 * prng.NextGaussian());
                var flags = t == records - 1 ? end : TransitionFlags.None;
                Assert.True(ring.TryAppend(step, step * 20_000_000L, obs, act, logProb, reward, flags));
                bool terminated = flags == TransitionFlags.Terminated, truncated = flags == TransitionFlags.Truncated;

                twin.Agent.ObserveStatistics(obs);
                bool added = false;
                if (pendingValid)
                {
                    int i = count++;
                    twin.Agent.NormalizeObservation(pendingObs, rollout.Observation(i));
                    pendingAct.CopyTo(rollout.Action(i));
                    float value = twin.Agent.Value.Predict(rollout.Observation(i));
                    float scaled = Math.Clamp(scaler.Scale(reward, terminated), -10f, 10f);
                    rollout.Record(i, pendingLogProb, value, scaled, terminated, truncated, truncated ? ValueOf(obs) : 0f);
                    replay?.Record(i, pendingObs, pendingAct, pendingLogProb, scaled, terminated, truncated, obs);
                    pendingObs.CopyTo(lastObs);
                    pendingAct.CopyTo(lastAct);
                    (lastLogProb, lastReward, added) = (pendingLogProb, scaled, true);
                }
                pendingValid = !(terminated || truncated);
                linked = pendingValid && added;
                if (pendingValid)
                {
                    obs.CopyTo(pendingObs);
                    act.CopyTo(pendingAct);
                    pendingLogProb = logProb;
                }
                if (count == Batch)
                {
                    if (replay is not null)
                    {
                        replay.Commit(pendingValid ? pendingObs : default);
                        twin.Update(replay.Assemble(twin.Agent), ++updates, int.MaxValue);
                    }
                    else
                    {
                        rollout.LastValues[0] = pendingValid ? ValueOf(pendingObs) : 0f;
                        twin.Update(rollout, ++updates, int.MaxValue);
                    }
                    count = 0;
                    linked = false;
                    learner.Pump();
                    Assert.Equal(updates, learner.Updates);
                    Assert.Equal(twin.Agent.Policy.Parameters.ToArray(), learner.Agent.Policy.Parameters.ToArray());
                    Assert.Equal(twin.Agent.Value.Parameters.ToArray(), learner.Agent.Value.Parameters.ToArray());
                }
            }
            if (gapAfter)
            {
                step += 7; // records dropped: the next record's step does not follow
                if (linked)
                {
                    // The open episode's last transition: truncated, bootstrapped from the observation after it (now).
                    int i = count - 1;
                    rollout.Record(i, rollout.LogProbs[i], rollout.Values[i], rollout.Rewards[i], false, true, ValueOf(pendingObs));
                    replay?.Record(i, lastObs, lastAct, lastLogProb, lastReward, false, true, pendingObs);
                    cuts++;
                }
                pendingValid = linked = false;
            }
        }
        Assert.Equal(3, updates);
        Assert.Equal(3, cuts);
        Assert.Equal(0, learner.Rollbacks);
    }

    /// <summary>
    /// Stopped with a full batch that waited for the verdict on the policy under evaluation (its episodes had not ended):
    /// the restart drops the evaluation, so the resumed learner updates on that batch at its first pump, before any
    /// record — in lockstep the loop waits at step 0 for exactly that (its gate is shut until the update).
    /// </summary>
    [Fact]
    public void A_full_batch_waiting_for_an_evaluation_updates_at_the_first_pump_after_the_restart()
    {
        using var dir = new TempDirectory();
        var (stopped, ring, _) = Build(dir.Path, evaluationEpisodes: 2);
        // Two episodes of 20 transitions, then one of 40 (update 1 at its 24th, record 66: the evaluation starts), then one
        // that outlasts the next batch: 16 + 48 transitions fill it at record 131, 11 more records find it full.
        Assert.Equal([66], Feed(stopped, ring, [(21, TransitionFlags.Terminated), (21, TransitionFlags.Terminated), (41, TransitionFlags.Terminated),
            (60, TransitionFlags.None)], 8));
        Assert.Equal(1, stopped.Updates);
        Assert.Equal(Batch, stopped.BatchFill);
        stopped.Stop(TimeSpan.FromSeconds(10));

        var (resumed, _, events) = Build(dir.Path, evaluationEpisodes: 2);
        Assert.NotNull(resumed.Resume());
        Assert.Equal(Batch, resumed.BatchFill);
        Assert.Equal(-1, resumed.Gate.LastStep);
        float[] before = resumed.Agent.Policy.Parameters.ToArray();
        Assert.Equal(0, resumed.Pump());
        Assert.Equal(2, resumed.Updates);
        Assert.Equal(2, resumed.AcceptedUpdates);
        Assert.Equal(0, resumed.BatchFill);
        Assert.Equal(Batch - 1, resumed.Gate.LastStep);
        Assert.NotEqual(before, resumed.Agent.Policy.Parameters.ToArray());
        Assert.True(events.TryTakeUpdate(out var update));
        Assert.Equal(2, update.Update);
    }

    /// <summary>The stopped learner of the test above, its checkpoint rewritten by a hand that breaks or drops the section.</summary>
    private static (string Latest, TempDirectory Dir) StoppedMidBatch(int replayBatches = 1)
    {
        var dir = new TempDirectory();
        var (stopped, ring, _) = Build(dir.Path, replayBatches);
        Feed(stopped, ring, BeforeRestart, 5);
        stopped.Stop(TimeSpan.FromSeconds(10));
        return (Path.Combine(dir.Path, LearnerCheckpoints.LatestName), dir);
    }

    /// <summary>
    /// learning.batchSteps changed between the runs: the pending 25 transitions of a 64-step batch are not a 128-step
    /// batch's. The learner resumes the rest (its update count, policy) with an empty batch and one warning naming the
    /// file, the section and the reason; its first update comes after 128 transitions of the new run.
    /// </summary>
    [Fact]
    public void Another_batchSteps_resumes_with_an_empty_batch_and_one_warning()
    {
        var (latest, dir) = StoppedMidBatch();
        using var cleanup = dir;
        float[] policy = Policy(latest);
        var (resumed, ring, events) = Build(dir.Path, batchSteps: 128);
        Assert.Equal(latest, resumed.Resume());
        Assert.True(events.TryTakeWarning(out string warning));
        Assert.Equal($"checkpoint '{latest}': the batch in progress (PendingBatch section) is not resumed: the batch has 64 steps, this learner's 128 "
            + "(learning.batchSteps); the learner starts an empty batch", warning);
        Assert.False(events.TryTakeWarning(out _));
        Assert.Equal(0, resumed.BatchFill);
        Assert.Equal(1, resumed.AcceptedUpdates);
        Assert.Equal(policy, resumed.Agent.Policy.Parameters.ToArray());
        Assert.Equal(130, Feed(resumed, ring, AfterRestart, 6)[0]); // 30 + 50 transitions, then 48 in records 83..130
    }

    /// <summary>
    /// The latest checkpoint's PendingBatch section cut short (a file that passes its CRC, as a writer bug would leave it):
    /// the learner resumes from that checkpoint (its policy is newer than the previous one's) with an empty batch, and says why.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void A_cut_section_resumes_the_latest_checkpoint_with_an_empty_batch_and_one_warning(int replayBatches)
    {
        var (latest, dir) = StoppedMidBatch(replayBatches);
        using var cleanup = dir;
        byte[] bytes = File.ReadAllBytes(latest);
        byte[] body = CheckpointBytes.Section(bytes, CheckpointBytes.PendingSection).ToArray();
        File.WriteAllBytes(latest, CheckpointBytes.WithSection(bytes, CheckpointBytes.PendingSection, body[..^40]));

        var (resumed, ring, events) = Build(dir.Path, replayBatches);
        Assert.Equal(latest, resumed.Resume());
        Assert.True(events.TryTakeWarning(out string warning));
        Assert.Equal($"checkpoint '{latest}': the batch in progress (PendingBatch section) is not resumed: malformed: the PendingBatch section ends early; "
            + "the learner starts an empty batch", warning);
        Assert.False(events.TryTakeWarning(out _));
        Assert.Equal(0, resumed.BatchFill);
        Assert.Equal(1, resumed.AcceptedUpdates);
        Assert.Equal(Policy(latest), resumed.Agent.Policy.Parameters.ToArray());
        Assert.Equal(65, Feed(resumed, ring, AfterRestart, 6)[0]); // a whole batch: 30 + 34 transitions (records 32..65)
    }

    /// <summary>A checkpoint of a build before the section (the same file without it) resumes as before: an empty batch, no warning.</summary>
    [Fact]
    public void A_checkpoint_without_the_section_resumes_with_an_empty_batch_and_no_warning()
    {
        var (latest, dir) = StoppedMidBatch();
        using var cleanup = dir;
        File.WriteAllBytes(latest, CheckpointBytes.Without(File.ReadAllBytes(latest), CheckpointBytes.PendingSection));
        var (resumed, ring, events) = Build(dir.Path);
        Assert.Equal(latest, resumed.Resume());
        Assert.False(events.TryTakeWarning(out string? warning), warning);
        Assert.Equal(0, resumed.BatchFill);
        Assert.Equal(1, resumed.AcceptedUpdates);
        Assert.Equal(65, Feed(resumed, ring, AfterRestart, 6)[0]);
    }

    private static float[] Policy(string checkpoint)
    {
        var info = CheckpointFile.ReadInfo(checkpoint);
        var policy = new RobotPG.Learning.Networks.GaussianPolicy(info.PolicyObservationSize, info.PolicyActionSize, info.PolicyHiddenSizes!, 1, 1);
        CheckpointFile.Load(checkpoint, new TrainingState { Policy = policy });
        return policy.Parameters.ToArray();
    }
}
