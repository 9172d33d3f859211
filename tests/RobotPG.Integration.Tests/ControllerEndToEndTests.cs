using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json.Nodes;
using RobotPG.Controller.Cli;
using RobotPG.Controller.Logging;
using RobotPG.Learning.Checkpoints;
using RobotPG.Learning.Networks;
using RobotPG.Messaging;
using RobotPG.Sim.Serving;
using Xunit;

namespace RobotPG.Integration.Tests;

/// <summary>
/// <c>robotpg run --config firmware-config/balance-bot.sim.json --duration 10</c> against the
/// simulator over MQTT (embedded broker, lockstep), exactly as on a robot: the drivers run over the
/// sim bus, every step is logged, telemetry is published, and the motors stop when the robot falls.
/// </summary>
public sealed class ControllerEndToEndTests
{
    private static string RepoRoot([CallerFilePath] string here = "")
    {
        var dir = new DirectoryInfo(Path.GetDirectoryName(here)!);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "RobotPG.sln")))
            dir = dir.Parent;
        return dir!.FullName;
    }

    [Fact]
    public async Task Run_for_10_seconds_in_lockstep_logs_every_step_publishes_telemetry_and_stops_the_motors_when_the_robot_falls()
    {
        string root = RepoRoot();
        string work = Path.Combine(Path.GetTempPath(), "robotpg-e2e-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(work);
        try
        {
            await using var sim = await SimulationServer.StartAsync(new SimulationServerOptions
            {
                Robot = "balance-bot",
                Seed = 11,
                Clock = SimClockMode.Lockstep,
                EmbeddedPort = 0,
                PhysicsDirectory = Path.Combine(root, "firmware-config", "robots"),
            });

            // A policy that does drive the motors: zero mean, σ = 0.5 — the robot will not balance on it.
            var network = new GaussianPolicy(4, 2, [64, 64], maxBatch: 1, seed: 3);
            network.Parameters.Clear();
            network.LogStd.Fill(MathF.Log(0.5f));
            string checkpoint = Path.Combine(work, "noise.ckpt");
            CheckpointFile.Save(checkpoint, new TrainingState { Policy = network, Tag = "noise" });

            var config = JsonNode.Parse(File.ReadAllText(Path.Combine(root, "firmware-config", "balance-bot.sim.json")))!.AsObject();
            config.Remove("$schema");
            config["bus"]!["broker"] = $"mqtt://127.0.0.1:{sim.BrokerPort}";
            config["log"]!["directory"] = Path.Combine(work, "logs");
            config["policy"]!["checkpoint"] = checkpoint;
            string configFile = Path.Combine(work, "balance-bot.sim.json");
            File.WriteAllText(configFile, config.ToJsonString());

            var statusSeen = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            var safetySeen = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            await using var watcher = new ResilientMqttClient(new MqttEndpoint("127.0.0.1", sim.BrokerPort, "e2e-watcher"));
            watcher.Start();
            Assert.True(await watcher.WaitConnectedAsync(TimeSpan.FromSeconds(10)));
            await watcher.SubscribeAsync("robotpg/balance-bot/telemetry/controller", (string topic, in ReadOnlySequence<byte> payload) =>
                statusSeen.TrySetResult(Encoding.UTF8.GetString(payload.ToArray())));
            await watcher.SubscribeAsync("robotpg/balance-bot/telemetry/safety", (string topic, in ReadOnlySequence<byte> payload) =>
                safetySeen.TrySetResult(Encoding.UTF8.GetString(payload.ToArray())));

            var output = new StringWriter();
            var error = new StringWriter();
            int code = await Task.Run(() => RobotPgCli.Run(["run", "--config", configFile, "--duration", "10"], output, error))
                .WaitAsync(TimeSpan.FromMinutes(3));
            Assert.True(code == 0, $"exit {code}: {error}");
            Assert.Equal("", error.ToString());

            // Every step logged: 10 s at 200 Hz = 2000 records, steps 0..1999 in order, none torn or corrupt.
            var files = Directory.GetFiles(Path.Combine(work, "logs"), "*.rpglog");
            var log = Assert.Single(files);
            using (var reader = TrajectoryLogReader.Open(log))
            {
                Assert.Equal("balance-bot", reader.Header.RobotId);
                long expected = 0, firstStop = -1, terminated = 0;
                while (reader.TryReadNext(out var r))
                {
                    Assert.Equal(expected, r.Step);
                    if ((r.Flags & TransitionFlags.Terminated) != 0) terminated++;
                    if ((r.Flags & TransitionFlags.SafetyStop) != 0 && firstStop < 0) firstStop = r.Step;
                    if (firstStop >= 0) Assert.True((r.Flags & TransitionFlags.SafetyStop) != 0, $"step {r.Step}: motors back on after the stop");
                    expected++;
                }
                Assert.Equal(2000, expected);
                Assert.Equal(0, reader.CorruptRecords);
                Assert.Equal(0, reader.TornTailBytes);
                Assert.True(terminated >= 1, "the robot never fell");
                Assert.InRange(firstStop, 1, 1998);
            }

            // The robot fell and its motors are off: both PCA9685 channels at zero duty in the sim.
            Assert.True(sim.Inspect(r => r.Fallen));
            Assert.Equal(0.0, sim.Inspect(r => r.Pca9685!.DutyCycle(0)));
            Assert.Equal(0.0, sim.Inspect(r => r.Pca9685!.DutyCycle(1)));
            Assert.Contains("motors off (tilt)", output.ToString());

            // Telemetry reached the broker: the controller status and the safety event.
            string status = await statusSeen.Task.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Contains("\"robotId\":\"balance-bot\"", status);
            string safety = await safetySeen.Task.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Contains("\"kind\":\"tilt\"", safety);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
