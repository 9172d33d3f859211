using System.Device.Gpio;
using System.Device.I2c;
using System.Device.Pwm;
using RobotPG.Controller.Cli;
using RobotPG.Controller.Configuration;
using RobotPG.Controller.SelfTest;
using RobotPG.Hardware;
using RobotPG.Sim.Devices;

namespace RobotPG.Controller.Tests.SelfTest;

/// <summary><c>robotpg motors-off</c> against a PCA9685 register fake and the simulator's GPIO header.</summary>
public sealed class MotorsOffTests
{
    /// <summary>A Pi bus whose I2C chips and GPIO header are fakes, recording what was opened.</summary>
    private sealed class RecordingBus(Pca9685RegisterFake pca, EmulatedGpioDriver gpio) : IRobotBus
    {
        public List<I2cConnectionSettings> OpenedI2c { get; } = [];

        public bool FailI2c { get; init; }

        public I2cDevice CreateI2cDevice(I2cConnectionSettings settings)
        {
            OpenedI2c.Add(settings);
            if (FailI2c) throw new IOException("I2C bus 1: no such device (unplugged)");
            return settings.DeviceAddress == pca.ConnectionSettings.DeviceAddress ? pca : throw new IOException($"nothing at 0x{settings.DeviceAddress:X2}");
        }

        public GpioController CreateGpioController() => new(gpio);

        public PwmChannel CreatePwmChannel(int chip, int channel, int frequencyHz, double dutyCycle) =>
            throw new InvalidOperationException("balance-bot.json has no hardware PWM motor");

        public void BeginRead(out long timestamp, out long sequence) => throw new InvalidOperationException("motors-off reads nothing");

        public void CommitWrites()
        {
        }

        public void AwaitFreshData(TimeSpan samplePeriod) => throw new InvalidOperationException("motors-off waits for nothing");
    }

    private static RobotConfig BalanceBot()
    {
        var loaded = ConfigLoader.Load(RepoPaths.FirmwareConfig("balance-bot.json"));
        Assert.True(loaded.Ok);
        return loaded.Config!;
    }

    /// <summary>The robot running: PCA9685 channels 0, 1 (motors) and 2 (not a motor) driving, every motor pin and encoder pin 17 high.</summary>
    private static (Pca9685RegisterFake Chip, EmulatedGpioDriver Header) RunningRobot()
    {
        var chip = new Pca9685RegisterFake();
        var pca = new Pca9685(chip, new Pca9685Options { FrequencyHz = 1000, OscillatorStartup = TimeSpan.Zero });
        pca.Initialize();
        pca.SetDutyCycle(0, 0.5);
        pca.SetDutyCycle(1, 0.75);
        pca.SetDutyCycle(2, 0.25);
        var header = new EmulatedGpioDriver();
        var running = new GpioController(header); // not disposed: disposing would close the pins it set
        foreach (int pin in new[] { 5, 6, 20, 21, 17 })
        {
            running.OpenPin(pin, PinMode.Output);
            running.Write(pin, PinValue.High);
        }
        return (chip, header);
    }

    [Fact]
    public void Only_the_configured_motor_outputs_are_driven_off()
    {
        var (chip, header) = RunningRobot();
        var bus = new RecordingBus(chip, header);
        var output = new StringWriter();
        var error = new StringWriter();

        int code = MotorsOffCommand.StopMotors(BalanceBot(), bus, output, error);

        Assert.True(code == 0, error.ToString());
        Assert.Equal("robotpg motors-off: 2 motor(s) off (PWM 0, direction pins low)\n", output.ToString());
        // Motor channels 0 and 1 full off; channel 2 is not a motor and keeps its duty.
        Assert.True(chip.FullOff(0) && chip.FullOff(1));
        Assert.Equal(0.0, chip.DutyCycle(0));
        Assert.Equal(0.0, chip.DutyCycle(1));
        Assert.Equal(0.25, chip.DutyCycle(2));
        // Only the PCA9685 was opened: the IMU at 0x68 is not touched.
        I2cConnectionSettings opened = Assert.Single(bus.OpenedI2c);
        Assert.Equal((1, 0x40), (opened.BusId, opened.DeviceAddress));
        foreach (int pin in new[] { 5, 6, 20, 21 })
        {
            Assert.Equal(PinMode.Output, header.ModeOf(pin));
            Assert.False(header.Level(pin), $"GPIO {pin} still high");
        }
        Assert.True(header.Level(17), "encoder pin 17 was touched");
    }

    [Fact]
    public void A_chip_reset_to_power_on_state_is_still_driven_off_without_auto_increment()
    {
        // After a reset MODE1.AI is 0: a multi-byte write would pile into one register. Channel 1 full on, written byte by byte.
        var chip = new Pca9685RegisterFake();
        chip.Write([0x06 + 4 * 1 + 1, 0x10]);
        chip.Write([0x06 + 4 * 1 + 3, 0x00]);
        Assert.Equal(1.0, chip.DutyCycle(1));

        int code = MotorsOffCommand.StopMotors(BalanceBot(), new RecordingBus(chip, new EmulatedGpioDriver()), new StringWriter(), new StringWriter());

        Assert.Equal(0, code);
        Assert.Equal(0.0, chip.DutyCycle(1));
    }

    [Fact]
    public void An_unreachable_pwm_chip_is_reported_per_motor_and_the_direction_pins_still_go_low()
    {
        var (chip, header) = RunningRobot();
        var error = new StringWriter();

        int code = MotorsOffCommand.StopMotors(BalanceBot(), new RecordingBus(chip, header) { FailI2c = true }, new StringWriter(), error);

        Assert.Equal(1, code);
        string[] lines = error.ToString().TrimEnd('\n').Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("robotpg motors-off: motor 'left': PWM could not be set off: I2C bus 1: no such device", lines[0]);
        Assert.StartsWith("robotpg motors-off: motor 'right': PWM could not be set off:", lines[1]);
        foreach (int pin in new[] { 5, 6, 20, 21 })
            Assert.False(header.Level(pin), $"GPIO {pin} still high");
    }

    [Fact]
    public void A_sim_config_is_refused_with_exit_2()
    {
        var error = new StringWriter();
        int code = RobotPgCli.Run(["motors-off", "--config", RepoPaths.FirmwareConfig("balance-bot.sim.json")], new StringWriter(), error);

        Assert.Equal(2, code);
        Assert.Contains("bus.kind is \"sim\"", Assert.Single(error.ToString().TrimEnd('\n').Split('\n')));
    }

    [Fact]
    public void A_bad_config_is_refused_before_any_output_is_touched()
    {
        using var dir = new TempDirectory();
        string file = dir.File("bad.json");
        File.WriteAllText(file, "{ \"robotId\": 3 }");
        var error = new StringWriter();

        Assert.Equal(2, RobotPgCli.Run(["motors-off", "--config", file], new StringWriter(), error));
        Assert.Contains("bad.json", error.ToString());
    }
}
