using RobotPG.Controller.Learning;
using RobotPG.Learning.Algorithms;
using RobotPG.Messaging;
using RobotPG.Sim.Fleet;
using Xunit;

namespace RobotPG.Sim.Tests.Fleet;

/// <summary>A fleet learner restarted from its checkpoint goes on exactly as one that was never stopped.</summary>
public class FleetLearnerResumeTests
{
    private static FleetLearnerCore Core(string? checkpointDirectory) => new(
        // Two minibatches and two epochs: the update depends on the minibatch order, i.e. on the shuffle state.
        new Ppo(new PpoHyperparameters
        {
            StepsPerEnvironment = 32, Minibatches = 2, Epochs = 2, PolicyHiddenSizes = [8], ValueHiddenSizes = [8], OffPolicyData = true,
        }, new AlgorithmContext(2, 1, "fleet-resume", 11)),
        new CopySigner(), maxStaleVersions: 4, maxKl: 10.0,
        checkpointDirectory is null ? null : new LearnerCheckpoints(checkpointDirectory), checkpointEveryUpdates: 1000);

    /// <summary>Batch k: 32 transitions of a made-up 2-D task, acted by policy version <paramref name="version"/>.</summary>
    private static byte[] Batch(int k, ulong version)
    {
        var b = new RolloutBatch(2, 1, 32) { PolicyVersion = version };
        for (int i = 0; i < 32; i++)
        {
            float x = MathF.Sin(0.37f * (32 * k + i)), y = MathF.Cos(0.11f * (32 * k + i));
            b.TryAdd([x, y], [0.5f * x - 0.2f * y], -0.9f - 0.01f * i, 1f - x * x, terminated: i % 13 == 12, truncated: false);
        }
        b.SetNextObservation([0.1f * k, -0.2f]);
        var bytes = new byte[b.EncodedLengthNow];
        b.Encode(bytes);
        return bytes;
    }

    [Fact]
    public void A_fleet_learner_resumed_from_its_checkpoint_updates_bit_equal_to_one_that_ran_through()
    {
        string dir = Path.Combine(Path.GetTempPath(), "robotpg-fleet-resume-" + Guid.NewGuid().ToString("N"));
        try
        {
            var through = Core(null);
            var stopped = Core(dir);
            for (int k = 0; k < 3; k++)
            {
                Assert.NotNull(through.Consume(Batch(k, through.Version)));
                Assert.NotNull(stopped.Consume(Batch(k, stopped.Version)));
            }
            stopped.SaveCheckpoint();

            var resumed = Core(dir);
            Assert.NotNull(resumed.Resume(out string? warning));
            Assert.Null(warning);
            Assert.Equal(through.Version, resumed.Version);
            for (int k = 3; k < 5; k++)
            {
                Assert.NotNull(through.Consume(Batch(k, through.Version)));
                Assert.NotNull(resumed.Consume(Batch(k, resumed.Version)));
            }
            Assert.Equal(through.Version, resumed.Version);
            Assert.True(through.Agent.Policy.Parameters.SequenceEqual(resumed.Agent.Policy.Parameters), "the resumed policy differs");
            Assert.True(through.Agent.Value.Parameters.SequenceEqual(resumed.Agent.Value.Parameters), "the resumed critic differs");
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    private sealed class CopySigner : IFleetPolicySigner
    {
        public byte[] Sign(ReadOnlyMemory<byte> body) => body.ToArray();
    }
}
