using RobotPG.Messaging;
using RobotPG.Sim.Cli;
using RobotPG.Sim.Devices;
using RobotPG.Sim.Robots;
using RobotPG.Sim.Tests.Robots;
using Xunit;

namespace RobotPG.Sim.Tests.Devices;

/// <summary><c>robotpg-sim serve --fault SPEC</c>: the spec grammar, its errors, and what each fault does to the emulated chips and pins.</summary>
public class SimFaultTests
{
    [Theory]
    [InlineData("i2c-nack:0x40:permanent", SimFaultKind.I2cNack, 0x40, SimNackMode.Permanent, 1.0, -1, 0L)]
    [InlineData("i2c-nack:0x68:once@300", SimFaultKind.I2cNack, 0x68, SimNackMode.Once, 1.0, -1, 300L)]
    [InlineData("i2c-nack:64:p=0.1", SimFaultKind.I2cNack, 0x40, SimNackMode.Intermittent, 0.1, -1, 0L)]
    [InlineData("imu-frozen@7", SimFaultKind.ImuFrozen, 0, SimNackMode.Permanent, 1.0, -1, 7L)]
    [InlineData("pca-brownout", SimFaultKind.PcaBrownout, 0, SimNackMode.Permanent, 1.0, -1, 0L)]
    [InlineData("gpio-write-fail:17", SimFaultKind.GpioWriteFail, 0, SimNackMode.Permanent, 1.0, 17, 0L)]
    public void Specs_parse_to_the_fault_they_name(string spec, SimFaultKind kind, int address, SimNackMode mode, double p, int pin, long from)
    {
        var fault = SimFault.TryParse(spec, out string? problem);
        Assert.Null(problem);
        Assert.Equal(new SimFault(kind, address, mode, p, pin, from), fault);
    }

    [Theory]
    [InlineData("i2c-nack:0x40", "robotpg-sim serve: --fault: 'i2c-nack:0x40': i2c-nack takes an address and a mode (i2c-nack:0x40:permanent)\n")]
    [InlineData("i2c-nack:0x80:once", "robotpg-sim serve: --fault: 'i2c-nack:0x80:once': '0x80' is not a 7-bit I2C address 0x03–0x77\n")]
    [InlineData("i2c-nack:0x40:p=0", "robotpg-sim serve: --fault: 'i2c-nack:0x40:p=0': 'p=0' must be permanent, once or p=P with 0 < P ≤ 1\n")]
    [InlineData("gpio-write-fail:x", "robotpg-sim serve: --fault: 'gpio-write-fail:x': gpio-write-fail takes one GPIO number 0–63 (gpio-write-fail:17)\n")]
    [InlineData("imu-frozen@soon", "robotpg-sim serve: --fault: 'imu-frozen@soon': '@soon' must be @N, a non-negative actuator frame count\n")]
    [InlineData("imu-frozen:1", "robotpg-sim serve: --fault: 'imu-frozen:1' is not a fault; expected " + SimFault.Grammar + "\n")]
    public void A_bad_fault_spec_is_one_line_and_exit_2(string spec, string expected)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = SimCli.Run(["serve", "--port", "0", "--fault", "pca-brownout", "--fault", spec], output, error);
        Assert.Equal(2, code);
        Assert.Equal(expected, error.ToString());
        Assert.Equal("", output.ToString());
    }

    private static SimulatedRobot Robot() => SimulatedRobot.Create(PhysicsTestConfigs.QuietBalanceBot(), seed: 1);

    /// <summary>One actuator frame: PCA9685 channel 0 at OFF count <paramref name="off"/> (ON 0), and one pin.</summary>
    private static SimActuatorFrame Frame(int off, int pin, bool high)
    {
        var frame = new SimActuatorFrame();
        Assert.True(frame.TryAddI2cWrite(0x40, [0x06, 0x00, 0x00, (byte)(off & 0xFF), (byte)(off >> 8)]));
        Assert.True(frame.TrySetPinLevel(pin, high));
        return frame;
    }

    private static void Wake(SimulatedRobot robot)
    {
        var frame = new SimActuatorFrame();
        Assert.True(frame.TryAddI2cWrite(0x40, [0x00, Pca9685Emulator.Mode1AutoIncrement]));
        robot.ApplyActuators(frame);
    }

    [Fact]
    public void Permanent_nack_drops_the_chips_writes_and_leaves_it_out_of_the_sensor_frame_from_its_frame_on()
    {
        var robot = Robot();
        robot.SetFaults([new SimFault(SimFaultKind.I2cNack, 0x40, SimNackMode.Permanent, FromFrame: 2)]);
        Wake(robot);                              // frame 0
        robot.ApplyActuators(Frame(1024, 5, true)); // frame 1: applied
        Assert.Equal(0.25, robot.Pca9685!.DutyCycle(0));
        robot.ApplyActuators(Frame(0, 5, false));  // frame 2: the chip NACKs, the pin is still written
        robot.ApplyActuators(Frame(2048, 5, true));
        Assert.Equal(0.25, robot.Pca9685.DutyCycle(0));
        Assert.Equal(2, robot.NackedWrites);
        Assert.True(robot.PinLevel(5));
        var sensors = new SimSensorFrame();
        robot.FillSensorFrame(sensors);
        Assert.True(sensors.ImageOf(0x40).IsEmpty);
        Assert.Equal(robot.Imu!.RegisterImage.ToArray(), sensors.ImageOf(0x68).ToArray());
    }

    [Fact]
    public void Once_nacks_exactly_its_one_frame()
    {
        var robot = Robot();
        robot.SetFaults([new SimFault(SimFaultKind.I2cNack, 0x40, SimNackMode.Once, FromFrame: 1)]);
        Wake(robot);
        robot.ApplyActuators(Frame(1024, 5, true)); // frame 1: dropped
        Assert.Equal(0.0, robot.Pca9685!.DutyCycle(0));
        var sensors = new SimSensorFrame();
        robot.FillSensorFrame(sensors);
        Assert.True(sensors.ImageOf(0x40).IsEmpty);
        robot.ApplyActuators(Frame(1024, 5, true)); // frame 2: acknowledged again
        Assert.Equal(0.25, robot.Pca9685.DutyCycle(0));
        robot.FillSensorFrame(sensors);
        Assert.Equal(robot.Pca9685.RegisterImage.ToArray(), sensors.ImageOf(0x40).ToArray());
        Assert.Equal(1, robot.NackedWrites);
    }

    [Fact]
    public void Intermittent_nack_drops_about_p_of_the_frames()
    {
        var robot = Robot();
        robot.SetFaults([new SimFault(SimFaultKind.I2cNack, 0x40, SimNackMode.Intermittent, 0.1)]);
        var frame = Frame(1024, 5, true);
        for (int i = 0; i < 4000; i++) robot.ApplyActuators(frame);
        // Binomial(4000, 0.1): mean 400, σ = 19; ±5σ (seeded, so this is a fixed number in fact).
        Assert.InRange(robot.NackedWrites, 305, 495);
    }

    [Fact]
    public void Frozen_imu_serves_an_identical_register_image_while_the_body_moves()
    {
        var robot = Robot();
        robot.Imu!.Write([0x6B, 0x00]); // PWR_MGMT_1: awake, so the data registers follow the motion
        robot.Advance();
        byte[] before = robot.Imu!.RegisterImage.ToArray();
        robot.SetFaults([new SimFault(SimFaultKind.ImuFrozen)]);
        for (int i = 0; i < 20; i++)
        {
            robot.ApplyActuators(Frame(0, 5, false));
            robot.Advance();
        }
        Assert.Equal(before, robot.Imu.RegisterImage.ToArray());
        Assert.Equal(21UL, robot.Tick);
        robot.SetFaults([]); // live again: the moving body changes the image at once
        robot.Advance();
        Assert.NotEqual(before, robot.Imu.RegisterImage.ToArray());
    }

    [Fact]
    public void Brownout_puts_the_pca9685_back_to_its_power_on_registers_once()
    {
        var robot = Robot();
        robot.SetFaults([new SimFault(SimFaultKind.PcaBrownout, FromFrame: 2)]);
        Wake(robot);
        robot.ApplyActuators(Frame(1024, 5, true));
        Assert.Equal(0.25, robot.Pca9685!.DutyCycle(0));
        robot.ApplyActuators(new SimActuatorFrame()); // frame 2: brown-out before it is applied
        Assert.Equal(new Pca9685Emulator().RegisterImage.ToArray(), robot.Pca9685.RegisterImage.ToArray());
        Wake(robot);
        robot.ApplyActuators(Frame(2048, 5, true)); // once: the chip takes writes again
        Assert.Equal(0.5, robot.Pca9685.DutyCycle(0));
        Assert.Equal(1, robot.Brownouts);
    }

    [Fact]
    public void Dead_gpio_line_keeps_its_level_whatever_is_written()
    {
        var robot = Robot();
        robot.ApplyActuators(Frame(0, 17, true));
        robot.SetFaults([new SimFault(SimFaultKind.GpioWriteFail, Pin: 17)]);
        robot.ApplyActuators(Frame(0, 17, false));
        Assert.True(robot.PinLevel(17));
        Assert.Equal(1, robot.LostPinWrites);
        robot.SetFaults([]);
        robot.ApplyActuators(Frame(0, 17, false));
        Assert.False(robot.PinLevel(17));
    }
}
