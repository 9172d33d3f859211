using System.Device.Gpio;
using System.Text.Json.Nodes;
using RobotPG.Controller.Configuration;
using RobotPG.Controller.Control;
using RobotPG.Controller.Hosting;
using RobotPG.Controller.Tasks;
using RobotPG.Hardware;

namespace RobotPG.Controller.Tests.SelfTest;

/// <summary>The INA219 battery monitor against its register fake, and the low-battery rule on the real drivers' outputs.</summary>
public sealed class BatteryTests
{
    [Theory]
    [InlineData(7.4)]
    [InlineData(12.6)]
    [InlineData(0.004)]
    [InlineData(26.0)]
    public void Bus_volts_decode_from_bits_15_to_3_at_4_mV(double volts)
    {
        var chip = new Ina219RegisterFake();
        chip.SetBusVolts(volts);
        var ina = new Ina219(chip);

        // Reference: the register's BD field (bits 15–3) × 4 mV, from the datasheet, in double.
        double expected = (chip[2] >> 3) * 0.004;
        Assert.Equal(expected, ina.ReadBusVolts(), 1e-5);
        Assert.Equal(volts, ina.ReadBusVolts(), 1e-5);
    }

    [Theory]
    [InlineData(-1500, -0.15)]  // charging: a negative shunt drop (an unsigned read gives +0.640 V / 0.1 Ω = 6.4 A)
    [InlineData(1500, 0.15)]
    [InlineData(-32000, -3.2)]
    public void Shunt_current_is_signed_10_uV_per_lsb_over_the_shunt(short raw, double amps)
    {
        var chip = new Ina219RegisterFake();
        chip.SetShuntRaw(raw);
        var ina = new Ina219(chip, new Ina219Options { ShuntOhms = 0.1 });

        Assert.Equal(amps, ina.ReadShuntAmps(), 1e-5);
    }

    [Fact]
    public void Initialize_writes_the_configuration_and_a_chip_that_does_not_take_it_is_a_bus_fault()
    {
        var chip = new Ina219RegisterFake(address: 0x41);
        new Ina219(chip).Initialize();
        Assert.Equal(0x399F, chip[0]);

        var stubborn = new Ina219RegisterFake(address: 0x41) { IgnoresWrites = true };
        stubborn.Write([0x00]); // pointer only
        var other = new Nackable(stubborn);
        var ok = new Ina219(other);
        ok.Initialize(); // reads back the power-on 0x399F: a genuine INA219 after power-on is fine
        other.Dead = true;
        var fault = Assert.Throws<BusFaultException>(() => new Ina219(other).Initialize());
        Assert.StartsWith("INA219 at I2C bus 1 address 0x41: write of CONFIGURATION (0x00) failed:", fault.Message);
    }

    internal static RobotConfig BalanceBotWithBattery(int lowPeriods)
    {
        var json = JsonNode.Parse(File.ReadAllText(RepoPaths.FirmwareConfig("balance-bot.json")))!.AsObject();
        json["battery"] = new JsonObject { ["ina219Address"] = 0x41, ["shuntOhms"] = 0.1, ["minVolts"] = 6.6, ["lowPeriods"] = lowPeriods };
        json.Remove("$schema");
        var loaded = ConfigLoader.Parse("robot.json", json.ToJsonString(), Path.GetDirectoryName(RepoPaths.FirmwareConfig("balance-bot.json"))!);
        Assert.True(loaded.Ok, string.Join("; ", loaded.Errors.Select(e => e.Format("robot.json"))));
        return loaded.Config!;
    }

    internal sealed class NoWaitClock : IStepClock
    {
        public long WaitUntil(long deadline) => deadline;
    }

    [Fact]
    public void A_battery_low_for_low_periods_turns_the_motors_off_and_they_stay_off_when_it_recovers()
    {
        RobotConfig config = BalanceBotWithBattery(lowPeriods: 5);
        var robot = new RobotOnTheBench { LiveSensors = true };
        robot.Imu.SetSample(0, 0, 8192, 0, 0, 0, 0); // upright and still
        robot.Battery.SetBusVolts(7.4);
        DriverRobotIoOptions options = DriverOptionsMapping.ToDriverOptions(config) with { CalibrationSamplePeriod = TimeSpan.Zero };
        Assert.Equal(10, options.BatteryReadEveryReads); // 200 Hz / 20 battery reads a second
        using var io = new DriverRobotIo(options, robot);
        var safety = new SafetySupervisor(config.Safety, config.ControlRateHz, 2, config.Battery);
        var loop = new ControlLoop(io, ControlTasks.Create(config), new PolicyExchange(ForwardPolicy()), safety, config.ControlRateHz,
            config.Task.MaxEpisodeSteps, seed: 1, clock: new NoWaitClock());

        for (int step = 1; step <= 20; step++) loop.Step(step);
        Assert.False(safety.Tripped);
        Assert.True(robot.Pca.DutyCycle(0) > 0 && robot.Pca.DutyCycle(1) > 0, "the motors should be driven on a good battery");
        Assert.Equal(7.4f, io.Battery!.ReadBusVolts(), 1e-4);

        // The battery sags after read 20; the monitor reads it at read 21 (every 10th read: 1, 11, 21, ...),
        // so reads 21–24 are 4 low periods and read 25 the 5th.
        robot.Battery.SetBusVolts(6.2);
        for (int step = 21; step <= 24; step++) loop.Step(step);
        Assert.False(safety.Tripped);
        Assert.True(robot.Pca.DutyCycle(0) > 0, "motors off before lowPeriods low readings");
        loop.Step(25);
        Assert.True(safety.Tripped);
        Assert.Equal(SafetyCause.LowBattery, safety.Cause);
        Assert.Equal("low-battery", RobotPG.Controller.Telemetry.TelemetryPublisher.CauseName(safety.Cause));
        AssertMotorsOff(robot);

        // The voltage recovers once the load is gone; the trip holds (past the one-second auto re-arm of tilt trips).
        robot.Battery.SetBusVolts(7.4);
        for (int step = 26; step <= 26 + 3 * 200; step++) loop.Step(step);
        Assert.True(safety.Tripped);
        Assert.Equal(SafetyCause.LowBattery, safety.Cause);
        AssertMotorsOff(robot);
        Assert.Equal(1, safety.Events(SafetyCause.LowBattery));
    }

    /// <summary>A deterministic policy whose every weight and bias is 0.5: on the robot's zero observation it asks for about +0.96 on both wheels.</summary>
    internal static ControlPolicy ForwardPolicy()
    {
        var network = new RobotPG.Learning.Networks.GaussianPolicy(4, 2, [2], maxBatch: 1, seed: 1);
        network.Parameters.Fill(0.5f);
        return ControlPolicy.FromNetwork(network, normalizer: null, deterministic: true, "test: forward");
    }

    internal static void AssertMotorsOff(RobotOnTheBench robot)
    {
        Assert.Equal(0.0, robot.Pca.DutyCycle(0));
        Assert.Equal(0.0, robot.Pca.DutyCycle(1));
        foreach (int pin in new[] { 5, 6, 20, 21 })
        {
            Assert.Equal(PinMode.Output, robot.Header.ModeOf(pin));
            Assert.False(robot.Header.Level(pin), $"GPIO {pin} still high");
        }
    }

    [Fact]
    public void A_battery_on_a_sim_bus_or_on_the_pca9685_address_is_refused()
    {
        var json = JsonNode.Parse(File.ReadAllText(RepoPaths.FirmwareConfig("balance-bot.sim.json")))!.AsObject();
        json["battery"] = new JsonObject { ["ina219Address"] = 0x40, ["shuntOhms"] = 0.1, ["minVolts"] = 6.6 };
        json.Remove("$schema");
        var loaded = ConfigLoader.Parse("robot.json", json.ToJsonString(), Path.GetDirectoryName(RepoPaths.FirmwareConfig("balance-bot.json"))!);

        Assert.False(loaded.Ok);
        Assert.Contains(loaded.Errors, e => e.Format("robot.json") == "robot.json: $.battery: only allowed when bus.kind is \"pi\" (the simulator has no INA219)");
        Assert.Contains(loaded.Errors, e => e.Format("robot.json") == "robot.json: $.battery.ina219Address: 0x40 is already used by $.pca9685.address (strap A0 high for 0x41)");
    }

    [Fact]
    public void Probe_prints_the_battery_and_refuses_to_spin_on_a_low_one()
    {
        RobotConfig config = BalanceBotWithBattery(lowPeriods: 5);
        var robot = new RobotOnTheBench();
        robot.Imu.SetSample(0, 0, 8192, 0, 0, 0, 0);
        robot.Battery.SetBusVolts(7.4);
        robot.Battery.SetShuntRaw(-1500);
        var output = new StringWriter();

        Assert.Equal(0, Cli.ProbeCommand.Probe(config, robot, new Cli.ProbeOptions { ImuSamples = 1 }, new StringReader("n\n"), output, new StringWriter()));
        Assert.Contains("battery: INA219 at I2C bus 1 address 0x41: 7.40 V, -0.150 A; above battery.minVolts 6.6 V: ok\n", output.ToString());

        robot.Battery.SetBusVolts(6.2);
        var error = new StringWriter();
        int code = Cli.ProbeCommand.Probe(config, robot, new Cli.ProbeOptions { ImuSamples = 1, AssumeYes = true }, new StringReader(""), new StringWriter(), error,
            hold: (_, _) => Assert.Fail("a motor was spun on a low battery"));
        Assert.Equal(1, code);
        Assert.Equal("robotpg probe: battery: 6.20 V is below battery.minVolts 6.6 V (the controller would hold the motors off): charge it; no motor was driven\n", error.ToString());
    }
}
