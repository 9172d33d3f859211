using System.Buffers.Binary;
using System.IO.Hashing;
using RobotPG.Learning.Checkpoints;
using RobotPG.Learning.Networks;
using RobotPG.Learning.Normalization;
using RobotPG.Learning.Optimization;
using RobotPG.Numerics;
using Xunit;

namespace RobotPG.Learning.Tests.Checkpoints;

public sealed class CheckpointFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rpg-ckpt-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_best_policy_file_keeps_its_evaluation_return_and_a_non_finite_one_is_refused()
    {
        string path = Path.Combine(_dir, "best.ckpt");
        var best = MakeState(3);
        best.EvaluationReturn = 412.25;
        CheckpointFile.Save(path, best);
        var loaded = MakeState(4);
        CheckpointFile.Load(path, loaded);
        Assert.Equal(412.25, loaded.EvaluationReturn);

        // A file without it (every other checkpoint, and best files of older builds) says none.
        CheckpointFile.Save(path, MakeState(3));
        var plain = MakeState(4);
        CheckpointFile.Load(path, plain);
        Assert.Null(plain.EvaluationReturn);

        best.EvaluationReturn = double.NaN;
        CheckpointFile.Save(path, best);
        var e = Assert.Throws<CheckpointException>(() => CheckpointFile.Load(path, MakeState(4)));
        Assert.Contains("evaluation return is NaN", e.Message);
    }

    private static TrainingState MakeState(ulong seed, int[]? policyHidden = null)
    {
        var policy = new GaussianPolicy(5, 2, policyHidden ?? [8, 6], 4, seed);
        var value = new ValueNetwork(5, [7], 4, seed + 1);
        var prng = new Prng(seed + 2);
        policy.LogStd[1] = -0.7f;
        var normalizer = new RunningMeanStd(5);
        var batch = new float[20 * 5];
        for (int i = 0; i < batch.Length; i++) batch[i] = (float)(3 * prng.NextGaussian() + 1);
        normalizer.Update(batch, 20);
        var scaler = new RewardScaler(0.99);
        for (int t = 0; t < 10; t++) scaler.Scale((float)prng.NextGaussian(), t == 5);
        var adam = new Adam(policy.ParameterCount + value.ParameterCount, 3e-4f, epsilon: 1e-5f);
        var grads = new float[adam.ParameterCount];
        for (int i = 0; i < grads.Length; i++) grads[i] = (float)prng.NextGaussian();
        var scratch = new float[adam.ParameterCount];
        adam.Step(scratch, grads);
        adam.Step(scratch, grads);
        adam.LearningRate = 1e-4f;
        var valueAdam = new Adam(value.ParameterCount, 1e-3f);
        valueAdam.Step(value.Parameters, grads.AsSpan(0, value.ParameterCount));
        return new TrainingState
        {
            Policy = policy,
            Value = value,
            ObservationNormalizer = normalizer,
            RewardScaler = scaler,
            Optimizer = adam,
            ValueOptimizer = valueAdam,
            Tag = "cartpole · rail-bot-2",
            StepCount = 123456,
            EpisodeCount = 789,
            UpdateCount = 42,
        };
    }

    private string Saved(out TrainingState state)
    {
        state = MakeState(1);
        string path = Path.Combine(_dir, "agent.ckpt");
        CheckpointFile.Save(path, state);
        return path;
    }

    [Fact]
    public void Round_trip_restores_every_section()
    {
        string path = Saved(out TrainingState saved);
        TrainingState loaded = MakeState(77); // different θ, statistics and optimiser state
        Assert.False(saved.Policy!.Parameters.SequenceEqual(loaded.Policy!.Parameters));
        CheckpointFile.Load(path, loaded);

        Assert.True(saved.Policy.Parameters.SequenceEqual(loaded.Policy.Parameters));
        Assert.True(saved.Value!.Parameters.SequenceEqual(loaded.Value!.Parameters));
        Assert.True(saved.ObservationNormalizer!.Mean.SequenceEqual(loaded.ObservationNormalizer!.Mean));
        Assert.True(saved.ObservationNormalizer.Variance.SequenceEqual(loaded.ObservationNormalizer.Variance));
        Assert.Equal(saved.ObservationNormalizer.Count, loaded.ObservationNormalizer.Count);
        Assert.Equal(saved.RewardScaler!.DiscountedReturn, loaded.RewardScaler!.DiscountedReturn);
        Assert.Equal(saved.RewardScaler.ReturnStatistics.Variance[0], loaded.RewardScaler.ReturnStatistics.Variance[0]);
        Assert.Equal(saved.RewardScaler.ReturnStatistics.Count, loaded.RewardScaler.ReturnStatistics.Count);
        Assert.True(saved.Optimizer!.FirstMoment.SequenceEqual(loaded.Optimizer!.FirstMoment));
        Assert.True(saved.Optimizer.SecondMoment.SequenceEqual(loaded.Optimizer.SecondMoment));
        Assert.Equal(2, loaded.Optimizer.StepCount);
        Assert.Equal(1e-4f, loaded.Optimizer.LearningRate);
        Assert.True(saved.ValueOptimizer!.FirstMoment.SequenceEqual(loaded.ValueOptimizer!.FirstMoment));
        Assert.Equal(1, loaded.ValueOptimizer.StepCount);
        Assert.Equal("cartpole · rail-bot-2", loaded.Tag);
        Assert.Equal(123456, loaded.StepCount);
        Assert.Equal(789, loaded.EpisodeCount);
        Assert.Equal(42, loaded.UpdateCount);

        // The restored policy computes what the saved one computes.
        float[] obs = [0.1f, -0.2f, 0.3f, 0.4f, -0.5f];
        var a = new float[2];
        var b = new float[2];
        saved.Policy.Mean(obs, a);
        loaded.Policy.Mean(obs, b);
        Assert.Equal(a, b);

        CheckpointInfo info = CheckpointFile.ReadInfo(path);
        Assert.Equal(5, info.PolicyObservationSize);
        Assert.Equal(2, info.PolicyActionSize);
        Assert.Equal(new[] { 8, 6 }, info.PolicyHiddenSizes);
        Assert.Equal(new[] { 7 }, info.ValueHiddenSizes);
        Assert.Equal(5, info.ObservationNormalizerSize);
        Assert.Equal("cartpole · rail-bot-2", info.Tag);
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp"));
    }

    [Fact]
    public void Partial_load_takes_only_the_requested_sections()
    {
        string path = Saved(out TrainingState saved);
        var policy = new GaussianPolicy(5, 2, [8, 6], 1, 5);
        CheckpointFile.Load(path, new TrainingState { Policy = policy });
        Assert.True(saved.Policy!.Parameters.SequenceEqual(policy.Parameters));
    }

    [Fact]
    public void Save_replaces_an_existing_checkpoint()
    {
        string path = Saved(out _);
        TrainingState second = MakeState(9);
        CheckpointFile.Save(path, second);
        TrainingState loaded = MakeState(10);
        CheckpointFile.Load(path, loaded);
        Assert.True(second.Policy!.Parameters.SequenceEqual(loaded.Policy!.Parameters));
    }

    private static CheckpointException Refused(string path, TrainingState into)
    {
        float[] before = into.Policy!.Parameters.ToArray();
        var e = Assert.Throws<CheckpointException>(() => CheckpointFile.Load(path, into));
        Assert.Contains(path, e.Message);
        Assert.Equal(path, e.FilePath);
        Assert.True(before.AsSpan().SequenceEqual(into.Policy.Parameters), "a refused checkpoint must leave the objects untouched");
        return e;
    }

    [Fact]
    public void Truncated_files_are_refused()
    {
        string path = Saved(out _);
        byte[] bytes = File.ReadAllBytes(path);
        foreach (int length in new[] { 0, 7, 19, bytes.Length / 2, bytes.Length - 1 })
        {
            string cut = Path.Combine(_dir, $"cut{length}.ckpt");
            File.WriteAllBytes(cut, bytes[..length]);
            Assert.Contains("truncated", Refused(cut, MakeState(2)).Reason);
        }
    }

    [Fact]
    public void Every_single_bit_flip_is_refused()
    {
        string path = Saved(out _);
        byte[] bytes = File.ReadAllBytes(path);
        string flipped = Path.Combine(_dir, "flipped.ckpt");
        // Every byte position, a different bit each time: header, every section and the CRC itself.
        for (int i = 0; i < bytes.Length; i++)
        {
            byte[] copy = (byte[])bytes.Clone();
            copy[i] ^= (byte)(1 << (i % 8));
            File.WriteAllBytes(flipped, copy);
            Assert.Throws<CheckpointException>(() => CheckpointFile.Load(flipped, MakeState(3)));
        }
        // A flip in the payload is reported as corruption.
        byte[] payloadFlip = (byte[])bytes.Clone();
        payloadFlip[bytes.Length / 2] ^= 0x10;
        File.WriteAllBytes(flipped, payloadFlip);
        Assert.Contains("CRC", Refused(flipped, MakeState(3)).Reason);
    }

    [Fact]
    public void Wrong_magic_and_wrong_version_are_refused()
    {
        string path = Saved(out _);
        byte[] bytes = File.ReadAllBytes(path);

        byte[] magic = (byte[])bytes.Clone();
        magic[0] = (byte)'X';
        string wrongMagic = Path.Combine(_dir, "magic.ckpt");
        File.WriteAllBytes(wrongMagic, magic);
        Assert.Contains("magic", Refused(wrongMagic, MakeState(4)).Reason);

        // A future version with a valid CRC: the version check alone must refuse it.
        byte[] version = (byte[])bytes.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(version.AsSpan(8), 2);
        BinaryPrimitives.WriteUInt32LittleEndian(version.AsSpan(version.Length - 4), Crc32.HashToUInt32(version.AsSpan(0, version.Length - 4)));
        string wrongVersion = Path.Combine(_dir, "version.ckpt");
        File.WriteAllBytes(wrongVersion, version);
        Assert.Contains("version 2", Refused(wrongVersion, MakeState(4)).Reason);
    }

    [Fact]
    public void Mismatched_sizes_are_refused_by_name()
    {
        string path = Saved(out _);
        var e = Refused(path, MakeState(5, policyHidden: [8, 5]));
        Assert.Contains("5→8→6→2", e.Reason);
        Assert.Contains("5→8→5→2", e.Reason);

        var otherObs = new GaussianPolicy(4, 2, [8, 6], 1, 1);
        var e2 = Assert.Throws<CheckpointException>(() => CheckpointFile.Load(path, new TrainingState { Policy = otherObs }));
        Assert.Contains("do not match", e2.Reason);

        var state = MakeState(6);
        state.ObservationNormalizer = new RunningMeanStd(4);
        Assert.Contains("observation normaliser", Refused(path, state).Reason);

        state = MakeState(6);
        state.Optimizer = new Adam(10, 1e-3f);
        Assert.Contains("optimiser", Refused(path, state).Reason);
    }

    [Fact]
    public void Missing_sections_and_files_are_refused()
    {
        string path = Path.Combine(_dir, "policy-only.ckpt");
        var policy = new GaussianPolicy(5, 2, [8, 6], 1, 5);
        CheckpointFile.Save(path, new TrainingState { Policy = policy });
        Assert.Contains("no value network", Refused(path, MakeState(7)).Reason);
        Assert.Contains("not found", Refused(Path.Combine(_dir, "absent.ckpt"), MakeState(7)).Reason);
    }
}
