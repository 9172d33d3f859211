using System.Buffers.Binary;
using RobotPG.Learning.Checkpoints;
using RobotPG.Learning.Networks;
using RobotPG.Learning.Rollouts;
using RobotPG.Numerics;
using Xunit;

namespace RobotPG.Learning.Tests.Checkpoints;

/// <summary>
/// The checkpoint's replay section (the learner's last K batches, raw, as acted) and minibatch-shuffle section: round
/// trip to the bit, a K change keeps the newest batches, a cut or malformed section is refused by name and changes
/// nothing, a file without them (an older one) loads and leaves them as they were.
/// </summary>
public sealed class ReplayCheckpointTests
{
    private const int Steps = 16, Obs = 3, Act = 2;
    private const uint ReplaySection = CheckpointBytes.ReplaySection, ShuffleSection = CheckpointBytes.ShuffleSection;

    /// <summary>A replay of K batches with <paramref name="committed"/> committed: batch b's values all carry b, cut steps and a batch that ended.</summary>
    private static BatchReplay Replay(int k, int committed, int steps = Steps)
    {
        var replay = new BatchReplay(k, steps, Obs, Act);
        var prng = new Prng(9);
        for (int b = 0; b < committed; b++)
        {
            for (int t = 0; t < steps; t++)
            {
                float[] obs = [b, t, (float)prng.NextGaussian()];
                float[] act = [(float)prng.NextGaussian(), b];
                bool terminated = t == 5, truncated = t == 9 || t == 11 && b == 1;
                float[] final = [100 + b, t, (float)prng.NextGaussian()];
                replay.Record(t, obs, act, (float)(-1 - prng.NextDouble()), (float)prng.NextGaussian(), terminated, truncated, final);
            }
            replay.Commit(b == 1 ? default : [200 + b, 0, (float)prng.NextGaussian()]);
        }
        return replay;
    }

    private static TrainingState State(BatchReplay? replay, ulong[]? shuffle = null) =>
        new() { Policy = new GaussianPolicy(Obs, Act, [4], 1, 5), Replay = replay, MinibatchShuffle = shuffle };

    private static void AssertSameBatch(KeptBatch expected, KeptBatch actual, bool hasFinal = true)
    {
        Assert.Equal(expected.Observations.ToArray(), actual.Observations.ToArray());
        Assert.Equal(expected.Actions.ToArray(), actual.Actions.ToArray());
        Assert.Equal(expected.LogProbs.ToArray(), actual.LogProbs.ToArray());
        Assert.Equal(expected.Rewards.ToArray(), actual.Rewards.ToArray());
        Assert.Equal(expected.Terminated.ToArray(), actual.Terminated.ToArray());
        Assert.Equal(expected.Truncated.ToArray(), actual.Truncated.ToArray());
        Assert.Equal(expected.NextObservation.ToArray(), actual.NextObservation.ToArray());
        if (!hasFinal) return;
        // The observation after a step matters only where the step was cut (truncated, not terminated).
        for (int t = 0; t < expected.Terminated.Length; t++)
            if (expected.Truncated[t] && !expected.Terminated[t])
                Assert.Equal(expected.FinalObservations.Slice(t * Obs, Obs).ToArray(), actual.FinalObservations.Slice(t * Obs, Obs).ToArray());
    }

    [Fact]
    public void The_replay_round_trips_to_the_bit_and_its_section_is_laid_out_as_documented()
    {
        var saved = Replay(3, 3);
        byte[] bytes = CheckpointFile.Serialize(State(saved));
        byte[] body = CheckpointBytes.Section(bytes, ReplaySection).ToArray();
        // count | steps | obs | act, then the oldest batch's observations: length, then batch 0 step 0 = [0, 0, x].
        Assert.Equal([3, Steps, Obs, Act, Steps * Obs], new[] { 0, 4, 8, 12, 16 }.Select(o => BinaryPrimitives.ReadInt32LittleEndian(body.AsSpan(o))));
        Assert.Equal(0f, BinaryPrimitives.ReadSingleLittleEndian(body[20..]));
        Assert.Equal(0f, BinaryPrimitives.ReadSingleLittleEndian(body[24..]));
        Assert.Equal(saved.Kept(0).Observations[2], BinaryPrimitives.ReadSingleLittleEndian(body[28..]));

        var loaded = new BatchReplay(3, Steps, Obs, Act);
        var state = State(loaded);
        CheckpointFile.Deserialize("mem", bytes, state);
        Assert.Null(state.ReplayNote);
        Assert.Equal(3, loaded.Count);
        for (int j = 0; j < 3; j++) AssertSameBatch(saved.Kept(j), loaded.Kept(j));
        Assert.True(loaded.Kept(1).NextObservation.IsEmpty); // batch 1's last episode ended
        Assert.Equal(3, CheckpointFile.ReadInfo("mem", bytes).ReplayBatches);
        Assert.Equal(Steps, CheckpointFile.ReadInfo("mem", bytes).ReplayBatchSteps);
    }

    [Fact]
    public void A_learner_that_keeps_fewer_batches_loads_the_newest_and_one_that_keeps_more_loads_all()
    {
        var saved = Replay(3, 3);
        byte[] bytes = CheckpointFile.Serialize(State(saved));

        var two = new BatchReplay(2, Steps, Obs, Act);
        var state = State(two);
        CheckpointFile.Deserialize("mem", bytes, state);
        Assert.Equal(2, two.Count);
        AssertSameBatch(saved.Kept(1), two.Kept(0));
        AssertSameBatch(saved.Kept(2), two.Kept(1));
        Assert.Equal("the checkpoint's replay holds 3 batches, this learner keeps 2 (learning.replayBatches): resumed with the newest 2", state.ReplayNote);

        var five = new BatchReplay(5, Steps, Obs, Act);
        state = State(five);
        CheckpointFile.Deserialize("mem", bytes, state);
        Assert.Equal(3, five.Count);
        for (int j = 0; j < 3; j++) AssertSameBatch(saved.Kept(j), five.Kept(j));
        Assert.Null(state.ReplayNote);

        // Batches of another length cannot be replayed: an empty replay, said so, the rest of the checkpoint loads.
        var longer = new BatchReplay(3, 2 * Steps, Obs, Act);
        var policy = new GaussianPolicy(Obs, Act, [4], 1, 77);
        state = new TrainingState { Policy = policy, Replay = longer };
        CheckpointFile.Deserialize("mem", bytes, state);
        Assert.Equal(0, longer.Count);
        Assert.Equal("the checkpoint's replay batches have 16 steps, this learner's 32 (learning.batchSteps): resumed with an empty replay", state.ReplayNote);
        Assert.Equal(State(null).Policy!.Parameters.ToArray(), policy.Parameters.ToArray());
    }

    [Fact]
    public void A_cut_replay_section_is_refused_by_name_and_changes_nothing()
    {
        byte[] bytes = CheckpointFile.Serialize(State(Replay(2, 2)));
        int length = CheckpointBytes.Section(bytes, ReplaySection).Length;
        var target = Replay(2, 1); // holds one batch already: a refused load must leave it
        var before = target.Kept(0).Observations.ToArray();
        var policy = new GaussianPolicy(Obs, Act, [4], 1, 77);
        float[] parameters = policy.Parameters.ToArray();
        foreach (int cut in new[] { 1, 4 * Steps, length - 16 })
        {
            byte[] broken = CheckpointBytes.WithSection(bytes, ReplaySection, CheckpointBytes.Section(bytes, ReplaySection)[..(length - cut)].ToArray());
            var e = Assert.Throws<CheckpointException>(() =>
                CheckpointFile.Deserialize("robot/learner-latest.ckpt", broken, new TrainingState { Policy = policy, Replay = target }));
            Assert.StartsWith("checkpoint 'robot/learner-latest.ckpt': malformed: the Replay section ends early", e.Message);
            Assert.Equal(parameters, policy.Parameters.ToArray());
            Assert.Equal(1, target.Count);
            Assert.Equal(before, target.Kept(0).Observations.ToArray());
        }

        // A count that the bytes cannot hold is refused before anything is allocated for it.
        byte[] huge = CheckpointBytes.Section(bytes, ReplaySection).ToArray();
        BinaryPrimitives.WriteInt32LittleEndian(huge, 1_000_000);
        var h = Assert.Throws<CheckpointException>(() => CheckpointFile.Deserialize("x", CheckpointBytes.WithSection(bytes, ReplaySection, huge), State(target)));
        Assert.Equal("malformed: the Replay section ends early: 1000000 batches of 16 steps need at least 656000000 bytes, " + (huge.Length - 16) + " remain", h.Reason);

        // Episode-end flags other than terminated/truncated bits.
        byte[] flags = CheckpointBytes.Section(bytes, ReplaySection).ToArray();
        int flagsAt = 16 + 4 + 4 * Steps * Obs + 4 + 4 * Steps * Act + 4 + 4 * Steps + 4 + 4 * Steps + 4;
        flags[flagsAt] = 7;
        var f = Assert.Throws<CheckpointException>(() => CheckpointFile.Deserialize("x", CheckpointBytes.WithSection(bytes, ReplaySection, flags), State(target)));
        Assert.Equal("malformed: replay batch 1 of 2 has episode-end flags 7", f.Reason);

        // Transitions of another size are the wrong file, not a replay to drop.
        var e2 = Assert.Throws<CheckpointException>(() => CheckpointFile.Deserialize("x", bytes,
            new TrainingState { Replay = new BatchReplay(2, Steps, Obs + 1, Act) }));
        Assert.Equal("replay transitions are 3 → 2, the learner's 4 → 2", e2.Reason);
        Assert.Equal(1, target.Count);
    }

    [Fact]
    public void A_checkpoint_without_replay_or_shuffle_loads_and_leaves_both_as_they_were()
    {
        // What an older build wrote: no replay, no shuffle section.
        byte[] bytes = CheckpointFile.Serialize(State(null));
        Assert.Throws<ArgumentException>(() => CheckpointBytes.Section(bytes, ReplaySection));
        var target = Replay(2, 1);
        ulong[] words = [1, 2, 3, 4, 0, 0];
        var state = State(target, words);
        CheckpointFile.Deserialize("old", bytes, state);
        Assert.Equal(1, target.Count);
        Assert.False(state.MinibatchShuffleLoaded);
        Assert.Equal(new ulong[] { 1, 2, 3, 4, 0, 0 }, words);
        Assert.Null(state.ReplayNote);
        // And an empty replay writes no section.
        Assert.Throws<ArgumentException>(() => CheckpointBytes.Section(CheckpointFile.Serialize(State(new BatchReplay(2, Steps, Obs, Act))), ReplaySection));
    }

    [Fact]
    public void The_shuffle_generator_continues_where_it_stopped_and_a_dead_state_is_refused()
    {
        var prng = new Prng(42);
        for (int i = 0; i < 5; i++) prng.NextGaussian(); // leaves a spare normal held
        ulong[] words = new ulong[Prng.StateLength];
        prng.WriteState(words);
        Assert.Equal(1UL, words[5]);
        byte[] bytes = CheckpointFile.Serialize(State(null, words));

        ulong[] into = new ulong[Prng.StateLength];
        var state = State(null, into);
        CheckpointFile.Deserialize("mem", bytes, state);
        Assert.True(state.MinibatchShuffleLoaded);
        var resumed = Prng.FromState(into)!.Value;
        for (int i = 0; i < 8; i++) Assert.Equal(prng.NextGaussian(), resumed.NextGaussian());
        for (int i = 0; i < 8; i++) Assert.Equal(prng.NextUInt64(), resumed.NextUInt64());

        // xoshiro's all-zero state draws zeros for ever.
        byte[] dead = new byte[4 + 8 * Prng.StateLength];
        BinaryPrimitives.WriteInt32LittleEndian(dead, Prng.StateLength);
        var e = Assert.Throws<CheckpointException>(() => CheckpointFile.Deserialize("x", CheckpointBytes.WithSection(bytes, ShuffleSection, dead), State(null, into)));
        Assert.Equal("minibatch shuffle state is not a generator's (all zero or a bad spare)", e.Reason);
    }
}
