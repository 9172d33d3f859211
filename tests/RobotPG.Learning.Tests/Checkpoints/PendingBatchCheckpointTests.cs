using System.Buffers.Binary;
using System.Text;
using RobotPG.Learning.Checkpoints;
using RobotPG.Learning.Networks;
using RobotPG.Learning.Rollouts;
using RobotPG.Numerics;
using Xunit;

namespace RobotPG.Learning.Tests.Checkpoints;

/// <summary>
/// The checkpoint's PendingBatch section (the batch a learner was collecting): round trip to the bit, laid out as
/// documented; a batch of another kind or a section that does not parse loads as an empty batch with one note naming
/// file, section and reason while the rest of the checkpoint loads; a file without the section (an older one) loads
/// with an empty batch and no note.
/// </summary>
public sealed class PendingBatchCheckpointTests
{
    private const int Steps = 16, Obs = 3, Act = 2, Filled = 11;
    private const uint PendingSection = CheckpointBytes.PendingSection;

    /// <summary>A pending batch of <see cref="Filled"/> transitions (a terminal step, a cut one, the last open), with a replay when asked.</summary>
    private static PendingBatch Filled11(bool replay, int steps = Steps, string algorithm = "ppo")
    {
        var rollout = new RolloutBuffer(steps, 1, Obs, Act);
        var kept = replay ? new BatchReplay(2, steps, Obs, Act) : null;
        var pending = new PendingBatch(algorithm, rollout, kept, new float[Obs]);
        var prng = new Prng(41);
        for (int t = 0; t < Filled; t++)
        {
            float[] raw = [t, (float)prng.NextGaussian(), 3];
            for (int k = 0; k < Obs; k++) rollout.Observation(t)[k] = 0.5f * raw[k] - 1;
            float[] act = [(float)prng.NextGaussian(), -t];
            act.CopyTo(rollout.Action(t));
            bool terminated = t == 3, truncated = t == 7;
            float logProb = (float)(-1 - prng.NextDouble()), reward = (float)prng.NextGaussian();
            rollout.Record(t, logProb, (float)prng.NextGaussian(), reward, terminated, truncated, bootstrapValue: 40 + t);
            kept?.Record(t, raw, act, logProb, reward, terminated, truncated, [100 + t, 0, 1]);
        }
        pending.Count = Filled;
        pending.Open = true;
        float[] next = [7, 8, 9];
        next.CopyTo(pending.NextObservation);
        return pending;
    }

    private static TrainingState State(PendingBatch? pending, GaussianPolicy? policy = null) =>
        new() { Policy = policy ?? new GaussianPolicy(Obs, Act, [4], 1, 5), Pending = pending };

    private static void AssertSameRows(PendingBatch expected, PendingBatch actual)
    {
        int n = expected.Count;
        Assert.Equal(n, actual.Count);
        Assert.Equal(expected.Open, actual.Open);
        RolloutBuffer a = expected.Rollout, b = actual.Rollout;
        Assert.Equal(a.Observations[..(n * Obs)].ToArray(), b.Observations[..(n * Obs)].ToArray());
        Assert.Equal(a.Actions[..(n * Act)].ToArray(), b.Actions[..(n * Act)].ToArray());
        Assert.Equal(a.LogProbs[..n].ToArray(), b.LogProbs[..n].ToArray());
        Assert.Equal(a.Values[..n].ToArray(), b.Values[..n].ToArray());
        Assert.Equal(a.Rewards[..n].ToArray(), b.Rewards[..n].ToArray());
        Assert.Equal(a.BootstrapValues[..n].ToArray(), b.BootstrapValues[..n].ToArray());
        Assert.Equal(a.Terminated[..n].ToArray(), b.Terminated[..n].ToArray());
        Assert.Equal(a.Truncated[..n].ToArray(), b.Truncated[..n].ToArray());
        if (expected.Open) Assert.Equal(expected.NextObservation, actual.NextObservation);
    }

    [Fact]
    public void The_batch_in_progress_round_trips_to_the_bit_and_its_section_is_laid_out_as_documented()
    {
        var saved = Filled11(replay: true);
        byte[] bytes = CheckpointFile.Serialize(State(saved));
        byte[] body = CheckpointBytes.Section(bytes, PendingSection).ToArray();
        // algorithm (length-prefixed UTF-8) | batch steps | obs | act | count | observations (length, then row 0) ...
        Assert.Equal(3, BinaryPrimitives.ReadInt32LittleEndian(body));
        Assert.Equal("ppo", Encoding.UTF8.GetString(body, 4, 3));
        Assert.Equal([Steps, Obs, Act, Filled, Filled * Obs], new[] { 7, 11, 15, 19, 23 }.Select(o => BinaryPrimitives.ReadInt32LittleEndian(body.AsSpan(o))));
        Assert.Equal(-1f, BinaryPrimitives.ReadSingleLittleEndian(body.AsSpan(27))); // 0.5 · 0 − 1
        Assert.Equal(Filled, CheckpointFile.ReadInfo("mem", bytes).PendingTransitions);
        Assert.Equal(Steps, CheckpointFile.ReadInfo("mem", bytes).PendingBatchSteps);

        var loaded = new PendingBatch("ppo", new RolloutBuffer(Steps, 1, Obs, Act), new BatchReplay(2, Steps, Obs, Act), new float[Obs]);
        var state = State(loaded);
        CheckpointFile.Deserialize("mem", bytes, state);
        Assert.Null(state.PendingNote);
        AssertSameRows(saved, loaded);
        Assert.Equal([7f, 8f, 9f], loaded.NextObservation);
        Assert.Equal(0f, loaded.Rollout.BootstrapValues[3]); // terminal: nothing beyond it
        Assert.Equal(47f, loaded.Rollout.BootstrapValues[7]);
        // The replay's batch in progress: raw observations, and the raw observation after the cut step 7.
        KeptBatch expected = saved.Replay!.Collecting(Filled), actual = loaded.Replay!.Collecting(Filled);
        Assert.Equal(expected.Observations.ToArray(), actual.Observations.ToArray());
        Assert.Equal(expected.Truncated.ToArray(), actual.Truncated.ToArray());
        Assert.Equal([107f, 0f, 1f], actual.FinalObservations.Slice(7 * Obs, Obs).ToArray());
        Assert.Equal(0, loaded.Replay.Count); // in progress, not committed
    }

    [Fact]
    public void A_learner_without_a_replay_loads_the_rows_of_one_with_a_replay_but_not_the_other_way_round()
    {
        byte[] withRaw = CheckpointFile.Serialize(State(Filled11(replay: true)));
        var plain = new PendingBatch("ppo", new RolloutBuffer(Steps, 1, Obs, Act), null, new float[Obs]);
        var state = State(plain);
        CheckpointFile.Deserialize("mem", withRaw, state);
        Assert.Null(state.PendingNote);
        AssertSameRows(Filled11(replay: true), plain);

        byte[] withoutRaw = CheckpointFile.Serialize(State(Filled11(replay: false)));
        var replaying = new PendingBatch("ppo", new RolloutBuffer(Steps, 1, Obs, Act), new BatchReplay(2, Steps, Obs, Act), new float[Obs]);
        state = State(replaying);
        CheckpointFile.Deserialize("robot/learner-latest.ckpt", withoutRaw, state);
        Assert.Equal(0, replaying.Count);
        Assert.Equal("checkpoint 'robot/learner-latest.ckpt': the batch in progress (PendingBatch section) is not resumed: the batch holds no raw "
            + "observations, which this learner's replay needs (learning.replayBatches); the learner starts an empty batch", state.PendingNote);
    }

    [Theory]
    [InlineData(2 * Steps, Obs, "ppo", "the batch has 16 steps, this learner's 32 (learning.batchSteps)")]
    [InlineData(Steps, Obs + 1, "ppo", "the batch's transitions are 3 → 2, the learner's 4 → 2")]
    [InlineData(Steps, Obs, "trpo", "the batch was collected by ppo, this learner runs trpo (learning.algorithm)")]
    public void A_batch_of_another_kind_is_left_out_with_one_note_and_the_rest_of_the_checkpoint_loads(int steps, int obs, string algorithm, string reason)
    {
        var savedPolicy = new GaussianPolicy(Obs, Act, [4], 1, 5);
        byte[] bytes = CheckpointFile.Serialize(State(Filled11(replay: false), savedPolicy));
        var rollout = new RolloutBuffer(steps, 1, obs, Act);
        var pending = new PendingBatch(algorithm, rollout, null, new float[obs]);
        var policy = new GaussianPolicy(Obs, Act, [4], 1, 77);
        CheckpointFile.Deserialize("robot/learner-latest.ckpt", bytes, new TrainingState { Policy = policy });
        Assert.Equal(savedPolicy.Parameters.ToArray(), policy.Parameters.ToArray());

        policy = new GaussianPolicy(Obs, Act, [4], 1, 77);
        var state = new TrainingState { Policy = policy, Pending = pending };
        CheckpointFile.Deserialize("robot/learner-latest.ckpt", bytes, state);
        Assert.Equal(0, pending.Count);
        Assert.False(pending.Open);
        Assert.All(rollout.Observations.ToArray(), x => Assert.Equal(0f, x));
        Assert.Equal($"checkpoint 'robot/learner-latest.ckpt': the batch in progress (PendingBatch section) is not resumed: {reason}; the learner starts an empty batch",
            state.PendingNote);
        Assert.Equal(savedPolicy.Parameters.ToArray(), policy.Parameters.ToArray());
    }

    [Fact]
    public void A_cut_or_malformed_section_loads_nothing_of_the_batch_says_why_and_the_rest_of_the_checkpoint_loads()
    {
        var savedPolicy = new GaussianPolicy(Obs, Act, [4], 1, 5);
        byte[] bytes = CheckpointFile.Serialize(State(Filled11(replay: true), savedPolicy));
        byte[] body = CheckpointBytes.Section(bytes, PendingSection).ToArray();
        // Cut at the end (the raw observations after cut steps), in the middle, just after the header, inside it.
        foreach (int keep in new[] { body.Length - 1, body.Length / 2, 24, 10 })
        {
            var (pending, policy, state) = Target();
            CheckpointFile.Deserialize("robot/learner-latest.ckpt", CheckpointBytes.WithSection(bytes, PendingSection, body[..keep]), state);
            AssertUntouched(pending);
            Assert.Equal("checkpoint 'robot/learner-latest.ckpt': the batch in progress (PendingBatch section) is not resumed: malformed: the PendingBatch "
                + "section ends early; the learner starts an empty batch", state.PendingNote);
            // Reading what the file holds (a pre-trained policy's shapes) does not fail on it either.
            var info = CheckpointFile.ReadInfo("robot/learner-latest.ckpt", CheckpointBytes.WithSection(bytes, PendingSection, body[..keep]));
            Assert.Equal(keep >= 23 ? Filled : 0, info.PendingTransitions);
            Assert.Equal(Obs, info.PolicyObservationSize);
            Assert.Equal(savedPolicy.Parameters.ToArray(), policy.Parameters.ToArray());
        }

        // Bytes after the end, a count beyond the batch, an episode-end flag that is neither bit, NaN in a reward.
        var cases = new List<(byte[] Body, string Reason)>
        {
            ([.. body, 0], "malformed: 1 unexpected bytes at the end of the PendingBatch section"),
        };
        byte[] count = body.ToArray();
        BinaryPrimitives.WriteInt32LittleEndian(count.AsSpan(19), Steps + 1);
        cases.Add((count, $"malformed: it announces {Steps + 1} transitions of a {Steps}-step batch of {Obs} → {Act}"));
        // observations, actions (length-prefixed), log-probs, values, rewards, bootstraps, then the flags' length.
        int flagsAt = 27 + 4 * Filled * Obs + 4 + 4 * Filled * Act + 4 * (4 + 4 * Filled) + 4;
        byte[] flag = body.ToArray();
        Assert.Equal(1, flag[flagsAt + 3]); // step 3 terminated: the layout is as counted
        flag[flagsAt + 3] = 4;
        cases.Add((flag, "malformed: episode-end flags 4"));
        byte[] nan = body.ToArray();
        int rewardsAt = 27 + 4 * Filled * Obs + 4 + 4 * Filled * Act + 2 * (4 + 4 * Filled) + 4;
        BinaryPrimitives.WriteSingleLittleEndian(nan.AsSpan(rewardsAt + 4 * 2), float.NaN);
        cases.Add((nan, "pending rewards: value 2 is not finite"));
        byte[] closed = body.ToArray();
        closed[flagsAt + Filled - 1] = 2; // the last transition cut, yet the batch says its episode goes on
        cases.Add((closed, "malformed: the last transition's episode ended, yet the batch is marked open"));
        foreach (var (broken, reason) in cases)
        {
            var (pending, policy, state) = Target();
            CheckpointFile.Deserialize("x.ckpt", CheckpointBytes.WithSection(bytes, PendingSection, broken), state);
            AssertUntouched(pending);
            Assert.Equal($"checkpoint 'x.ckpt': the batch in progress (PendingBatch section) is not resumed: {reason}; the learner starts an empty batch", state.PendingNote);
            Assert.Equal(savedPolicy.Parameters.ToArray(), policy.Parameters.ToArray());
        }

        static (PendingBatch, GaussianPolicy, TrainingState) Target()
        {
            var pending = new PendingBatch("ppo", new RolloutBuffer(Steps, 1, Obs, Act), new BatchReplay(2, Steps, Obs, Act), new float[Obs]);
            pending.Rollout.Observations.Fill(-5); // a load that copied part of the batch would leave other numbers here
            var policy = new GaussianPolicy(Obs, Act, [4], 1, 77);
            return (pending, policy, new TrainingState { Policy = policy, Pending = pending });
        }

        static void AssertUntouched(PendingBatch pending)
        {
            Assert.Equal(0, pending.Count);
            Assert.All(pending.Rollout.Observations.ToArray(), x => Assert.Equal(-5f, x));
            Assert.All(pending.Replay!.Collecting(Steps).Observations.ToArray(), x => Assert.Equal(0f, x));
            Assert.All(pending.NextObservation, x => Assert.Equal(0f, x));
        }
    }

    [Fact]
    public void A_checkpoint_without_the_section_loads_with_an_empty_batch_and_no_note_and_an_empty_batch_writes_none()
    {
        var savedPolicy = new GaussianPolicy(Obs, Act, [4], 1, 5);
        byte[] bytes = CheckpointBytes.Without(CheckpointFile.Serialize(State(Filled11(replay: false), savedPolicy)), PendingSection);
        var pending = Filled11(replay: false); // a batch already in the target: the older file says none is pending
        var policy = new GaussianPolicy(Obs, Act, [4], 1, 77);
        var state = new TrainingState { Policy = policy, Pending = pending };
        CheckpointFile.Deserialize("old.ckpt", bytes, state);
        Assert.Equal(0, pending.Count);
        Assert.False(pending.Open);
        Assert.Null(state.PendingNote);
        Assert.Equal(savedPolicy.Parameters.ToArray(), policy.Parameters.ToArray());
        Assert.Equal(0, CheckpointFile.ReadInfo("old.ckpt", bytes).PendingTransitions);

        var empty = Filled11(replay: false);
        empty.Count = 0;
        empty.Open = false;
        Assert.Throws<ArgumentException>(() => CheckpointBytes.Find(CheckpointFile.Serialize(State(empty)), PendingSection));
    }
}
