using System.Globalization;
using System.Text.Json.Nodes;
using RobotPG.Controller.Cli;
using RobotPG.Controller.Configuration;
using RobotPG.Controller.Control;
using RobotPG.Controller.Hosting;
using RobotPG.Controller.Tasks;
using RobotPG.Hardware;

namespace RobotPG.Controller.Tests.SelfTest;

/// <summary>The BNO055 (Iot.Device.Bindings' driver behind <see cref="Bno055Imu"/>) against its register fake.</summary>
public sealed class Bno055Tests
{
    [Fact]
    public void The_binding_sets_units_and_fusion_mode_and_the_frame_holds_si_units_decoded_from_the_registers()
    {
        var chip = new Bno055RegisterFake();
        chip.SetSample(-171, 25, 966, -32, 160, 7, temperature: -12);
        using var imu = new Bno055Imu(chip, new Bno055Options { TemperatureEveryReads = 1 });
        imu.Initialize();

        // UNIT_SEL 0x00: m/s², °/s, degrees, °C, Windows orientation (power-on 0x80); OPR_MODE 0x08: IMU fusion (no magnetometer).
        Assert.Equal(0x00, chip[Bno055RegisterFake.UnitSel]);
        Assert.Equal(0x08, chip[Bno055RegisterFake.OprMode]);
        var frame = new SensorFrame(0);
        imu.Read(frame);
        // References from the datasheet's scales, in double: 1 m/s² = 100 LSB, 1 °/s = 16 LSB.
        Assert.Equal(-1.71, frame.AccelX, 1e-5);
        Assert.Equal(0.25, frame.AccelY, 1e-5);
        Assert.Equal(9.66, frame.AccelZ, 1e-5);
        Assert.Equal(-32 / 16.0 * Math.PI / 180, frame.GyroX, 1e-6);
        Assert.Equal(160 / 16.0 * Math.PI / 180, frame.GyroY, 1e-6);
        Assert.Equal(7 / 16.0 * Math.PI / 180, frame.GyroZ, 1e-6);
        Assert.Equal(-12f, frame.TemperatureC);
        Assert.True(imu.LastReadChanged);
        imu.Read(frame);
        Assert.False(imu.LastReadChanged); // the same registers again: stale
    }

    [Fact]
    public void A_chip_that_is_not_a_bno055_is_a_bus_fault_naming_the_address()
    {
        var chip = new Bno055RegisterFake(chipId: 0x68);
        var fault = Assert.Throws<BusFaultException>(() => new Bno055Imu(chip).Initialize());
        Assert.Equal("BNO055 at I2C bus 1 address 0x28: identity check failed: CHIP_ID (0x00) is not 0xA0: not a BNO055 (check the address: 0x28, or 0x29 with COM3 high)", fault.Message);
    }

    private static RobotConfig BalanceBotWithBno055(Action<JsonObject>? edit = null)
    {
        var json = JsonNode.Parse(File.ReadAllText(RepoPaths.FirmwareConfig("balance-bot.json")))!.AsObject();
        json["imu"] = new JsonObject
        {
            ["kind"] = "bno055", ["address"] = 0x28, ["accelRangeG"] = 4, ["gyroRangeDps"] = 2000, ["calibrationSamples"] = 0,
            ["mounting"] = new JsonObject { ["forward"] = "+x", ["up"] = "+z" },
        };
        json.Remove("$schema");
        edit?.Invoke(json);
        var loaded = ConfigLoader.Parse("robot.json", json.ToJsonString(), Path.GetDirectoryName(RepoPaths.FirmwareConfig("balance-bot.json"))!);
        Assert.True(loaded.Ok, string.Join("; ", loaded.Errors.Select(e => e.Format("robot.json"))));
        return loaded.Config!;
    }

    [Fact]
    public void Probe_prints_the_pitch_from_a_bno055_register_image()
    {
        const double theta = 10 * Math.PI / 180;
        short ax = (short)Math.Round(-981 * Math.Sin(theta)), az = (short)Math.Round(981 * Math.Cos(theta));
        var robot = new RobotOnTheBench();
        robot.Bno055.SetSample(ax, 0, az, 0, 160, 0);
        var output = new StringWriter();
        var error = new StringWriter();

        int code = ProbeCommand.Probe(BalanceBotWithBno055(), robot, new ProbeOptions { ImuSamples = 3 }, new StringReader("n\n"), output, error);

        Assert.True(code == 0, error.ToString());
        string pitch = (Math.Atan2(-ax, az) * 180 / Math.PI).ToString("+0.0;-0.0", CultureInfo.InvariantCulture);
        Assert.Equal("+10.0", pitch);
        string text = output.ToString();
        Assert.Contains("IMU: BNO055 at I2C bus 1 address 0x28 answers CHIP_ID 0xA0; IMU fusion mode, ±4 g, ±2000 °/s\n", text);
        Assert.Contains($"IMU: in the config's axes (forward \"+x\", up \"+z\"): pitch {pitch}° (+ = leaning forward), pitch rate +10.00 °/s\n", text);
        Assert.Contains("IMU: gravity reads along the chip's +z axis", text);
    }

    [Fact]
    public void A_bno055_robot_tipping_past_the_tilt_limit_has_its_motors_turned_off()
    {
        RobotConfig config = BalanceBotWithBno055();
        var robot = new RobotOnTheBench { LiveSensors = true };
        robot.Bno055.SetSample(0, 0, 981, 0, 0, 0);
        DriverRobotIoOptions options = DriverOptionsMapping.ToDriverOptions(config);
        Assert.Null(options.Imu);
        using var io = new DriverRobotIo(options, robot);
        var safety = new SafetySupervisor(config.Safety, config.ControlRateHz, 2);
        var loop = new ControlLoop(io, ControlTasks.Create(config), new PolicyExchange(BatteryTests.ForwardPolicy()), safety, config.ControlRateHz,
            config.Task.MaxEpisodeSteps, seed: 1, clock: new BatteryTests.NoWaitClock());

        for (int step = 1; step <= 20; step++) loop.Step(step);
        Assert.False(safety.Tripped);
        Assert.True(robot.Pca.DutyCycle(0) > 0, "upright: the motors should be driven");

        // Tipped 40° forward (past safety.tiltLimitDeg 35): the complementary filter (α 0.98) passes 35° after
        // ln(1 − 35/40) / ln 0.98 ≈ 103 steps.
        const double tip = 40 * Math.PI / 180;
        robot.Bno055.SetSample((short)Math.Round(-981 * Math.Sin(tip)), 0, (short)Math.Round(981 * Math.Cos(tip)), 0, 0, 0);
        int tripped = 0;
        for (int step = 21; step <= 300 && tripped == 0; step++)
        {
            loop.Step(step);
            if (safety.Tripped) tripped = step - 20;
        }
        Assert.Equal(SafetyCause.Tilt, safety.Cause);
        Assert.InRange(tripped, 100, 106);
        BatteryTests.AssertMotorsOff(robot);
    }

    [Fact]
    public void Bno055_config_rules_name_the_field_and_the_reason()
    {
        var json = JsonNode.Parse(File.ReadAllText(RepoPaths.FirmwareConfig("balance-bot.sim.json")))!.AsObject();
        json["imu"]!["kind"] = "bno055";
        json.Remove("$schema");
        var loaded = ConfigLoader.Parse("robot.json", json.ToJsonString(), Path.GetDirectoryName(RepoPaths.FirmwareConfig("balance-bot.json"))!);

        string[] errors = loaded.Errors.Select(e => e.Format("robot.json")).ToArray();
        Assert.Contains("robot.json: $.imu.address: 0x68 is not a BNO055 address (0x28 with COM3 low, 0x29 with COM3 high)", errors);
        Assert.Contains("robot.json: $.imu.gyroRangeDps: must be 2000: the BNO055's fusion mode runs its gyro at ±2000 °/s", errors);
        Assert.Contains("robot.json: $.imu.kind: \"bno055\" needs bus.kind \"pi\" (the simulator emulates an MPU-6050)", errors);
    }
}
