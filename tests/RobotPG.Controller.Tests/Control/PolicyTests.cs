using RobotPG.Controller.Cli;
using RobotPG.Controller.Control;
using RobotPG.Learning.Checkpoints;
using RobotPG.Learning.Networks;
using RobotPG.Learning.Normalization;
using RobotPG.Numerics;

namespace RobotPG.Controller.Tests.Control;

public sealed class PolicyTests
{
    private static (GaussianPolicy Network, RunningMeanStd Normalizer) Trained(ulong seed)
    {
        var network = new GaussianPolicy(4, 2, [16, 8], maxBatch: 1, seed: seed);
        var normalizer = new RunningMeanStd(4);
        normalizer.Restore([0.1, -0.2, 3.0, 0.0], [4.0, 0.25, 1.0, 9.0], count: 100);
        return (network, normalizer);
    }

    private static string Save(TempDirectory dir, GaussianPolicy network, RunningMeanStd normalizer)
    {
        string path = dir.File("policy.ckpt");
        CheckpointFile.Save(path, new TrainingState { Policy = network, ObservationNormalizer = normalizer, Tag = "balance-bot", StepCount = 1234 });
        return path;
    }

    [Fact]
    public void Zero_policy_outputs_zero_with_log_prob_zero_and_passes_the_observation_through()
    {
        var policy = ControlPolicy.Zero(4, 2);
        var prng = new Prng(1);
        float[] normalized = new float[4], action = [9, 9];
        float logProb = policy.Act([1, 2, 3, 4], normalized, action, ref prng);
        Assert.Equal([0f, 0f], action);
        Assert.Equal(0f, logProb);
        Assert.Equal([1f, 2f, 3f, 4f], normalized);
        Assert.Equal(0UL, policy.Hash);
    }

    [Fact]
    public void Checkpoint_policy_normalises_with_the_saved_statistics_and_acts_with_the_saved_weights()
    {
        using var dir = new TempDirectory();
        var (network, normalizer) = Trained(7);
        string path = Save(dir, network, normalizer);
        var policy = ControlPolicy.Load(path, 4, 2, [16, 8], deterministic: true);

        float[] obs = [1.1f, 0.3f, 2.0f, -3.0f];
        float[] normalized = new float[4], action = new float[2];
        var prng = new Prng(1);
        float logProb = policy.Act(obs, normalized, action, ref prng);

        // Independent reference: (x − μ)/√(σ² + 1e-8) in double, then the original network's mean.
        double[] mean = [0.1, -0.2, 3.0, 0.0], variance = [4.0, 0.25, 1.0, 9.0];
        for (int i = 0; i < 4; i++)
            Assert.Equal((obs[i] - mean[i]) / Math.Sqrt(variance[i] + 1e-8), normalized[i], 1e-5);
        float[] expected = new float[2];
        network.Mean(normalized, expected);
        Assert.Equal(expected, action);
        // At the mean, log N(μ; μ, σ) = Σ −log σⱼ − ½ log 2π.
        double expectedLogProb = 0;
        foreach (float ls in network.LogStd) expectedLogProb += -ls - 0.5 * Math.Log(2 * Math.PI);
        Assert.Equal(expectedLogProb, logProb, 1e-5);
        Assert.NotEqual(0UL, policy.Hash);
    }

    [Fact]
    public void Checkpoint_with_other_hidden_sizes_is_refused_with_the_reason()
    {
        using var dir = new TempDirectory();
        var (network, normalizer) = Trained(7);
        string path = Save(dir, network, normalizer);
        var e = Assert.Throws<CheckpointException>(() => ControlPolicy.Load(path, 4, 2, [64, 64], deterministic: true));
        Assert.Contains("hidden sizes [16, 8] differ from the config's [64, 64]", e.Message);
    }

    [Fact]
    public void Checkpoint_for_another_task_shape_is_refused()
    {
        using var dir = new TempDirectory();
        var (network, normalizer) = Trained(7);
        string path = Save(dir, network, normalizer);
        var e = Assert.Throws<CheckpointException>(() => ControlPolicy.Load(path, 4, 1, [16, 8], deterministic: true));
        Assert.Contains("policy is 4 → 2, the task needs 4 → 1", e.Message);
    }

    [Fact]
    public void Policy_info_prints_sizes_and_counters_and_refuses_a_truncated_file()
    {
        using var dir = new TempDirectory();
        var (network, normalizer) = Trained(7);
        string path = Save(dir, network, normalizer);
        var output = new StringWriter();
        Assert.Equal(0, RobotPgCli.Run(["policy", "info", path], output, new StringWriter()));
        Assert.Contains("tag: balance-bot", output.ToString());
        Assert.Contains("steps: 1234", output.ToString());
        Assert.Contains("policy: 4 → [16, 8] → 2", output.ToString());

        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        var error = new StringWriter();
        Assert.Equal(2, RobotPgCli.Run(["policy", "info", path], new StringWriter(), error));
        Assert.Single(error.ToString().TrimEnd('\n').Split('\n'));
        Assert.Contains(path, error.ToString());
    }

    [Fact]
    public void Policy_exchange_hands_over_at_step_start_and_returns_the_old_one()
    {
        var a = ControlPolicy.Zero(4, 2);
        var b = ControlPolicy.Zero(4, 2);
        var exchange = new PolicyExchange(a);
        Assert.Same(a, exchange.AcquireForStep());
        Assert.Null(exchange.TakeReleased());
        Assert.Null(exchange.Publish(b));
        Assert.Same(a, exchange.Current); // not before the next step starts
        Assert.Same(b, exchange.AcquireForStep());
        Assert.Same(a, exchange.TakeReleased());
        Assert.Null(exchange.TakeReleased());
        Assert.Equal(1, exchange.Swaps);
    }
}
