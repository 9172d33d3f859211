using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using RobotPG.Controller.Cli;
using RobotPG.Messaging;
using RobotPG.Sim.Serving;
using Xunit;

namespace RobotPG.Integration.Tests;

/// <summary>
/// <c>robotpg run</c> learning against <c>robotpg-sim serve --clock lockstep</c>: the loop waits for each update, and the
/// run says so where a user sees it. Its exit output has the "lockstep holds" line right after "stopped after", and the
/// controller telemetry published after the loop stopped carries the same counts.
/// </summary>
public sealed partial class LockstepHoldsExitTests
{
    [GeneratedRegex(@"^robotpg: stopped after (\d+) steps, ")]
    private static partial Regex StoppedLine();

    [GeneratedRegex(@"^robotpg: lockstep holds: (\d+) ms waiting for the log, (\d+) steps? waited for the learner$")]
    private static partial Regex HoldsLine();

    [Fact]
    public async Task A_lockstep_learning_run_reports_its_holds_at_exit_and_in_its_last_controller_telemetry()
    {
        string work = Path.Combine(Path.GetTempPath(), "robotpg-holds-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(work);
        try
        {
            await using var sim = await SimulationServer.StartAsync(new SimulationServerOptions
            {
                Robot = "balance-bot",
                Seed = 5,
                Clock = SimClockMode.Lockstep,
                EmbeddedPort = 0,
                PhysicsDirectory = OnDeviceSetup.PhysicsDirectory,
                ControlRateHz = OnDeviceSetup.ControlRateHz,
                PublishTruth = false,
            });
            // Batches of 64 at 50 Hz: 400 steps (8 simulated s) fill several, and the loop holds for their updates.
            var config = OnDeviceSetup.ConfigJson("ppo", work, sim.BrokerPort, batchSteps: 64);
            string configFile = Path.Combine(work, "robot.json");
            File.WriteAllText(configFile, config.ToJsonString());

            var statuses = new ConcurrentQueue<string>();
            await using var watcher = new ResilientMqttClient(new MqttEndpoint("127.0.0.1", sim.BrokerPort, "holds-watcher"));
            watcher.Start();
            Assert.True(await watcher.WaitConnectedAsync(TimeSpan.FromSeconds(10)));
            await watcher.SubscribeAsync("robotpg/balance-bot/telemetry/controller",
                (string topic, in ReadOnlySequence<byte> payload) => statuses.Enqueue(Encoding.UTF8.GetString(payload.ToArray())));

            var output = new StringWriter();
            var error = new StringWriter();
            int code = await Task.Run(() => RobotPgCli.Run(["run", "--config", configFile, "--duration", "8"], output, error))
                .WaitAsync(TimeSpan.FromMinutes(3));

            Assert.True(code == 0, $"exit {code}: {output}{error}");
            Assert.Equal("", error.ToString()); // the learner answered every time: no warning
            string[] lines = output.ToString().Split('\n');
            int stopped = Array.FindIndex(lines, l => StoppedLine().IsMatch(l));
            Assert.True(stopped >= 0, output.ToString());
            long steps = long.Parse(StoppedLine().Match(lines[stopped]).Groups[1].Value, CultureInfo.InvariantCulture);
            Assert.Equal(400, steps);
            var holds = HoldsLine().Match(lines[stopped + 1]);
            Assert.True(holds.Success, output.ToString());
            long logHoldMs = long.Parse(holds.Groups[1].Value, CultureInfo.InvariantCulture);
            long learnerHolds = long.Parse(holds.Groups[2].Value, CultureInfo.InvariantCulture);
            Assert.True(learnerHolds > 0, output.ToString()); // at batch gates, and at episode ends while a new policy is evaluated

            // The last status is published after the loop stopped: its counters are the ones the exit line read.
            JsonElement? last = null;
            Assert.True(SpinWait.SpinUntil(() =>
            {
                while (statuses.TryDequeue(out string? s))
                {
                    var status = JsonDocument.Parse(s).RootElement.Clone();
                    if (status.GetProperty("steps").GetInt64() == steps) last = status;
                }
                return last is not null;
            }, TimeSpan.FromSeconds(10)), "no controller telemetry after the loop stopped");
            var loop = last!.Value.GetProperty("loop");
            Assert.Equal(logHoldMs, loop.GetProperty("logHoldMs").GetInt64());
            Assert.Equal(learnerHolds, loop.GetProperty("learnerHolds").GetInt64());
            Assert.Equal(0, loop.GetProperty("learnerHoldTimeouts").GetInt64());
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
