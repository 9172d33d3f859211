using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using RobotPG.Controller.Cli;
using RobotPG.Learning.Checkpoints;
using RobotPG.Learning.Networks;
using RobotPG.Sim.Devices;
using RobotPG.Sim.Robots;
using RobotPG.Sim.Serving;
using Xunit;

namespace RobotPG.Integration.Tests;

/// <summary>
/// Faults the Pi finds from the data, found the same way by a controller attached to <c>robotpg-sim
/// serve</c> over MQTT (lockstep, the shipped sim config, a policy that drives the motors): a frozen
/// MPU-6050 (identical 14-byte bursts) and a dead GPIO line (the sim's pin level disagrees with the
/// write it applied). Outcomes are read from the simulator's own chips and pins, counted in its ticks.
/// </summary>
public sealed class SimLinkFaultDetectionTests
{
    private static string RepoRoot([CallerFilePath] string here = "")
    {
        var dir = new DirectoryInfo(Path.GetDirectoryName(here)!);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "RobotPG.sln")))
            dir = dir.Parent;
        return dir!.FullName;
    }

    private sealed record Run(int Code, string Output, string Error);

    /// <summary>Every motor off as the sim holds it: PCA9685 duty 0 and both direction pins low.</summary>
    private static bool MotorsOff(SimulatedRobot r)
    {
        foreach (var m in r.Config.Motors)
        {
            if (r.PinLevel(m.In1Pin) || r.PinLevel(m.In2Pin) || r.Pca9685!.DutyCycle(m.PwmChannel) > 0)
                return false;
        }
        return true;
    }

    private static bool LeftMotorDriven(SimulatedRobot r) => r.Pca9685!.DutyCycle(r.Config.Motors[0].PwmChannel) > 0;

    /// <summary>Runs <c>robotpg run</c> for at most <paramref name="seconds"/> of control against <paramref name="sim"/> with a zero-mean σ = 0.5 policy.</summary>
    private static async Task<Run> RunController(SimulationServer sim, string work, double seconds)
    {
        string root = RepoRoot();
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
        config["telemetry"]!["enabled"] = false;
        string configFile = Path.Combine(work, "balance-bot.sim.json");
        File.WriteAllText(configFile, config.ToJsonString());

        var output = new StringWriter();
        var error = new StringWriter();
        int code = await Task.Run(() => RobotPgCli.Run(["run", "--config", configFile, "--duration", seconds.ToString(System.Globalization.CultureInfo.InvariantCulture)], output, error))
            .WaitAsync(TimeSpan.FromMinutes(2));
        return new Run(code, output.ToString(), error.ToString());
    }

    private static async Task<SimulationServer> StartSim(IReadOnlyList<SimFault>? faults = null) =>
        await SimulationServer.StartAsync(new SimulationServerOptions
        {
            Robot = "balance-bot",
            Seed = 11,
            Clock = SimClockMode.Lockstep,
            EmbeddedPort = 0,
            PhysicsDirectory = Path.Combine(RepoRoot(), "firmware-config", "robots"),
            PublishTruth = false,
            Faults = faults ?? [],
        });

    private static string NewWork()
    {
        string work = Path.Combine(Path.GetTempPath(), "robotpg-linkfault-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(work);
        return work;
    }

    /// <summary>
    /// staleSensorPeriods (5) unchanged bursts trip the stale-sensor rule, whose step sends the stop;
    /// the sim applies it with the next tick.
    /// </summary>
    private const int FrozenImuTicksToMotorsOff = 5 + 1;

    [Fact]
    public async Task Frozen_imu_over_the_sim_link_trips_the_stale_sensor_rule_and_holds_the_motors_off()
    {
        string work = NewWork();
        try
        {
            await using var sim = await StartSim();
            // Freeze the IMU once the left motor has been driven for 5 ticks; note the first tick with every motor off.
            ulong frozenAt = 0, offAt = 0;
            int driven = 0;
            bool offUntilEnd = true;
            sim.TickPublished += tick => sim.Inspect(r =>
            {
                if (frozenAt == 0)
                {
                    if (LeftMotorDriven(r) && !r.Fallen && ++driven == 5)
                    {
                        frozenAt = tick;
                        r.SetFaults([new SimFault(SimFaultKind.ImuFrozen)]);
                    }
                }
                else if (offAt == 0)
                {
                    if (MotorsOff(r)) offAt = tick;
                }
                else
                {
                    offUntilEnd &= MotorsOff(r);
                }
                return 0;
            });

            var run = await RunController(sim, work, seconds: 2);

            Assert.True(frozenAt > 0, "the motors were never driven, so the fault was never switched on");
            Assert.True(offAt > 0, $"the motors were never off after the IMU froze at tick {frozenAt}: {run.Output}{run.Error}");
            Assert.InRange(offAt, frozenAt + 1, frozenAt + FrozenImuTicksToMotorsOff);
            Assert.True(offUntilEnd, "a motor ran again while the IMU stayed frozen");
            // The policy: a stale sensor holds the motors off and re-arms only on fresh data; the run ends on its duration.
            Assert.Equal(0, run.Code);
            Assert.Contains("motors off (stale-sensor)", run.Output);
            Assert.Equal("", run.Error);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>The step that read the tick which applied the lost write: its read fails (and its retries), the step trips and stops; the sim applies the stop with the next tick.</summary>
    private const int DeadGpioTicksToMotorsOff = 2;

    [Fact]
    public async Task Dead_gpio_line_over_the_sim_link_is_a_bus_fault_naming_the_pin_and_exits_3_with_the_motors_off()
    {
        string work = NewWork();
        try
        {
            // Both direction pins of the left motor are dead from the start (they stay low, as at power-up).
            await using var sim = await StartSim([new SimFault(SimFaultKind.GpioWriteFail, Pin: 5), new SimFault(SimFaultKind.GpioWriteFail, Pin: 6)]);
            ulong drivenAt = 0, offAt = 0;
            sim.TickPublished += tick => sim.Inspect(r =>
            {
                // The first tick that applied a drive of the left motor: its duty landed, its direction pin write was lost.
                if (drivenAt == 0 && LeftMotorDriven(r)) drivenAt = tick;
                else if (drivenAt > 0 && offAt == 0 && MotorsOff(r)) offAt = tick;
                return 0;
            });

            var run = await RunController(sim, work, seconds: 10);

            Assert.True(drivenAt > 0, $"the left motor was never driven: {run.Output}{run.Error}");
            Assert.True(run.Code == 3, $"exit {run.Code}, driven at tick {drivenAt}, motors off at {offAt}: {run.Output}{run.Error}");
            Assert.InRange(offAt, drivenAt + 1, drivenAt + DeadGpioTicksToMotorsOff);
            Assert.Contains("motors off (bus-fault)", run.Output);
            Assert.Matches(@"^robotpg: motors off after a bus-fault \(gpio-write-fail: GPIO [56]: write of a motor direction pin failed: wrote high, the simulator's pin reads low \(tick \d+, after the write was applied\): a dead GPIO line\) that does not clear by itself; exiting 3 so the service restarts the controller\n$", run.Error);
            sim.Inspect(r =>
            {
                Assert.True(MotorsOff(r), "a motor is still driven after the controller exited");
                Assert.True(r.LostPinWrites > 0);
                return 0;
            });
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
