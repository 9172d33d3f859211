using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Checkpoints;
using RobotPG.Numerics;
using Xunit;

namespace RobotPG.Learning.Tests.References;

/// <summary>
/// An agent rebuilt from a checkpoint has the saved shapes and numbers (policy, critic of its own hidden sizes,
/// normaliser or none); a checkpoint without a policy is refused by path. Sampling normalises the raw
/// observation with the running statistics first: (s − mean)/√(var + 1e-8), clipped to ±clip.
/// </summary>
public sealed class ActorCriticLoadTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("robotpg-ac-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static ActorCritic Trained(bool normalize, int observations = 2)
    {
        var agent = new ActorCritic(observations, 1, [3], [4, 2], 1, seed: 11, normalizeObservations: normalize);
        if (normalize)
            foreach (float[] s in new[] { new[] { 1f, -2f }, new[] { 3f, 0.5f }, new[] { -0.5f, 4f } }) agent.ObserveStatistics(s.AsSpan(0, observations));
        return agent;
    }

    [Theory]
    [InlineData(true, 2)]
    [InlineData(false, 2)]
    [InlineData(true, 1)] // the smallest observation a policy can have
    public void Load_rebuilds_the_saved_agent(bool normalize, int observations)
    {
        ActorCritic saved = Trained(normalize, observations);
        string path = Path.Combine(_dir, "agent.ckpt");
        CheckpointFile.Save(path, saved.ToTrainingState("t"));

        ActorCritic loaded = ActorCritic.Load(path);
        Assert.Equal(saved.Policy.Parameters.ToArray(), loaded.Policy.Parameters.ToArray());
        Assert.Equal(saved.Value.Parameters.ToArray(), loaded.Value.Parameters.ToArray()); // hidden [4, 2], not the policy's [3]
        if (normalize)
        {
            Assert.Equal(saved.ObservationStatistics!.Mean.ToArray(), loaded.ObservationStatistics!.Mean.ToArray());
            Assert.Equal(saved.ObservationStatistics.Variance.ToArray(), loaded.ObservationStatistics.Variance.ToArray());
        }
        else Assert.Null(loaded.ObservationStatistics);
    }

    [Fact]
    public void A_checkpoint_without_a_critic_gives_a_critic_of_the_policy_shape()
    {
        ActorCritic saved = Trained(true);
        TrainingState state = saved.ToTrainingState("t");
        state.Value = null;
        string path = Path.Combine(_dir, "policy-only.ckpt");
        CheckpointFile.Save(path, state);

        ActorCritic loaded = ActorCritic.Load(path);
        Assert.Equal(saved.Policy.Parameters.ToArray(), loaded.Policy.Parameters.ToArray());
        // Hidden [3] as the policy's: 2·3 + 3 + 3·1 + 1 parameters, freshly initialised.
        Assert.Equal(13, loaded.Value.Parameters.Length);
    }

    [Fact]
    public void A_checkpoint_without_a_policy_is_refused_with_its_path()
    {
        TrainingState state = Trained(false).ToTrainingState("t");
        state.Policy = null;
        string path = Path.Combine(_dir, "critic-only.ckpt");
        CheckpointFile.Save(path, state);
        var e = Assert.Throws<CheckpointException>(() => ActorCritic.Load(path));
        Assert.Equal($"checkpoint '{path}': holds no policy", e.Message);
    }

    [Fact]
    public void Act_samples_at_the_normalised_clipped_observation()
    {
        ActorCritic agent = Trained(true);
        float[] raw = [40f, -1f]; // far above the first component's mean: clipped at +10
        var stats = agent.ObservationStatistics!;
        float[] normalized = new float[2];
        for (int j = 0; j < 2; j++)
            normalized[j] = (float)Math.Clamp((raw[j] - stats.Mean[j]) / Math.Sqrt(stats.Variance[j] + 1e-8), -10, 10);
        Assert.Equal(10f, normalized[0]);

        var prng = new Prng(5);
        var copy = prng;
        float[] action = new float[1], expected = new float[1];
        float logProb = agent.Act(raw, action, ref prng);
        float expectedLogProb = agent.Policy.Sample(normalized, expected, ref copy);
        Assert.Equal(expected[0], action[0], 1e-6f);
        Assert.Equal(expectedLogProb, logProb, 1e-6f);
    }
}
