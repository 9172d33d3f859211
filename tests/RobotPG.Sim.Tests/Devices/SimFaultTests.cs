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
    [InlineData("mqtt-drop:p=0.1", SimFaultKind.MqttDrop, 0, SimNackMode.Permanent, 0.1, -1, 0L)]
    [InlineData("mqtt-dup@5", SimFaultKind.MqttDuplicate, 0, SimNackMode.Permanent, 1.0, -1, 5L)]
    [InlineData("mqtt-reorder:p=0.2", SimFaultKind.MqttReorder, 0, SimNackMode.Permanent, 0.2, -1, 0L)]
    [InlineData("broker-restart@400", SimFaultKind.BrokerRestart, 0, SimNackMode.Permanent, 1.0, -1, 400L)]
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
    [InlineData("mqtt-drop", "robotpg-sim serve: --fault: 'mqtt-drop': mqtt-drop takes p=P with 0 < P ≤ 1 (mqtt-drop:p=0.1)\n")]
    [InlineData("mqtt-dup:p=2", "robotpg-sim serve: --fault: 'mqtt-dup:p=2': mqtt-dup takes nothing or p=P with 0 < P ≤ 1 (mqtt-dup:p=0.1)\n")]
    [InlineData("mqtt-delay:0", "robotpg-sim serve: --fault: 'mqtt-delay:0': mqtt-delay takes a delay of 1–10000 milliseconds (mqtt-delay:20)\n")]
    [InlineData("broker-restart", "robotpg-sim serve: --fault: 'broker-restart': broker-restart needs the actuator frame to restart at (broker-restart@400)\n")]
    public void A_bad_fault_spec_is_one_line_and_exit_2(string spec, string expected)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = SimCli.Run(["serve", "--port", "0", "--fault", "pca-brownout", "--fault", spec], output, error);
        Assert.Equal(2, code);
        Assert.Equal(expected, error.ToString());
        Assert.Equal("", output.ToString());
    }

    [Fact]
    public void Mqtt_delay_parses_its_milliseconds()
    {
        Assert.Equal(new SimFault(SimFaultKind.MqttDelay, DelayMs: 20, FromFrame: 3), SimFault.TryParse("mqtt-delay:20@3", out _));
        Assert.True(SimFault.TryParse("mqtt-delay:20", out _)!.IsLinkFault);
        Assert.False(SimFault.TryParse("pca-brownout", out _)!.IsLinkFault);
    }

    [Fact]
    public void Broker_restart_needs_the_embedded_broker()
    {
        var error = new StringWriter();
        int code = SimCli.Run(["serve", "--broker", "mqtt://127.0.0.1:1", "--fault", "broker-restart@10"], new StringWriter(), error);
        Assert.Equal(2, code);
        Assert.Equal("robotpg-sim serve: --fault: broker-restart restarts the embedded broker, and --broker names another one\n", error.ToString());
    }

    /// <summary>Frames through a link with these faults, as (due time, payload byte) in delivery order.</summary>
    private static List<(long At, byte Frame)> Through(string[] faults, int frames, long actuatorFrames = 0, Action<SimLink>? setup = null)
    {
        var link = new SimLink(faults.Select(f => SimFault.TryParse(f, out _)!), seed: 3);
        setup?.Invoke(link);
        var delivered = new List<(long, byte)>();
        for (long t = 0; t < 100; t++)
        {
            if (t < frames) link.Send(SimLinkDirection.Sensors, [(byte)t], t, actuatorFrames);
            link.Pump(SimLinkDirection.Sensors, t, b => delivered.Add((t, b[0])));
            Assert.Equal(0, link.Pump(SimLinkDirection.Actuators, t, _ => { })); // directions are separate
        }
        return delivered;
    }

    [Fact]
    public void Sim_link_loses_doubles_reorders_delays_and_cuts_frames_as_its_faults_say()
    {
        Assert.Equal([(0L, (byte)0), (1, 1), (2, 2)], Through([], 3));
        Assert.Empty(Through(["mqtt-drop:p=1"], 3));
        Assert.Equal([(0L, (byte)0), (0, 0), (1, 1), (1, 1)], Through(["mqtt-dup"], 2));
        // Every frame held back until the next one overtakes it.
        Assert.Equal([(1L, (byte)1), (1, 0), (3, 3), (3, 2)], Through(["mqtt-reorder"], 4));
        Assert.Equal([(20L, (byte)0), (21, 1)], Through(["mqtt-delay:20"], 2));
        // On from the 5th actuator frame only.
        Assert.Equal([(0L, (byte)0)], Through(["mqtt-drop:p=1@5"], 1, actuatorFrames: 4));
        // An outage loses what is sent in it and what would arrive in it.
        Assert.Equal([(0L, (byte)0), (3, 3)], Through([], 4, setup: l => l.Outage(1, 3)));
        Assert.Equal([(3L, (byte)2), (4, 3)], Through(["mqtt-delay:1"], 4, setup: l => l.Outage(1, 2))); // frame 0 was due inside it
        // p = 0.5 drops about half, reproducibly.
        var half = Through(["mqtt-drop:p=0.5"], 100);
        Assert.Equal(half, Through(["mqtt-drop:p=0.5"], 100));
        Assert.InRange(half.Count, 35, 65);
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
