using System.Device.Gpio;
using System.Device.I2c;
using System.Device.Pwm;
using System.Globalization;
using RobotPG.Controller.Cli;
using RobotPG.Controller.Configuration;
using RobotPG.Controller.SelfTest;
using RobotPG.Hardware;
using RobotPG.Sim.Devices;

namespace RobotPG.Controller.Tests.SelfTest;

/// <summary>
/// <c>robotpg probe</c> against the MPU-6050 and PCA9685 register fakes and the emulated GPIO header of
/// firmware-config/balance-bot.json: left motor PCA9685 channel 0, IN1/IN2 GPIO 5/6; right motor channel 1,
/// GPIO 20/21, inverted; IMU ±4 g (8192 LSB/g), ±500 °/s (65.5 LSB/(°/s)), mounted forward +x, up +z.
/// </summary>
public sealed class ProbeTests
{
    private static readonly int[] MotorPins = [5, 6, 20, 21];

    /// <summary>What the outputs were while a spin was held: the duty each PCA9685 motor channel outputs and the four direction pins.</summary>
    private readonly record struct Outputs(double Left, double Right, bool Pin5, bool Pin6, bool Pin20, bool Pin21)
    {
        public static Outputs Of(RobotOnTheBench robot) => new(
            robot.Pca.DutyCycle(0), robot.Pca.DutyCycle(1),
            robot.Header.Level(5), robot.Header.Level(6), robot.Header.Level(20), robot.Header.Level(21));
    }

    private static RobotConfig BalanceBot()
    {
        var loaded = ConfigLoader.Load(RepoPaths.FirmwareConfig("balance-bot.json"));
        Assert.True(loaded.Ok);
        return loaded.Config!;
    }

    private static readonly ProbeOptions Fast = new() { ImuSamples = 4, SpinTime = TimeSpan.FromMilliseconds(1) };

    /// <summary>The chip's 12-bit quantisation of a duty (the driver writes OFF = round(duty·4096)).</summary>
    private static double Quantised(double duty) => Math.Round(duty * 4096) / 4096;

    private static void AssertAllOff(RobotOnTheBench robot)
    {
        for (int channel = 0; channel < 16; channel++)
            Assert.True(robot.Pca.DutyCycle(channel) == 0, $"PCA9685 channel {channel} still outputs duty {robot.Pca.DutyCycle(channel)}");
        foreach (int pin in MotorPins)
        {
            Assert.Equal(PinMode.Output, robot.Header.ModeOf(pin));
            Assert.False(robot.Header.Level(pin), $"GPIO {pin} still high");
        }
    }

    [Fact]
    public void Tilt_and_gyro_are_printed_in_the_configs_axes_from_a_known_register_image()
    {
        // Body pitched 10° forward at rest: specific force −g·sin θ along forward (+x), g·cos θ along up (+z);
        // the gyro reads 10 °/s about +y (= up × forward, the pitch axis): 655 LSB at 65.5 LSB/(°/s).
        const double theta = 10 * Math.PI / 180;
        short ax = (short)Math.Round(-8192 * Math.Sin(theta)), az = (short)Math.Round(8192 * Math.Cos(theta));
        var robot = new RobotOnTheBench();
        robot.Imu.SetSample(ax, 0, az, 0, 0, 655, 0);
        var output = new StringWriter();
        var error = new StringWriter();

        int code = ProbeCommand.Probe(BalanceBot(), robot, Fast, new StringReader("n\n"), output, error);

        Assert.True(code == 0, error.ToString());
        string text = output.ToString();
        // Independent reference: the pitch from the raw words in double precision (the scale cancels).
        double pitch = Math.Atan2(-ax, az) * 180 / Math.PI;
        Assert.Equal(10.0, Math.Round(pitch, 1));
        double g = 9.80665 / 8192;
        Assert.Contains(string.Create(CultureInfo.InvariantCulture,
            $"IMU: mean of 4 samples in the chip's axes: accel x {ax * g:+0.00;-0.00} y +0.00 z {az * g:+0.00;-0.00} m/s², gyro x +0.00 y +10.00 z +0.00 °/s, 36.5 °C\n"), text);
        Assert.Contains("IMU: MPU-6050 at I2C bus 1 address 0x68 answers WHO_AM_I 0x68; ranges ±4 g, ±500 °/s\n", text);
        Assert.Contains("IMU: gravity reads along the chip's +z axis (1.00 g); the config's imu.mounting.up is \"+z\": ok\n", text);
        Assert.Contains("IMU: in the config's axes (forward \"+x\", up \"+z\"): pitch +10.0° (+ = leaning forward), pitch rate +10.00 °/s\n", text);
        Assert.Equal(4, robot.ImuReads);
    }

    [Fact]
    public void An_imu_mounted_upside_down_is_named_with_the_line_to_change()
    {
        var robot = new RobotOnTheBench();
        robot.Imu.SetSample(0, 0, -8192, 0, 0, 0, 0); // gravity along −z: the board is upside down
        var output = new StringWriter();

        Assert.Equal(0, ProbeCommand.Probe(BalanceBot(), robot, Fast, new StringReader(""), output, new StringWriter()));

        Assert.Contains("IMU: MISMATCH: gravity reads along the chip's -z axis (1.00 g) but imu.mounting.up is \"+z\": if the robot stands upright now, set imu.mounting.up to \"-z\"\n", output.ToString());
    }

    [Theory]
    [InlineData("n\n")]
    [InlineData("\n")]
    [InlineData("")] // stdin closed (a script without --yes)
    [InlineData("maybe\n")]
    public void Without_confirmation_no_motor_output_is_touched(string answer)
    {
        var robot = new RobotOnTheBench();
        robot.Imu.SetSample(0, 0, 8192, 0, 0, 0, 0);
        var output = new StringWriter();

        int code = ProbeCommand.Probe(BalanceBot(), robot, Fast, new StringReader(answer), output, new StringWriter(),
            hold: (_, _) => Assert.Fail("a motor was spun without confirmation"));

        Assert.Equal(0, code);
        Assert.Contains("Spin them? [y/N] \nMotors: not confirmed; no motor was driven (answer y, or pass --yes)\n", output.ToString());
        // The PCA9685 still holds its power-on registers (MODE1 0x11: asleep) and no direction pin was opened.
        Assert.Equal(0x11, robot.Pca[0x00]);
        Assert.Equal(0x1E, robot.Pca.PrescaleRegister);
        foreach (int pin in MotorPins) Assert.False(robot.Header.IsOpen(pin), $"GPIO {pin} was opened");
    }

    [Fact]
    public void Each_motor_spins_forward_then_backward_alone_at_the_duty_and_everything_is_off_after()
    {
        var robot = new RobotOnTheBench();
        robot.Imu.SetSample(0, 0, 8192, 0, 0, 0, 0);
        var held = new List<Outputs>();
        var output = new StringWriter();
        var error = new StringWriter();

        int code = ProbeCommand.Probe(BalanceBot(), robot, Fast with { Duty = 0.2 }, new StringReader("y\n"), output, error,
            hold: (_, _) => held.Add(Outputs.Of(robot)));

        Assert.True(code == 0, error.ToString());
        double d = Quantised(0.2);
        Assert.Equal(
        [
            new Outputs(d, 0, true, false, false, false),  // left forward: IN1 high, IN2 low
            new Outputs(d, 0, false, true, false, false),  // left backward
            new Outputs(0, d, false, false, false, true),  // right forward, inverted: IN2 high
            new Outputs(0, d, false, false, true, false),  // right backward, inverted: IN1 high
        ], held);
        // The frequency the config asks for: PRE_SCALE = round(25 MHz / (4096 · 1000 Hz)) − 1 = 5.
        Assert.Equal(5, robot.Pca.PrescaleRegister);
        AssertAllOff(robot);
        string text = output.ToString();
        Assert.Contains("motor 'left' (PCA9685 channel 0, IN1 GPIO 5, IN2 GPIO 6): forward at duty 0.20 for 0.001 s ... off\n", text);
        Assert.Contains("if it turned backward first, set motors[0].inverted to true;", text);
        Assert.Contains("if it turned backward first, set motors[1].inverted to false;", text);
        Assert.EndsWith("Motors: done, all off\n", text);
    }

    [Fact]
    public void Yes_skips_the_question()
    {
        var robot = new RobotOnTheBench();
        robot.Imu.SetSample(0, 0, 8192, 0, 0, 0, 0);
        int spins = 0;
        var output = new StringWriter();

        int code = ProbeCommand.Probe(BalanceBot(), robot, Fast with { AssumeYes = true }, new StringReader(""), output, new StringWriter(),
            hold: (_, _) => spins++);

        Assert.Equal(0, code);
        Assert.Equal(4, spins);
        Assert.DoesNotContain("[y/N]", output.ToString());
    }

    [Fact]
    public void Ctrl_c_during_a_spin_stops_every_motor_and_spins_no_other()
    {
        var robot = new RobotOnTheBench();
        robot.Imu.SetSample(0, 0, 8192, 0, 0, 0, 0);
        using var interrupt = new CancellationTokenSource();
        var held = new List<Outputs>();
        var error = new StringWriter();

        int code = ProbeCommand.Probe(BalanceBot(), robot, Fast with { AssumeYes = true }, new StringReader(""), new StringWriter(), error, interrupt.Token,
            hold: (_, _) =>
            {
                held.Add(Outputs.Of(robot));
                interrupt.Cancel(); // SIGINT arrives while the left wheel turns forward
            });

        Assert.Equal(1, code);
        Assert.Equal([new Outputs(Quantised(0.2), 0, true, false, false, false)], held);
        AssertAllOff(robot);
        Assert.Equal("robotpg probe: interrupted; motors stopped\n", error.ToString());
    }

    [Fact]
    public void A_nack_while_stopping_a_spin_ends_the_probe_with_the_motors_off()
    {
        var robot = new RobotOnTheBench();
        robot.Imu.SetSample(0, 0, 8192, 0, 0, 0, 0);
        int spins = 0;
        var error = new StringWriter();

        int code = ProbeCommand.Probe(BalanceBot(), robot, Fast with { AssumeYes = true }, new StringReader(""), new StringWriter(), error,
            hold: (_, _) =>
            {
                spins++;
                robot.PcaLink.FailNext = 1; // the duty-0 write that ends the spin is NACKed once
            });

        Assert.Equal(1, code);
        Assert.Equal(1, spins);
        // The all-off write after the NACK and the final stop reached the chip: PWM 0, pins low.
        AssertAllOff(robot);
        string line = Assert.Single(error.ToString().TrimEnd('\n').Split('\n'));
        Assert.StartsWith("robotpg probe: motors: stopping the motors after the spin failed: PCA9685 at I2C bus 1 address 0x40:", line);
        Assert.EndsWith("; motors stopped", line);
    }

    [Fact]
    public void A_pca9685_gone_mid_spin_still_takes_the_direction_pins_low_and_says_the_stop_failed()
    {
        var robot = new RobotOnTheBench();
        robot.Imu.SetSample(0, 0, 8192, 0, 0, 0, 0);
        var error = new StringWriter();

        int code = ProbeCommand.Probe(BalanceBot(), robot, Fast with { AssumeYes = true }, new StringReader(""), new StringWriter(), error,
            hold: (_, _) => robot.PcaLink.Dead = true);

        Assert.Equal(1, code);
        // The chip cannot be reached, so its last duty stays; with IN1 = IN2 = low the bridge coasts anyway.
        foreach (int pin in MotorPins) Assert.False(robot.Header.Level(pin), $"GPIO {pin} still high");
        string line = Assert.Single(error.ToString().TrimEnd('\n').Split('\n'));
        Assert.Contains("the final motors-off failed too", line);
        Assert.Contains("run robotpg motors-off --config <file> or cut the motor supply", line);
    }

    [Fact]
    public void An_imu_that_does_not_answer_is_one_line_and_no_motor_is_touched()
    {
        var robot = new RobotOnTheBench { ImuMissing = true };
        var error = new StringWriter();

        int code = ProbeCommand.Probe(BalanceBot(), robot, Fast with { AssumeYes = true }, new StringReader(""), new StringWriter(), error,
            hold: (_, _) => Assert.Fail("a motor was spun after the IMU failed"));

        Assert.Equal(1, code);
        Assert.Equal("robotpg probe: IMU: MPU-6050 at I2C bus 1 address 0x68: read of WHO_AM_I (0x75) failed: Error 121 performing I2C data transfer (remote I/O error: the chip does not answer); no motor was driven\n", error.ToString());
        Assert.Equal(0x11, robot.Pca[0x00]);
    }

    [Theory]
    [InlineData("--duty", "0.9", "robotpg probe: --duty must be in (0, 0.5] (a probe is not a test drive)")]
    [InlineData("--duty", "0", "robotpg probe: --duty must be in (0, 0.5] (a probe is not a test drive)")]
    [InlineData("--seconds", "60", "robotpg probe: --seconds must be in (0, 5]")]
    [InlineData("--samples", "0", "robotpg probe: --samples must be at least 1")]
    public void Bad_options_are_one_line_and_exit_2(string option, string value, string message)
    {
        var error = new StringWriter();
        Assert.Equal(2, RobotPgCli.Run(["probe", "--config", RepoPaths.FirmwareConfig("balance-bot.json"), option, value], new StringWriter(), error));
        Assert.Equal(message + "\n", error.ToString());
    }

    [Fact]
    public void A_sim_config_is_refused_with_exit_2()
    {
        var error = new StringWriter();
        Assert.Equal(2, RobotPgCli.Run(["probe", "--config", RepoPaths.FirmwareConfig("balance-bot.sim.json")], new StringWriter(), error));
        Assert.Contains("bus.kind is \"sim\"", Assert.Single(error.ToString().TrimEnd('\n').Split('\n')));
    }
}
