using System.Text.Json.Nodes;
using RobotPG.Controller.Configuration;
using RobotPG.Controller.Hosting;
using RobotPG.Sim.Serving;
using Xunit;

namespace RobotPG.Integration.Tests;

/// <summary>
/// The controller in lockstep against the simulator on its embedded broker: the control thread reads each tick
/// from the frame link itself and sends its answer on commit; each actuator frame reaches the simulator exactly
/// once, and every step is logged.
/// </summary>
public sealed class LockstepAnswerTests
{
    [Fact]
    public async Task In_lockstep_every_actuator_frame_reaches_the_simulator_once_and_every_step_is_logged()
    {
        string work = Path.Combine(Path.GetTempPath(), "robotpg-lockstep-answer-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(work);
        try
        {
            await using var sim = await SimulationServer.StartAsync(new SimulationServerOptions
            {
                Robot = "balance-bot", Seed = 4, Clock = SimClockMode.Lockstep, EmbeddedPort = 0,
                PhysicsDirectory = OnDeviceSetup.PhysicsDirectory, PublishTruth = false,
            });
            var json = JsonNode.Parse(File.ReadAllText(Path.Combine(OnDeviceSetup.RepoRoot(), "firmware-config", "balance-bot.sim.json")))!.AsObject();
            json.Remove("$schema");
            json["bus"]!["broker"] = $"mqtt://127.0.0.1:{sim.BrokerPort}";
            json["log"]!["directory"] = Path.Combine(work, "logs");
            json["telemetry"]!["enabled"] = false;
            var config = OnDeviceSetup.Parse(json, work);

            // 5 s at 200 Hz: 1000 ticks.
            using var host = ControllerHost.Start(config, work, null, 5, TextWriter.Null);
            await Task.Run(host.WaitForExit).WaitAsync(TimeSpan.FromMinutes(2));
            var robot = Assert.IsType<SimRobotConnection>(host.Robot);

            Assert.Equal(1000, host.Loop.StepCount);
            Assert.Equal(1000, host.LogWriter.RecordsWritten);
            Assert.Equal(0, host.Loop.Counters.LogDrops);
            // Every frame the controller committed or resent arrived once: a frame published by both the receive
            // thread and the publisher thread would arrive twice (and the second one answer a past tick).
            Assert.Equal(robot.Bus.CommittedFrames + robot.Bus.ResentFrames, sim.ActuatorFrames.Total);
            // A frame may answer a tick the simulator has left only when the simulator had republished that tick
            // (our answer was slow, e.g. the loop waited for the log writer's fsync) and the resend crossed the
            // original: by design one of the two is dropped. Anything else out of order is a frame sent twice.
            Assert.True(sim.ActuatorFrames.OutOfOrder <= robot.Bus.ResentFrames,
                $"{sim.ActuatorFrames.OutOfOrder} frames answered a past tick, {robot.Bus.ResentFrames} were resends");
            // Every committed or resent frame went out over the link, once (no second sender).
            Assert.Equal(robot.Bus.CommittedFrames + robot.Bus.ResentFrames, robot.Link.Published);
            Assert.Equal(0, robot.Link.Dropped);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
