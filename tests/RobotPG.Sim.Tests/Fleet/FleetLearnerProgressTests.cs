using System.Text.Json;
using RobotPG.Learning.Algorithms;
using RobotPG.Messaging;
using RobotPG.Sim.Fleet;
using Xunit;

namespace RobotPG.Sim.Tests.Fleet;

/// <summary>The fleet learner's telemetry: its topic, JSON names and values against the learner's own counters.</summary>
public class FleetLearnerProgressTests
{
    [Fact]
    public void Progress_json_carries_version_batch_accounting_and_update_latency_under_the_learner_id()
    {
        var h = new PpoHyperparameters { StepsPerEnvironment = 64, Minibatches = 1, Epochs = 1, PolicyHiddenSizes = [4], ValueHiddenSizes = [4], OffPolicyData = true };
        var core = new FleetLearnerCore(new Ppo(h, new AlgorithmContext(1, 1, "bandit", 3)), new NullSigner(), maxStaleVersions: 0, maxKl: 1.0);
        // Never started: the counters are the core's, nothing goes over the network.
        var learner = new FleetLearner(core, new NullVerifier(), new MqttEndpoint("127.0.0.1", 1, "robotpg-learner-7"), "shop", learnerId: "learner-7");
        Assert.Equal("robotpg/learner-7/telemetry/fleet-learner", learner.ProgressTopic);

        var before = Json(learner.Progress());
        Assert.Equal(JsonValueKind.Null, before.GetProperty("lastUpdateMs").ValueKind);
        Assert.Equal(JsonValueKind.Null, before.GetProperty("meanUpdateMs").ValueKind);
        Assert.Equal(1UL, before.GetProperty("policyVersion").GetUInt64());

        Assert.Null(core.Consume(Encoded(version: 1, count: 40)));
        Assert.Null(core.Consume(Encoded(version: 0, count: 5)));      // 0 + 0 < 1: stale, dropped
        var corrupt = Encoded(version: 1, count: 3);
        corrupt[40] ^= 1;
        Assert.Null(core.Consume(corrupt));                              // malformed, dropped
        Assert.NotNull(core.Consume(Encoded(version: 1, count: 40)));   // 80 ≥ 64: one update, accepted → version 2

        var p = Json(learner.Progress());
        Assert.Equal("learner-7", p.GetProperty("learner").GetString());
        Assert.Equal("shop", p.GetProperty("fleet").GetString());
        Assert.Equal(2UL, p.GetProperty("policyVersion").GetUInt64());
        Assert.Equal(2, p.GetProperty("batchesConsumed").GetInt64());
        Assert.Equal(1, p.GetProperty("batchesStale").GetInt64());
        Assert.Equal(1, p.GetProperty("batchesMalformed").GetInt64());
        Assert.Equal(0, p.GetProperty("batchesQueued").GetInt64());
        Assert.Equal(80, p.GetProperty("transitions").GetInt64());
        Assert.Equal(5, p.GetProperty("staleTransitions").GetInt64());
        Assert.Equal(1, p.GetProperty("updates").GetInt64());
        Assert.Equal(0, p.GetProperty("rejectedUpdates").GetInt64());
        Assert.Equal(core.LastUpdateMs, p.GetProperty("lastUpdateMs").GetDouble());
        Assert.Equal(core.LastUpdateMs, p.GetProperty("meanUpdateMs").GetDouble());
        Assert.Equal(core.LastUpdateMs, p.GetProperty("maxUpdateMs").GetDouble());
        Assert.True(core.LastUpdateMs > 0);
    }

    [Fact]
    public void A_learner_id_that_is_not_one_topic_level_is_refused()
    {
        var h = new PpoHyperparameters { StepsPerEnvironment = 8, Minibatches = 1, Epochs = 1, PolicyHiddenSizes = [4], ValueHiddenSizes = [4], OffPolicyData = true };
        var core = new FleetLearnerCore(new Ppo(h, new AlgorithmContext(1, 1, "bandit", 3)), new NullSigner(), maxStaleVersions: 0, maxKl: 1.0);
        var e = Assert.Throws<ArgumentException>(() => new FleetLearner(core, new NullVerifier(), new MqttEndpoint("127.0.0.1", 1, "x"), "shop", learnerId: "a/b"));
        Assert.Contains("'a/b'", e.Message);
    }

    private static JsonElement Json(FleetLearnerProgress progress) =>
        JsonDocument.Parse(JsonSerializer.SerializeToUtf8Bytes(progress, FleetLearnerJsonContext.Default.FleetLearnerProgress)).RootElement.Clone();

    private static byte[] Encoded(ulong version, int count)
    {
        var b = new RolloutBatch(1, 1, count) { PolicyVersion = version };
        for (int i = 0; i < count; i++) b.TryAdd([0.1f * i], [0.2f], -1f, 1f, false, false);
        b.SetNextObservation([1f]);
        var bytes = new byte[b.EncodedLengthNow];
        b.Encode(bytes);
        return bytes;
    }

    private sealed class NullSigner : IFleetPolicySigner
    {
        public byte[] Sign(ReadOnlyMemory<byte> body) => body.ToArray();
    }

    private sealed class NullVerifier : IFleetPolicyVerifier
    {
        public bool TryVerify(ReadOnlyMemory<byte> payload, out ReadOnlyMemory<byte> body, out string? reason)
        {
            body = payload;
            reason = null;
            return true;
        }
    }
}
