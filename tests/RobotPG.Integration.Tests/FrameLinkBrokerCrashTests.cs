using System.Text.Json.Nodes;
using RobotPG.Controller.Hosting;
using RobotPG.Messaging;
using RobotPG.Sim.Serving;
using Xunit;

namespace RobotPG.Integration.Tests;

/// <summary>
/// The real controller in lockstep against the simulator through mosquitto, both on their frame links, when mosquitto
/// crashes and comes back on its port: both links reconnect and resubscribe by themselves (the controller's on its
/// control thread, the simulator's on its reader thread), the run goes on, and every step is logged.
/// </summary>
public sealed class FrameLinkBrokerCrashTests
{
    [Fact]
    public async Task A_lockstep_run_through_mosquitto_goes_on_after_the_broker_crashes_and_restarts()
    {
        string work = Path.Combine(Path.GetTempPath(), "robotpg-link-crash-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(work);
        try
        {
            var mosquitto = await MosquittoBroker.StartAsync(TimeSpan.FromSeconds(20));
            int port = mosquitto.Port;
            await using var sim = await SimulationServer.StartAsync(new SimulationServerOptions
            {
                Robot = "balance-bot", Seed = 5, Clock = SimClockMode.Lockstep, PublishTruth = false,
                Broker = new MqttEndpoint(mosquitto.Host, port, "sim-crash"), PhysicsDirectory = OnDeviceSetup.PhysicsDirectory,
            });
            var json = JsonNode.Parse(File.ReadAllText(Path.Combine(OnDeviceSetup.RepoRoot(), "firmware-config", "balance-bot.sim.json")))!.AsObject();
            json.Remove("$schema");
            json["bus"]!["broker"] = $"mqtt://127.0.0.1:{port}";
            json["log"]!["directory"] = Path.Combine(work, "logs");
            json["telemetry"]!["enabled"] = false;
            using var host = ControllerHost.Start(OnDeviceSetup.Parse(json, work), work, null, null, TextWriter.Null);
            var robot = Assert.IsType<SimRobotConnection>(host.Robot);
            var loop = host.Loop;

            Assert.True(SpinWait.SpinUntil(() => loop.StepCount >= 300 || loop.FatalCause is not null, TimeSpan.FromSeconds(60)), $"only {loop.StepCount} steps before the crash");
            await mosquitto.KillAsync();
            await mosquitto.DisposeAsync();
            long atCrash = loop.StepCount;
            await using var again = await MosquittoBroker.StartAsync(TimeSpan.FromSeconds(20), "allow_anonymous true\n", port);

            // A link that never reconnects (or reconnects without resubscribing) leaves the loop at atCrash plus its stale steps.
            Assert.True(SpinWait.SpinUntil(() => loop.StepCount >= atCrash + 300 || loop.FatalCause is not null, TimeSpan.FromSeconds(60)),
                $"the run did not go on after the broker came back: {loop.StepCount - atCrash} steps; controller link: {robot.Link.LastError}; sim link: {sim.FrameLink!.LastError}");
            Assert.Null(loop.FatalCause);
            Assert.True(robot.Link.Connects >= 2, $"controller link connected {robot.Link.Connects} times");
            Assert.True(sim.FrameLink!.Connects >= 2, $"sim link connected {sim.FrameLink.Connects} times");

            host.RequestStop();
            host.WaitForExit();
            Assert.Equal(loop.StepCount, host.LogWriter.RecordsWritten);
            Assert.Equal(0, loop.Counters.LogDrops);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
