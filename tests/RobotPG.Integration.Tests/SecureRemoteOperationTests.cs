using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MQTTnet.Protocol;
using RobotPG.Controller.Configuration;
using RobotPG.Controller.Control;
using RobotPG.Controller.Hosting;
using RobotPG.Learning.Checkpoints;
using RobotPG.Learning.Networks;
using RobotPG.Messaging;
using RobotPG.Messaging.Security;
using RobotPG.Sim.Serving;
using Xunit;

namespace RobotPG.Integration.Tests;

/// <summary>
/// The controller and the simulator over a real mosquitto (TLS, mutual TLS, password file, the shipped ACL)
/// and over the embedded broker: signed commands and policies are obeyed, anything else is refused while the
/// robot keeps running, the e-stop gets through a broker restart, the status goes offline when the controller dies.
/// </summary>
[Collection("mosquitto")]
public sealed class SecureRemoteOperationTests
{
    private const string RobotId = "balance-bot";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private static string RepoRoot([CallerFilePath] string here = "")
    {
        var dir = new DirectoryInfo(Path.GetDirectoryName(here)!);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "RobotPG.sln"))) dir = dir.Parent;
        return dir!.FullName;
    }

    /// <summary>The shipped sim config, pointed at <paramref name="broker"/> with the given mqtt section and this operator key.</summary>
    internal static RobotConfig Config(string work, string broker, JsonObject? mqtt, string operatorPublicKey, Action<JsonObject>? edit = null)
    {
        string root = RepoRoot();
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(root, "firmware-config", "balance-bot.sim.json")))!.AsObject();
        config.Remove("$schema");
        config["bus"]!["broker"] = broker;
        config["log"]!["directory"] = Path.Combine(work, "logs");
        // Fallen or not, the robot keeps stepping: this test is about commands, not balance.
        config["task"]!["doneTiltDeg"] = 90;
        config["safety"]!["tiltLimitDeg"] = 90;
        config["telemetry"]!["rateHz"] = 1;
        if (mqtt is not null) config["mqtt"] = mqtt;
        config["security"] = new JsonObject { ["operatorKeys"] = new JsonArray(operatorPublicKey) };
        edit?.Invoke(config);
        string file = Path.Combine(work, "robot.json");
        File.WriteAllText(file, config.ToJsonString());
        var loaded = ConfigLoader.Load(file);
        Assert.True(loaded.Ok, string.Join("; ", loaded.Errors));
        return loaded.Config!;
    }

    /// <summary>An operator's desktop: sends commands and watches replies and the status.</summary>
    internal sealed class OperatorDesk : IAsyncDisposable
    {
        public readonly ResilientMqttClient Client;
        private readonly BlockingCollection<JsonElement> _replies = new();
        private readonly BlockingCollection<JsonElement> _statuses = new();

        private OperatorDesk(ResilientMqttClient client) => Client = client;

        public static async Task<OperatorDesk> StartAsync(MqttEndpoint endpoint)
        {
            var client = new ResilientMqttClient(endpoint, new ResilientMqttClientOptions
            {
                MinReconnectDelay = TimeSpan.FromMilliseconds(50), MaxReconnectDelay = TimeSpan.FromMilliseconds(200), KeepAlive = TimeSpan.FromSeconds(2),
                QueueCapacity = 16, MaxPayloadLength = 1 << 20,
            });
            var desk = new OperatorDesk(client);
            await client.SubscribeAsync($"robotpg/{RobotId}/reply", (string t, in ReadOnlySequence<byte> p) => desk._replies.Add(Parse(p)), MqttQualityOfServiceLevel.AtLeastOnce);
            await client.SubscribeAsync($"robotpg/{RobotId}/status", (string t, in ReadOnlySequence<byte> p) => desk._statuses.Add(Parse(p)), MqttQualityOfServiceLevel.AtLeastOnce);
            client.Start();
            Assert.True(await client.WaitConnectedAsync(Wait), client.LastError);
            return desk;
        }

        private static JsonElement Parse(in ReadOnlySequence<byte> p)
        {
            using var doc = JsonDocument.Parse(p.ToArray());
            return doc.RootElement.Clone();
        }

        public void Send(string verb, ReadOnlySpan<byte> payload) =>
            Assert.True(Client.TryPublish($"robotpg/{RobotId}/cmd/{verb}", payload, MqttQualityOfServiceLevel.AtLeastOnce));

        /// <summary>Sends and returns the robot's reply (replies come in command order).</summary>
        public JsonElement Command(string verb, ReadOnlySpan<byte> payload)
        {
            Send(verb, payload);
            Assert.True(_replies.TryTake(out var reply, Wait), $"no reply to {verb}");
            Assert.Equal(verb, reply.GetProperty("verb").GetString());
            return reply;
        }

        public JsonElement StatusWhere(Func<JsonElement, bool> predicate)
        {
            while (true)
            {
                Assert.True(_statuses.TryTake(out var status, Wait), "no matching status");
                if (predicate(status)) return status;
            }
        }

        public async ValueTask DisposeAsync()
        {
            await Client.DisposeAsync();
            _replies.Dispose();
            _statuses.Dispose();
        }
    }

    private static byte[] Signed(OperatorKey key, string verb, string body = "{}") =>
        key.Sign(RobotId, "cmd/" + verb, Encoding.UTF8.GetBytes(body)).ToCommandJson();

    private static string Outcome(JsonElement reply) => reply.GetProperty("outcome").GetString()!;

    /// <summary>Waits until the control loop has run <paramref name="steps"/> more steps (the robot keeps running).</summary>
    private static void StepsGoOn(ControllerHost host, long steps)
    {
        long target = host.Loop.StepCount + steps;
        var deadline = DateTime.UtcNow + Wait;
        while (host.Loop.StepCount < target)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the loop stopped at step {host.Loop.StepCount}");
            Thread.Sleep(5);
        }
    }

    private static void Until(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, what);
            Thread.Sleep(5);
        }
    }

    /// <summary>The command script both brokers run; returns the operator desk still connected.</summary>
    private static void CommandScript(ControllerHost host, OperatorDesk desk, OperatorKey key)
    {
        using var stranger = OperatorKey.Generate();
        var online = desk.StatusWhere(s => s.GetProperty("state").GetString() == "online");
        Assert.Equal(RobotId, online.GetProperty("robotId").GetString());
        StepsGoOn(host, 20);

        // Unsigned, forged (unknown key), tampered, signed for another robot: refused, the loop runs on untouched.
        Assert.Equal("refused-unsigned", Outcome(desk.Command("stop", "{}"u8)));
        Assert.Equal("refused-unknown-key", Outcome(desk.Command("stop", Signed(stranger, "stop"))));
        string tampered = Encoding.UTF8.GetString(Signed(key, "stop", "{\"a\":1}")).Replace("{\\u0022a\\u0022:1}", "{\\u0022a\\u0022:2}").Replace("{\\\"a\\\":1}", "{\\\"a\\\":2}");
        Assert.Equal("refused-bad-signature", Outcome(desk.Command("stop", Encoding.UTF8.GetBytes(tampered))));
        Assert.Equal("refused-wrong-audience", Outcome(desk.Command("stop", key.Sign("other-bot", "cmd/stop", "{}"u8.ToArray()).ToCommandJson())));
        StepsGoOn(host, 20);
        Assert.False(host.Loop.Safety.Tripped);

        // Signed stop: accepted, applied at a step boundary; its replay is refused.
        byte[] stop = Signed(key, "stop");
        var accepted = desk.Command("stop", stop);
        Assert.Equal("accepted", Outcome(accepted));
        Until(() => host.Loop.Safety.Tripped && host.Loop.Safety.Cause == SafetyCause.OperatorHold, "stop was not applied");
        Assert.Equal("refused-replayed", Outcome(desk.Command("stop", stop)));
        Assert.Equal("accepted", Outcome(desk.Command("start", Signed(key, "start"))));
        Until(() => !host.Loop.Safety.Tripped, "start was not applied");

        // A signed policy push is swapped in at a step boundary while the loop keeps stepping; unsigned, forged or corrupt ones change nothing.
        var c = host.Config;
        var network = new GaussianPolicy(host.Policy.ObservationSize, host.Policy.ActionSize, c.Policy.HiddenSizes, 1, seed: 77);
        byte[] checkpoint = CheckpointFile.Serialize(new TrainingState { Policy = network, Tag = "pushed" });
        ulong expected = ControlPolicy.FromCheckpoint("x", checkpoint, network.ObservationSize, network.ActionSize, c.Policy.HiddenSizes, false).Hash;
        ulong before = host.Policy.Hash;
        Assert.Equal("refused-unsigned", Outcome(desk.Command("policy", checkpoint)));
        byte[] forged = stranger.Sign(RobotId, SignedMessage.PolicyPurpose, checkpoint).ToEnvelope();
        Assert.Equal("refused-unknown-key", Outcome(desk.Command("policy", forged)));
        byte[] corrupt = (byte[])checkpoint.Clone();
        corrupt[^10] ^= 0x40; // CRC no longer matches
        var crc = desk.Command("policy", key.Sign(RobotId, SignedMessage.PolicyPurpose, corrupt).ToEnvelope());
        Assert.Equal("refused", Outcome(crc));
        Assert.Contains("CRC", crc.GetProperty("reason").GetString(), StringComparison.OrdinalIgnoreCase);
        StepsGoOn(host, 10);
        Assert.Equal(before, host.Loop.Policies.Current.Hash);

        // No control period is missed across the swap, on the loop's own count: every step of the window read the
        // simulator's next tick (lockstep), none the same frame again and none skipped.
        long swaps = host.Loop.Policies.Swaps;
        long missed = host.Loop.Counters.MissedPeriods, stepBefore = host.Loop.StepCount;
        byte[] pushed = key.Sign(RobotId, SignedMessage.PolicyPurpose, checkpoint).ToEnvelope();
        Assert.Equal("accepted", Outcome(desk.Command("policy", pushed)));
        Until(() => host.Loop.Policies.Swaps == swaps + 1, "the pushed policy was not swapped in");
        StepsGoOn(host, 20);
        Assert.Equal(expected, host.Loop.Policies.Current.Hash);
        Assert.Equal(missed, host.Loop.Counters.MissedPeriods);
        Assert.True(host.Loop.StepCount >= stepBefore + 20);
        desk.StatusWhere(s => s.GetProperty("policyHash").GetString() == expected.ToString("x16"));

        // The same signed push again is a replay.
        Assert.Equal("refused-replayed", Outcome(desk.Command("policy", pushed)));

        // A signed policy far from the running one (every log σ + 3: mean KL 2·(3 + e⁻⁶/2 − ½) ≈ 5 > 1) is refused by the KL bound.
        var far = new GaussianPolicy(host.Policy.ObservationSize, host.Policy.ActionSize, c.Policy.HiddenSizes, 1, seed: 77);
        foreach (ref float logStd in far.LogStd) logStd += 3;
        var kl = desk.Command("policy", key.Sign(RobotId, SignedMessage.PolicyPurpose, CheckpointFile.Serialize(new TrainingState { Policy = far })).ToEnvelope());
        Assert.Equal("refused", Outcome(kl));
        Assert.Contains("mean KL 5 from the running policy", kl.GetProperty("reason").GetString());
        StepsGoOn(host, 5);
        Assert.Equal(expected, host.Loop.Policies.Current.Hash);

        // save writes the running policy — the operator's signed bytes — to the robot's checkpoint directory; load brings it back.
        var saved = desk.Command("save", Signed(key, "save"));
        Assert.Equal("accepted", Outcome(saved));
        string savedPath = Path.Combine(host.Deployment!.CheckpointDirectory, "latest.ckpt");
        Assert.Equal(savedPath, saved.GetProperty("path").GetString());
        Assert.Equal(expected.ToString("x16"), saved.GetProperty("policyHash").GetString());
        Assert.Equal(pushed, File.ReadAllBytes(savedPath));
        var near = new GaussianPolicy(host.Policy.ObservationSize, host.Policy.ActionSize, c.Policy.HiddenSizes, 1, seed: 78);
        Assert.Equal("accepted", Outcome(desk.Command("policy", key.Sign(RobotId, SignedMessage.PolicyPurpose, CheckpointFile.Serialize(new TrainingState { Policy = near })).ToEnvelope())));
        Until(() => host.Loop.Policies.Current.Hash != expected, "the second push was not swapped in");
        var escape = desk.Command("load", Signed(key, "load", "{\"name\":\"../robot.json\"}"));
        Assert.Equal("refused", Outcome(escape));
        Assert.Contains("must be a file name in the robot's checkpoint directory", escape.GetProperty("reason").GetString());
        Assert.Equal("refused-unsigned", Outcome(desk.Command("load", "{\"name\":\"latest.ckpt\"}"u8)));
        Assert.NotEqual(expected, host.Loop.Policies.Current.Hash);
        Assert.Equal("accepted", Outcome(desk.Command("load", Signed(key, "load", "{\"name\":\"latest.ckpt\"}"))));
        Until(() => host.Loop.Policies.Current.Hash == expected, "the loaded policy was not swapped in");

        // The e-stop needs no signature; start cannot undo it; a signed clear-estop does.
        Assert.Equal("accepted", Outcome(desk.Command("estop", ""u8)));
        Until(() => host.Loop.Safety.Tripped && host.Loop.Safety.Cause == SafetyCause.EmergencyStop, "estop was not applied");
        var start = desk.Command("start", Signed(key, "start"));
        Assert.Equal("refused", Outcome(start));
        Assert.Contains("clear-estop", start.GetProperty("reason").GetString());
        Assert.Equal("refused-unsigned", Outcome(desk.Command("clear-estop", "{}"u8)));
        Assert.True(host.Loop.Safety.Tripped);
        Assert.Equal("accepted", Outcome(desk.Command("clear-estop", Signed(key, "clear-estop"))));
        Until(() => !host.Loop.Safety.Tripped, "clear-estop was not applied");
        Assert.True(host.Remote!.Refused >= 13);
    }

    [Fact]
    public async Task Over_mosquitto_with_tls_and_acl_only_signed_commands_and_policies_act_and_the_estop_survives_a_broker_restart()
    {
        using var pki = new TestPki();
        string passwd = pki.PasswordFile(("operator", "op-pw"), ("sim", "sim-pw"), (RobotId, "robot-pw"));
        var cert = pki.Issue("client");
        await using var broker = await MosquittoBroker.StartWithConfigAsync(Wait, SecureConnectionTests.ShippedConfig(pki, passwd));
        int port = broker.Port;
        using var key = OperatorKey.Generate();
        string pub = pki.Write("operator.pub.pem", key.PublicKeyPem);
        string work = pki.Directory;

        var simEndpoint = SecureConnectionTests.Endpoint(pki, port, "robotpg-sim", pki.CredentialsFile("sim.credentials", "sim", "sim-pw"), (cert.CertFile, cert.KeyFile));
        await using var sim = await SimulationServer.StartAsync(new SimulationServerOptions
        {
            Robot = "balance-bot", RobotId = RobotId, Seed = 3, Clock = SimClockMode.Lockstep, Broker = simEndpoint,
            PhysicsDirectory = Path.Combine(RepoRoot(), "firmware-config", "robots"),
        });
        var mqtt = new JsonObject
        {
            ["caFile"] = pki.CaFile, ["clientCertFile"] = cert.CertFile, ["clientKeyFile"] = cert.KeyFile,
            ["credentialsFile"] = pki.CredentialsFile("robot.credentials", RobotId, "robot-pw"), ["keepAliveSeconds"] = 2,
        };
        var config = Config(work, $"mqtts://127.0.0.1:{port}", mqtt, pub);
        await using var desk = await OperatorDesk.StartAsync(SecureConnectionTests.Endpoint(pki, port, "operator-desk", pki.CredentialsFile("op.credentials", "operator", "op-pw"), (cert.CertFile, cert.KeyFile)));
        var host = ControllerHost.Start(config, work, null, null, TextWriter.Null);
        try
        {
            await CommandsAndBrokerRestart(host, desk, key, broker, pki, passwd, port);
        }
        finally
        {
            try
            {
                host.Dispose();
            }
            catch (TimeoutException)
            {
                // A lockstep simulator does not resume its tick after its broker restarted, so the final
                // motors-off flush waits in vain; the e-stop above already holds the motors off.
            }
        }
    }

    private static async Task CommandsAndBrokerRestart(ControllerHost host, OperatorDesk desk, OperatorKey key, MosquittoBroker broker, TestPki pki, string passwd, int port)
    {
        CommandScript(host, desk, key);

        // The broker dies and comes back on the same port: both ends reconnect; the e-stop sent then reaches the robot.
        // Both ends must have a new, subscribed connection before the e-stop goes out: a queued status from before the
        // kill, or a client that has not yet noticed the dead socket, says nothing about the new broker.
        long deskConnects = desk.Client.Connects, robotConnects = host.Remote!.Connects;
        await broker.KillAsync();
        await using var again = await MosquittoBroker.StartWithConfigAsync(Wait, SecureConnectionTests.ShippedConfig(pki, passwd), port);
        Until(() => desk.Client.Connects > deskConnects && host.Remote.Connects > robotConnects, "both ends reconnected to the restarted broker");
        Assert.Equal("accepted", Outcome(desk.Command("estop", ""u8)));
        Until(() => host.Loop.Safety.EmergencyStopRequested, "the e-stop did not arrive after the broker restart");
        Until(() => host.Loop.Safety.Tripped, "the e-stop did not stop the motors");
    }

    [Fact]
    public async Task Over_the_embedded_broker_with_credentials_and_tls_the_same_commands_hold()
    {
        using var pki = new TestPki();
        using var key = OperatorKey.Generate();
        string pub = pki.Write("operator.pub.pem", key.PublicKeyPem);
        await using var sim = await SimulationServer.StartAsync(new SimulationServerOptions
        {
            Robot = "balance-bot", RobotId = RobotId, Seed = 4, Clock = SimClockMode.Lockstep, EmbeddedPort = 0,
            EmbeddedUserName = "robotpg", EmbeddedPassword = "shared-pw", EmbeddedCertificate = pki.ServerCertificate, EmbeddedCaFile = pki.CaFile,
            PhysicsDirectory = Path.Combine(RepoRoot(), "firmware-config", "robots"),
        });
        var mqtt = new JsonObject { ["caFile"] = pki.CaFile, ["credentialsFile"] = pki.CredentialsFile("robot.credentials", "robotpg", "shared-pw"), ["protocolVersion"] = "3.1.1" };
        var config = Config(pki.Directory, $"mqtts://127.0.0.1:{sim.BrokerPort}", mqtt, pub);
        var deskEndpoint = new MqttEndpoint("127.0.0.1", sim.BrokerPort, "desk", "robotpg", "shared-pw") { UseTls = true, CaFile = pki.CaFile };
        await using var desk = await OperatorDesk.StartAsync(deskEndpoint);
        using var host = ControllerHost.Start(config, pki.Directory, null, null, TextWriter.Null);
        CommandScript(host, desk, key);

        // The operator's command line: robotpg-sim command and policy push, over the same TLS + credentials + 3.1.1.
        string keys = Path.Combine(pki.Directory, "keys");
        key.Save(keys);
        string credentials = pki.CredentialsFile("cli.credentials", "robotpg", "shared-pw");
        string[] connection = ["--robot", RobotId, "--broker", $"mqtts://127.0.0.1:{sim.BrokerPort}", "--ca-file", pki.CaFile, "--credentials", credentials, "--mqtt-version", "3.1.1"];
        string[] signing = ["--key", Path.Combine(keys, OperatorKey.PrivateKeyFileName)];
        Assert.Equal(2, Cli(RobotPG.Sim.Cli.CommandCommand.Create(), ["stop", .. connection]).Exit); // unsigned stop: refused before sending
        var (exit, stdout, stderr) = Cli(RobotPG.Sim.Cli.CommandCommand.Create(), ["stop", .. connection, .. signing]);
        Assert.True(exit == 0, stdout + stderr);
        Until(() => host.Loop.Safety.Tripped && host.Loop.Safety.Cause == SafetyCause.OperatorHold, "the CLI stop was not applied");

        var network = new GaussianPolicy(host.Policy.ObservationSize, host.Policy.ActionSize, host.Config.Policy.HiddenSizes, 1, seed: 99);
        string file = Path.Combine(pki.Directory, "pushed.ckpt");
        CheckpointFile.Save(file, new TrainingState { Policy = network });
        long swaps = host.Loop.Policies.Swaps;
        (exit, stdout, stderr) = Cli(RobotPG.Sim.Cli.PolicyCommand.Create(), ["push", file, .. connection, .. signing]);
        Assert.True(exit == 0, stdout + stderr);
        Until(() => host.Loop.Policies.Swaps == swaps + 1, "the CLI push was not swapped in");
        Assert.Equal(ControlPolicy.Load(file, network.ObservationSize, network.ActionSize, host.Config.Policy.HiddenSizes, false).Hash, host.Loop.Policies.Current.Hash);
    }

    [Fact]
    public async Task A_learning_robot_goes_back_to_its_best_policy_on_a_signed_best_command()
    {
        using var pki = new TestPki();
        using var key = OperatorKey.Generate();
        string pub = pki.Write("operator.pub.pem", key.PublicKeyPem);
        await using var sim = await SimulationServer.StartAsync(new SimulationServerOptions
        {
            Robot = "balance-bot", RobotId = RobotId, Seed = 5, Clock = SimClockMode.Lockstep, EmbeddedPort = 0,
            PhysicsDirectory = Path.Combine(RepoRoot(), "firmware-config", "robots"),
        });
        // Episodes of 1 s; at the first update (a batch of 512 steps) the starting policy, judged by its first two
        // episodes, becomes the best.
        var config = Config(pki.Directory, $"mqtt://127.0.0.1:{sim.BrokerPort}", null, pub, json =>
        {
            json["task"]!["maxEpisodeSteps"] = 200;
            json["learning"] = new JsonObject
            {
                ["algorithm"] = "ppo", ["batchSteps"] = 512, ["evaluationEpisodes"] = 2, ["resetHoldSeconds"] = 0,
                ["checkpointDirectory"] = Path.Combine(pki.Directory, "checkpoints"),
            };
        });
        await using var desk = await OperatorDesk.StartAsync(new MqttEndpoint("127.0.0.1", sim.BrokerPort, "desk"));
        var causes = new ConcurrentQueue<string>();
        await desk.Client.SubscribeAsync($"robotpg/{RobotId}/telemetry/{TelemetryKinds.Rollback}", (string t, in ReadOnlySequence<byte> p) =>
        {
            using var doc = JsonDocument.Parse(p.ToArray());
            causes.Enqueue(doc.RootElement.GetProperty("cause").GetString()!);
        }, MqttQualityOfServiceLevel.AtLeastOnce);
        using var host = ControllerHost.Start(config, pki.Directory, null, null, TextWriter.Null);
        var learner = host.Learning!.Learner;
        desk.StatusWhere(s => s.GetProperty("state").GetString() == "online");

        Assert.Equal("refused-unsigned", Outcome(desk.Command("best", "{}"u8)));
        Until(() => !double.IsNegativeInfinity(learner.BestReturn), "the starting policy was never judged");
        Assert.DoesNotContain("to-best", causes);
        long rollbacks = learner.Rollbacks;
        Assert.Equal("accepted", Outcome(desk.Command("best", Signed(key, "best"))));
        Until(() => causes.Contains("to-best"), "the learner reported no rollback to its best policy");
        Assert.True(learner.Rollbacks > rollbacks);
        Assert.Single(causes, c => c == "to-best");
    }

    internal static (int Exit, string Stdout, string Stderr) Cli(System.CommandLine.Command command, string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var root = new System.CommandLine.RootCommand("test");
        root.Subcommands.Add(command);
        int exit = root.Parse([command.Name, .. args]).Invoke(new System.CommandLine.InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }
}
