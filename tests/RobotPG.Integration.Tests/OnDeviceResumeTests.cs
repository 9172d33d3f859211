using System.Buffers;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using RobotPG.Controller.Configuration;
using RobotPG.Controller.Control;
using RobotPG.Controller.Hosting;
using RobotPG.Controller.Learning;
using RobotPG.Controller.Logging;
using RobotPG.Learning.Checkpoints;
using RobotPG.Messaging;
using RobotPG.Sim.Serving;
using Xunit;
using Xunit.Abstractions;

namespace RobotPG.Integration.Tests;

/// <summary>Learning that survives a killed controller (issue 7 §4).</summary>
public sealed class OnDeviceResumeTests(ITestOutputHelper log)
{
    private static string NewWork()
    {
        string path = Path.Combine(Path.GetTempPath(), "robotpg-ondevice-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }

    private static async Task<(ResilientMqttClient Client, TaskCompletionSource<JsonElement> Seen)> Watch(int port, Func<JsonElement, bool> condition)
    {
        var seen = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        var client = new ResilientMqttClient(new MqttEndpoint("127.0.0.1", port, "ondevice-watch-" + Guid.NewGuid().ToString("N")[..8]));
        client.Start();
        Assert.True(await client.WaitConnectedAsync(TimeSpan.FromSeconds(10)));
        await client.SubscribeAsync("robotpg/balance-bot/telemetry/learning", (string topic, in ReadOnlySequence<byte> payload) =>
        {
            var e = JsonDocument.Parse(Encoding.UTF8.GetString(payload.ToArray())).RootElement.Clone();
            if (condition(e)) seen.TrySetResult(e);
        });
        return (client, seen);
    }

    [Fact]
    public async Task A_killed_controller_resumes_from_its_last_checkpoint_and_its_log_keeps_every_complete_record()
    {
        string work = NewWork();
        await using var sim = await SimulationServer.StartAsync(new SimulationServerOptions
        {
            Robot = "balance-bot", Seed = 5, Clock = SimClockMode.Lockstep, EmbeddedPort = 0,
            PhysicsDirectory = OnDeviceSetup.PhysicsDirectory, ControlRateHz = OnDeviceSetup.ControlRateHz, PublishTruth = false,
        });
        var json = OnDeviceSetup.ConfigJson("ppo", work, sim.BrokerPort);
        json["learning"]!["checkpointEveryUpdates"] = 1;
        string configFile = Path.Combine(work, "robot.json");
        File.WriteAllText(configFile, json.ToJsonString());

        // Run 1: `robotpg run` as a child process, killed (SIGKILL) after its fourth update, once a checkpoint exists
        // (one is written after every *accepted* update; an update the guards roll back writes none).
        string latest = Path.Combine(work, "checkpoints", LearnerCheckpoints.LatestName);
        var (watch1, fourth) = await Watch(sim.BrokerPort, u => u.GetProperty("update").GetInt64() >= 4 && File.Exists(latest));
        string robotpg = Path.Combine(AppContext.BaseDirectory, "robotpg.dll");
        Assert.True(File.Exists(robotpg), robotpg);
        var start = new ProcessStartInfo("dotnet", [robotpg, "run", "--config", configFile, "--duration", "1200"])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        using (var child = Process.Start(start)!)
        {
            try
            {
                await fourth.Task.WaitAsync(TimeSpan.FromSeconds(60));
            }
            finally
            {
                child.Kill(entireProcessTree: true);
                await child.WaitForExitAsync();
            }
            Assert.NotEqual(0, child.ExitCode);
        }
        await watch1.DisposeAsync();

        var saved = CheckpointFile.ReadInfo(latest);
        Assert.True(saved.UpdateCount >= 1, $"checkpoint holds update {saved.UpdateCount}");

        // The killed run's log: every whole record is intact and the steps have no gap; at most a torn tail is lost.
        string logFile = Assert.Single(Directory.GetFiles(Path.Combine(work, "logs"), "*.rpglog"));
        long records = 0, expectedStep = 0;
        using (var reader = TrajectoryLogReader.Open(logFile))
        {
            while (reader.TryReadNext(out var record))
            {
                Assert.Equal(expectedStep, record.Step);
                expectedStep++;
                records++;
            }
            Assert.Equal(0, reader.CorruptRecords);
            Assert.True(reader.TornTailBytes < reader.RecordSize);
        }
        Assert.True(records >= saved.StepCount / 2, $"{records} records logged, the learner had {saved.StepCount} steps");

        // Run 2: `robotpg run --resume` (in process): the counters go on from the checkpoint and learning continues.
        var (watch2, next) = await Watch(sim.BrokerPort, _ => true);
        var config = ConfigLoader.Load(configFile).Config!;
        using var host = ControllerHost.Start(config, work, null, 1200, TextWriter.Null, resume: true);
        Assert.Equal(latest, host.Learning!.ResumedFrom);
        Assert.True(host.Learning.Learner.Steps >= saved.StepCount);
        var update = await next.Task.WaitAsync(TimeSpan.FromSeconds(60));
        log.WriteLine($"killed after update ≥ 4; checkpoint: update {saved.UpdateCount}, {saved.StepCount} steps, {saved.EpisodeCount} episodes; " +
            $"log: {records} whole records, steps 0..{expectedStep - 1}; resumed: first update {update.GetProperty("update")}, steps {update.GetProperty("steps")}, episodes {update.GetProperty("episodes")}");
        Assert.Equal(saved.UpdateCount + 1, update.GetProperty("update").GetInt64());
        Assert.True(update.GetProperty("steps").GetInt64() >= saved.StepCount + 1024 - 1);
        Assert.True(update.GetProperty("episodes").GetInt64() >= saved.EpisodeCount);
        await watch2.DisposeAsync();
        host.RequestStop();
        host.WaitForExit();
        try
        {
            Directory.Delete(work, recursive: true);
        }
        catch (IOException)
        {
            // Left for the temp cleaner.
        }
    }
}
