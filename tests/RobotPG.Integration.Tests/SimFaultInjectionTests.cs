using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using RobotPG.Controller.Cli;
using RobotPG.Learning.Checkpoints;
using RobotPG.Learning.Networks;
using RobotPG.Sim.Devices;
using RobotPG.Sim.Serving;
using Xunit;

namespace RobotPG.Integration.Tests;

/// <summary>
/// The acceptance test of <c>robotpg-sim serve --fault i2c-nack:0x40:permanent</c>: the PCA9685 stops
/// acknowledging while the controller drives the motors (lockstep, over MQTT, the shipped sim config).
/// The controller must catch it at its next PCA9685 read-back, take both direction pins of every motor
/// low (the only path left: the duty writes cannot reach a chip that does not acknowledge) and exit 3.
/// </summary>
public sealed class SimFaultInjectionTests
{
    /// <summary>200 Hz control, PCA9685 read back every 50 reads; one step for the retries and one for the stop.</summary>
    private const int MaxPeriodsToMotorsOff = 50 + 2;

    private static string RepoRoot([CallerFilePath] string here = "")
    {
        var dir = new DirectoryInfo(Path.GetDirectoryName(here)!);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "RobotPG.sln")))
            dir = dir.Parent;
        return dir!.FullName;
    }

    [Fact]
    public async Task Pca9685_that_stops_acknowledging_mid_run_ends_with_both_direction_pins_low_and_exit_code_3()
    {
        string root = RepoRoot();
        string work = Path.Combine(Path.GetTempPath(), "robotpg-fault-" + Guid.NewGuid().ToString("N"));
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
            var motors = sim.Inspect(r => r.Config.Motors);

            // A policy that drives the motors: zero mean, σ = 0.5.
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

            // Switch the fault on after the 5th tick with a motor driven (a direction pin high, duty > 0),
            // then note the first tick at which every direction pin is low. Runs under the server's lock.
            ulong faultAt = 0, pinsLowAt = 0;
            int drivenTicks = 0;
            double[] dutyAtFault = new double[motors.Length];
            bool fellBeforeStop = false;
            sim.TickPublished += sequence => sim.Inspect(r =>
            {
                bool anyPinHigh = false;
                foreach (var m in motors) anyPinHigh |= r.PinLevel(m.In1Pin) || r.PinLevel(m.In2Pin);
                if (faultAt == 0)
                {
                    bool duty = false;
                    foreach (var m in motors) duty |= r.Pca9685!.DutyCycle(m.PwmChannel) > 0;
                    if (anyPinHigh && duty && !r.Fallen && ++drivenTicks == 5)
                    {
                        faultAt = sequence;
                        for (int i = 0; i < motors.Length; i++) dutyAtFault[i] = r.Pca9685!.DutyCycle(motors[i].PwmChannel);
                        r.SetFaults([new SimFault(SimFaultKind.I2cNack, 0x40, SimNackMode.Permanent)]);
                    }
                }
                else if (pinsLowAt == 0 && !anyPinHigh)
                {
                    pinsLowAt = sequence;
                    fellBeforeStop = r.Fallen;
                }
                return 0;
            });

            var output = new StringWriter();
            var error = new StringWriter();
            int code = await Task.Run(() => RobotPgCli.Run(["run", "--config", configFile, "--duration", "10"], output, error))
                .WaitAsync(TimeSpan.FromMinutes(3));

            Assert.True(faultAt > 0, "the motors were never driven, so the fault was never switched on");
            Assert.True(code == 3, $"exit {code}, fault at tick {faultAt}, pins low at {pinsLowAt}: {output}{error}");
            Assert.Contains("motors off (bus-fault)", output.ToString());
            // The exit line names the fault, the chip and its address (the tick number in the sim's words varies).
            Assert.StartsWith("robotpg: motors off after a bus-fault (i2c-nack: PCA9685 at I2C bus 1 address 0x40: read-back of MODE1 failed: ", error.ToString());
            Assert.EndsWith(") that does not clear by itself; exiting 3 so the service restarts the controller\n", error.ToString());
            Assert.Single(error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.False(fellBeforeStop, "the robot fell first: the tilt rule, not the bus fault, may have stopped the motors");
            Assert.InRange(pinsLowAt, faultAt + 1, faultAt + MaxPeriodsToMotorsOff);
            sim.Inspect(r =>
            {
                Assert.True(r.IsNacking(0x40));
                foreach (var m in motors)
                {
                    Assert.False(r.PinLevel(m.In1Pin), $"IN1 (GPIO {m.In1Pin}) still high");
                    Assert.False(r.PinLevel(m.In2Pin), $"IN2 (GPIO {m.In2Pin}) still high");
                }
                // The duty writes were attempted (and dropped: the chip does not acknowledge), so the chip
                // still holds its duty from before the fault; the bridge coasts on its low inputs.
                Assert.True(r.NackedWrites > 0, "the controller never tried to write the PCA9685 after the fault");
                for (int i = 0; i < motors.Length; i++) Assert.Equal(dutyAtFault[i], r.Pca9685!.DutyCycle(motors[i].PwmChannel));
                return 0;
            });
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>
    /// <c>robotpg-sim serve --fault mqtt-drop:p=0.05 --fault broker-restart@200</c> with the controller attached over
    /// real MQTT (lockstep): frames are lost both ways and the broker goes away once, yet the run goes its full
    /// length (lockstep recovers: the sim says its tick again, the controller answers again), ends with exit 0 and
    /// logs a record for every period.
    /// </summary>
    [Fact]
    public async Task Lockstep_run_recovers_from_lost_frames_and_a_broker_restart()
    {
        string root = RepoRoot();
        string work = Path.Combine(Path.GetTempPath(), "robotpg-link-fault-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(work);
        try
        {
            await using var sim = await SimulationServer.StartAsync(new SimulationServerOptions
            {
                Robot = "balance-bot",
                Seed = 12,
                Clock = SimClockMode.Lockstep,
                EmbeddedPort = 0,
                PhysicsDirectory = Path.Combine(root, "firmware-config", "robots"),
                Faults = [SimFault.TryParse("mqtt-drop:p=0.05", out _)!, SimFault.TryParse("broker-restart@200", out _)!],
            });
            var config = JsonNode.Parse(File.ReadAllText(Path.Combine(root, "firmware-config", "balance-bot.sim.json")))!.AsObject();
            config.Remove("$schema");
            config["bus"]!["broker"] = $"mqtt://127.0.0.1:{sim.BrokerPort}";
            config["log"]!["directory"] = Path.Combine(work, "logs");
            config["telemetry"]!["enabled"] = false;
            string configFile = Path.Combine(work, "balance-bot.sim.json");
            File.WriteAllText(configFile, config.ToJsonString());

            var output = new StringWriter();
            var error = new StringWriter();
            int code = await Task.Run(() => RobotPgCli.Run(["run", "--config", configFile, "--duration", "2"], output, error))
                .WaitAsync(TimeSpan.FromMinutes(3));

            Assert.True(code == 0, $"exit {code}: {output}{error}");
            Assert.Contains("robotpg: stopped after 400 steps, ", output.ToString());
            Assert.Contains(" 400 records logged", output.ToString());
            Assert.Equal(1, sim.BrokerRestarts);
            Assert.True(sim.Link!.Dropped > 0, "no frame was dropped");
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}

