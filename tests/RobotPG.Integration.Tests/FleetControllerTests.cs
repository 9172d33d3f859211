using System.Buffers;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using RobotPG.Controller.Configuration;
using RobotPG.Controller.Fleet;
using RobotPG.Controller.Hosting;
using RobotPG.Controller.Learning;
using RobotPG.Learning.Networks;
using RobotPG.Messaging;
using RobotPG.Messaging.Security;
using RobotPG.Sim.Fleet;
using RobotPG.Sim.Serving;
using MQTTnet.Protocol;
using Xunit;
using Xunit.Abstractions;

namespace RobotPG.Integration.Tests;

/// <summary>
/// The controller's own <c>learning.mode: fleet</c> path, end to end: a real <see cref="ControllerHost"/> drives a
/// lockstep simulated balance bot (the sim's embedded broker) and talks to a fleet learner on mosquitto. A spy
/// subscribed to <c>robotpg/+/rollout</c> sees every batch the robot publishes; every broadcast policy is kept by
/// version, so each shipped behaviour log-prob is recomputed from the parameters of the version the batch names.
/// </summary>
public sealed class FleetControllerTests(ITestOutputHelper log)
{
    private const string Fleet = "ci";
    private const string RobotId = "balance-bot";
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(90);

    /// <summary>A policy as the spy decoded it from a broadcast (or the robot's own seeded start, version 0).</summary>
    private sealed record KnownPolicy(GaussianPolicy Network, double[]? Mean, double[]? Variance);

    private sealed class Spy(int observationSize, int actionSize, int[] hidden, int parameterCount, IFleetPolicyVerifier verifier)
    {
        public readonly List<(string Topic, byte[] Payload)> Batches = [];
        public readonly Dictionary<ulong, KnownPolicy> Policies = [];
        public readonly List<(string Topic, JsonElement Json)> Progress = [];

        public void OnRollout(string topic, in ReadOnlySequence<byte> payload)
        {
            lock (Batches) Batches.Add((topic, payload.ToArray()));
        }

        public void OnPolicy(string topic, in ReadOnlySequence<byte> payload)
        {
            // Only what the operator signed is a version the robot may run; the spy keeps those.
            if (!verifier.TryVerify(payload.ToArray(), out var body, out _)) return;
            var message = new FleetPolicyMessage(observationSize, actionSize, hidden, parameterCount);
            Assert.Equal(FrameStatus.Ok, message.TryDecode(body.Span, out _));
            var network = new GaussianPolicy(observationSize, actionSize, hidden, maxBatch: 1, seed: 1);
            message.Parameters.CopyTo(network.Parameters);
            lock (Policies)
                Policies[message.Version] = new KnownPolicy(network, message.HasNormalizer ? message.NormalizerMean.ToArray() : null,
                    message.HasNormalizer ? message.NormalizerVariance.ToArray() : null);
        }

        public void OnProgress(string topic, in ReadOnlySequence<byte> payload)
        {
            var json = JsonDocument.Parse(payload.ToArray()).RootElement.Clone();
            lock (Progress) Progress.Add((topic, json));
        }

        public int BatchCount
        {
            get
            {
                lock (Batches) return Batches.Count;
            }
        }
    }

    [Fact]
    public async Task A_controller_in_fleet_mode_ships_tagged_batches_swaps_signed_policies_refuses_forged_ones_and_outlives_its_learner()
    {
        string work = Directory.CreateTempSubdirectory("robotpg-fleet-host-").FullName;
        await using var mosquitto = await MosquittoBroker.StartAsync(TimeSpan.FromSeconds(20));
        await using var sim = await SimulationServer.StartAsync(new SimulationServerOptions
        {
            Robot = RobotId, Seed = 5, Clock = SimClockMode.Lockstep, EmbeddedPort = 0, PhysicsDirectory = OnDeviceSetup.PhysicsDirectory,
            ControlRateHz = OnDeviceSetup.ControlRateHz, PublishTruth = false,
        });
        string fleetBroker = $"mqtt://{mosquitto.Host}:{mosquitto.Port}";
        string keyDir = Path.Combine(work, "keys");
        using var operatorKey = OperatorKey.Generate();
        operatorKey.Save(keyDir);
        using var keys = SignatureVerifier.FromFiles([Path.Combine(keyDir, OperatorKey.PublicKeyFileName)]);
        var verifier = new OperatorFleetPolicyVerifier(keys, Fleet);

        var json = OnDeviceSetup.ConfigJson("ppo", work, sim.BrokerPort);
        json["learning"] = new JsonObject
        {
            ["algorithm"] = "ppo", ["mode"] = "fleet", ["batchSteps"] = 256, ["evaluationEpisodes"] = 0, ["resetHoldSeconds"] = 0,
            ["fleet"] = new JsonObject { ["broker"] = fleetBroker, ["name"] = Fleet, ["operatorPublicKey"] = "keys/" + OperatorKey.PublicKeyFileName, ["batchTransitions"] = 50 },
        };
        var config = OnDeviceSetup.Parse(json, work);
        var task = RobotPG.Controller.Tasks.ControlTasks.Create(config);
        int n = task.ObservationSize, m = task.ActionSize;
        int[] hidden = config.Policy.HiddenSizes;
        // The robot's own starting policy (version 0): the config's seeded initialisation, identity normaliser.
        var start = new GaussianPolicy(n, m, hidden, maxBatch: 1, seed: config.Policy.Seed);
        var spy = new Spy(n, m, hidden, start.ParameterCount, verifier);
        spy.Policies[0] = new KnownPolicy(start, null, null);

        await using var spyClient = new ResilientMqttClient(new MqttEndpoint(mosquitto.Host, mosquitto.Port, "fleet-spy-" + Guid.NewGuid().ToString("N")[..8]),
            new ResilientMqttClientOptions { MaxPayloadLength = 1 << 20 });
        await spyClient.SubscribeAsync("robotpg/+/rollout", spy.OnRollout, MqttQualityOfServiceLevel.AtLeastOnce);
        await spyClient.SubscribeAsync(Topics.FleetPolicy(Fleet), spy.OnPolicy, MqttQualityOfServiceLevel.AtLeastOnce);
        await spyClient.SubscribeAsync("robotpg/+/telemetry/" + TelemetryKinds.FleetLearner, spy.OnProgress);
        spyClient.Start();
        Assert.True(await spyClient.WaitConnectedAsync(TimeSpan.FromSeconds(10)));

        // The learner: the same seeded initialisation as the robot, small updates so that versions come quickly.
        var options = new LearningOptions { Algorithm = "ppo", BatchSteps = 256, ValueHiddenSizes = hidden, Seed = config.Policy.Seed };
        var core = new FleetLearnerCore(OnDeviceAlgorithms.Create(options, n, m, hidden, RobotId, offPolicyData: true), new OperatorFleetPolicySigner(operatorKey, Fleet),
            maxStaleVersions: 4, options.MaxKl);
        var learner = new FleetLearner(core, verifier, new MqttEndpoint(mosquitto.Host, mosquitto.Port, "robotpg-learner-ci"), Fleet, learnerId: "learner-ci");
        await learner.StartAsync(TimeSpan.FromSeconds(10));
        bool learnerKilled = false;

        ControllerHost? host = null;
        try
        {
            host = ControllerHost.Start(config, work, null, durationSeconds: null, TextWriter.Null);
            var fleet = host.FleetLearning!;
            var receiver = fleet.Receiver;

            // 1. The learner's updates reach the robot through its guards: version 1 (the learner's start), then two updates.
            await Until(() => receiver.Version >= 3, "the robot never ran fleet version 3");
            Assert.Equal(0, receiver.Count(FleetPolicyVerdict.BadSignature));

            // 2. Learner telemetry: version = 1 + accepted updates, under the learner's own id.
            await Until(() => ProgressWithVersion(spy, 3) is not null, "no fleet-learner telemetry at version 3");
            var (progressTopic, progress) = ProgressWithVersion(spy, 3)!.Value;
            Assert.Equal("robotpg/learner-ci/telemetry/fleet-learner", progressTopic);
            Assert.Equal("learner-ci", progress.GetProperty("learner").GetString());
            Assert.Equal(Fleet, progress.GetProperty("fleet").GetString());
            Assert.Equal(1 + progress.GetProperty("updates").GetInt64() - progress.GetProperty("rejectedUpdates").GetInt64(),
                (long)progress.GetProperty("policyVersion").GetUInt64());
            Assert.True(progress.GetProperty("batchesConsumed").GetInt64() * 50 >= 2 * 256, progress.ToString());
            Assert.True(progress.GetProperty("lastUpdateMs").GetDouble() > 0);

            // 3. The learner dies; the robot keeps its last good policy and keeps running and publishing.
            await learner.KillAsync();
            learnerKilled = true;
            ulong lastGood = receiver.Version;
            var runningPolicy = host.Loop.Policies.Current;
            long stepsAtKill = host.Loop.StepCount;
            int batchesAtKill = spy.BatchCount;
            await Until(() => host.Loop.StepCount >= stepsAtKill + 1000, "the loop stopped after the learner died");
            Assert.Equal(lastGood, receiver.Version);
            Assert.Same(runningPolicy, host.Loop.Policies.Current);
            await Until(() => spy.BatchCount >= batchesAtKill + 10, "the robot stopped publishing after the learner died");

            // 4. Forged broadcasts with a higher version are refused: another key, no signature, this key for another fleet.
            var known = spy.Policies[lastGood];
            var message = new FleetPolicyMessage(n, m, hidden, start.ParameterCount) { Version = lastGood + 10 };
            known.Network.Parameters.CopyTo(message.Parameters);
            using (var stranger = OperatorKey.Generate())
                await Refused(spyClient, new OperatorFleetPolicySigner(stranger, Fleet).Sign(message.Encode()), receiver, 1);
            await Refused(spyClient, message.Encode(), receiver, 2);
            await Refused(spyClient, new OperatorFleetPolicySigner(operatorKey, "other-fleet").Sign(message.Encode()), receiver, 3);
            Assert.Equal(lastGood, receiver.Version);
            Assert.Same(runningPolicy, host.Loop.Policies.Current);

            // 5. A properly signed newer one still goes through the guards afterwards.
            message.Version = lastGood + 1;
            message.Parameters[0] += 1e-3f;
            spyClient.TryPublish(Topics.FleetPolicy(Fleet), new OperatorFleetPolicySigner(operatorKey, Fleet).Sign(message.Encode()), MqttQualityOfServiceLevel.AtLeastOnce, retain: true);
            await Until(() => receiver.Version == lastGood + 1, "a signed newer policy was not taken");
            await Until(() => !ReferenceEquals(host.Loop.Policies.Current, runningPolicy), "the loop did not swap to the accepted policy");
            long stepsAtSwap = host.Loop.StepCount;
            await Until(() => host.Loop.StepCount >= stepsAtSwap + 500, "the loop stopped after the swap");

            host.RequestStop();
            host.WaitForExit();
            long published = fleet.Publisher.BatchesPublished;
            Assert.Equal(0, fleet.Publisher.BatchesRefused);
            await Until(() => spy.BatchCount >= published, $"the spy got {spy.BatchCount} of {published} batches");

            // 6. Every batch: this robot's topic, sequence 1..N without a gap, a version the robot was offered, and every
            //    behaviour log-prob exactly that version's (the tag is the policy the loop ran at that step, even when it
            //    took a broadcast up a few steps after it was offered).
            var batch = new RolloutBatch(n, m, 50);
            ulong previousTag = 0;
            long transitions = 0, distinguishing = 0, checkedNewer = 0;
            var versions = new SortedSet<ulong>();
            List<(string Topic, byte[] Payload)> batches;
            lock (spy.Batches) batches = [.. spy.Batches];
            Assert.Equal(published, batches.Count);
            for (int b = 0; b < batches.Count; b++)
            {
                Assert.Equal($"robotpg/{RobotId}/rollout", batches[b].Topic);
                Assert.Equal(FrameStatus.Ok, batch.TryDecode(batches[b].Payload));
                Assert.Equal((ulong)(b + 1), batch.Sequence);
                ulong tag = batch.PolicyVersion;
                Assert.True(tag >= previousTag, $"batch {b + 1}: version {tag} after {previousTag}");
                Assert.True(spy.Policies.ContainsKey(tag), $"batch {b + 1} names version {tag}, never broadcast");
                versions.Add(tag);
                ulong predecessor = spy.Policies.Keys.Where(v => v < tag).DefaultIfEmpty(tag).Max();
                for (int i = 0; i < batch.Count; i++)
                {
                    transitions++;
                    float shipped = batch.LogProb(i);
                    double underTag = LogProb(spy.Policies[tag], batch.Observation(i), batch.Action(i));
                    double underPredecessor = LogProb(spy.Policies[predecessor], batch.Observation(i), batch.Action(i));
                    if (tag >= 2)
                    {
                        checkedNewer++;
                        if (!Close(underTag, underPredecessor)) distinguishing++;
                    }
                    Assert.True(Close(underTag, shipped),
                        $"batch {b + 1} (v{tag}) transition {i}: shipped log-prob {shipped}, v{tag} gives {underTag}, v{predecessor} gives {underPredecessor}");
                }
                previousTag = tag;
            }
            log.WriteLine($"{batches.Count} batches, {transitions} transitions, versions {string.Join(",", versions)}; " +
                $"{distinguishing}/{checkedNewer} log-probs tell a version from its predecessor");
            // The robot ran something before the learner's last version, that version, then the operator's newer one
            // (broadcasts may supersede each other on the retained topic, so which earlier versions it ran varies).
            Assert.Contains(lastGood, versions);
            Assert.Contains(lastGood + 1, versions);
            Assert.True(versions.Min < lastGood, string.Join(",", versions));
            // The check has teeth: most transitions of learned versions have a log-prob their predecessor would not give.
            Assert.True(distinguishing * 2 > checkedNewer, $"{distinguishing} of {checkedNewer}");
        }
        finally
        {
            host?.Dispose();
            if (!learnerKilled) await learner.KillAsync();
            await learner.DisposeAsync();
            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (IOException)
            {
                // A file still open; the temp cleaner gets it.
            }
        }
    }

    private static (string, JsonElement)? ProgressWithVersion(Spy spy, ulong version)
    {
        lock (spy.Progress)
            foreach (var p in spy.Progress)
                if (p.Json.GetProperty("policyVersion").GetUInt64() >= version) return p;
        return null;
    }

    private static async Task Refused(ResilientMqttClient client, byte[] payload, FleetPolicyReceiver receiver, long expectedBadSignatures)
    {
        Assert.True(client.TryPublish(Topics.FleetPolicy(Fleet), payload, MqttQualityOfServiceLevel.AtLeastOnce, retain: true));
        await Until(() => receiver.Count(FleetPolicyVerdict.BadSignature) >= expectedBadSignatures, "a forged broadcast was not judged");
        Assert.Equal(expectedBadSignatures, receiver.Count(FleetPolicyVerdict.BadSignature));
        Assert.Equal(0, receiver.Count(FleetPolicyVerdict.Malformed));
    }

    /// <summary>log N(a; μ(s), σ) in double: the observation normalised as the robot's normaliser does (identity without statistics).</summary>
    private static double LogProb(KnownPolicy policy, ReadOnlySpan<float> observation, ReadOnlySpan<float> action)
    {
        var normalized = new float[observation.Length];
        for (int j = 0; j < observation.Length; j++)
            normalized[j] = policy.Mean is null ? observation[j] : (float)((observation[j] - policy.Mean[j]) / Math.Sqrt(policy.Variance![j] + 1e-8));
        var mean = new float[action.Length];
        policy.Network.Mean(normalized, mean);
        double sum = 0;
        for (int j = 0; j < action.Length; j++)
        {
            double logStd = policy.Network.LogStd[j];
            double z = (action[j] - mean[j]) / Math.Exp(logStd);
            sum += -0.5 * z * z - logStd - 0.5 * Math.Log(2 * Math.PI);
        }
        return sum;
    }

    /// <summary>float32 network and normaliser on the robot vs the double reference here.</summary>
    private static bool Close(double reference, double value) => Math.Abs(reference - value) <= 2e-4 + 2e-5 * Math.Abs(reference);

    private static async Task Until(Func<bool> condition, string failure)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(deadline.Elapsed < Budget, failure);
            await Task.Delay(20);
        }
    }
}
