using System.Diagnostics;
using RobotPG.Sim.Devices;
using Xunit;

namespace RobotPG.Hardware.Tests;

public sealed class DriverRobotIoTests
{
    private const double G = 9.80665;

    private static DriverRobotIoOptions BalanceBot(int cpr = 1440) =>
        DriverRobotIoOptions.BalanceBot(cpr) with
        {
            Imu = new Mpu6050Options { ResetDelay = TimeSpan.Zero, GyroCalibrationSamples = 20 },
            Pca9685 = new Pca9685Options { OscillatorStartup = TimeSpan.Zero, FrequencyHz = 1000 },
        };

    [Fact]
    public void Balance_bot_initialises_every_chip_and_calibrates_the_gyro()
    {
        var bus = new EmulatedRobotBus();
        bus.Imu.Imperfections = Mpu6050Imperfections.None with { GyroBiasY = 0.02 };
        bus.Imu.SetMotion(0, 0, G, 0, 0, 0, 25); // set before the chip wakes: stays zero until then
        bus.OnFreshData = () => bus.Imu.SetMotion(0, 0, G, 0, 0, 0, 25);
        using var io = new DriverRobotIo(BalanceBot(), bus);

        Assert.Equal(2, io.MotorCount);
        Assert.Equal(2, io.EncoderCount);
        Assert.False(bus.Imu.IsSleeping);
        Assert.False(bus.Pwm.IsSleeping);
        Assert.Equal(5, bus.Pwm.RegisterImage[0xFE]);
        Assert.Equal(1, bus.Imu.ResetCount);
        // A wait before each of the 20 samples (the first too: fresh data after wake-up).
        Assert.Equal(20, bus.Sequence);
        Assert.Equal(0.02f, io.Imu!.GyroBias.Y, 3);
        Assert.True(bus.Commits >= 1);
    }

    [Fact]
    public void Read_and_drive_go_through_the_drivers()
    {
        var bus = new EmulatedRobotBus();
        bus.OnFreshData = () => bus.Imu.SetMotion(0, 0, G, 0, 0, 0, 25);
        // The encoders are wired before power-up: they drive their pins from the start.
        var left = new QuadratureEncoderEmulator(bus.Pins, 17, 27, 1440);
        var right = new QuadratureEncoderEmulator(bus.Pins, 22, 23, 1440);
        using var io = new DriverRobotIo(BalanceBot(), bus);

        var frame = new SensorFrame(2);
        bus.Tick();
        io.Read(frame);
        left.Advance(144);
        right.Advance(144);
        bus.Imu.SetMotion(1.0, 0, G, 0, -0.5, 0, 30);
        bus.Tick();
        io.Read(frame);

        Assert.Equal(1.0f, frame.AccelX, 2);
        Assert.Equal(-0.5f, frame.GyroY, 2);
        Assert.Equal(144, frame.EncoderTicks[0]);
        Assert.Equal(-144, frame.EncoderTicks[1]); // right encoder is mounted mirror-image
        // 144 counts of 1440 in one 2 ms period: 0.1 rev / 0.002 s = 2π · 50 rad/s.
        Assert.Equal(2 * Math.PI * 50, frame.EncoderVelocity[0], 2);
        Assert.Equal(bus.Now, frame.Timestamp);
        Assert.Equal(bus.Sequence, frame.Sequence);

        int commits = bus.Commits;
        io.Drive([0.5f, 0.5f]);
        Assert.Equal(commits + 1, bus.Commits);
        Assert.Equal(0.5, bus.Pwm.DutyCycle(0));
        Assert.Equal(0.5, bus.Pwm.DutyCycle(1));
        Assert.True(bus.Pins.Level(5));   // left forward: IN1 high
        Assert.False(bus.Pins.Level(6));
        Assert.False(bus.Pins.Level(16)); // right is mirrored: reverse pins for the same forward command
        Assert.True(bus.Pins.Level(26));

        io.StopMotors();
        Assert.Equal(0.0, bus.Pwm.DutyCycle(0));
        Assert.Equal(0.0, bus.Pwm.DutyCycle(1));
    }

    [Fact]
    public void Motor_on_hardware_pwm_and_no_imu()
    {
        var bus = new EmulatedRobotBus();
        var options = new DriverRobotIoOptions
        {
            Motors = [new MotorWiring { Pwm = new PwmSource.Hardware(0, 1, 20_000), DirectionPin1 = 24 }],
            Encoders = [new EncoderWiring { PinA = 17, PinB = 27 }, new EncoderWiring { PinA = 22, PinB = 23 }],
        };
        using var io = new DriverRobotIo(options, bus);
        io.Drive([-0.25f]);
        var pwm = Assert.Single(bus.HardwarePwm);
        Assert.Equal(1, pwm.Channel);
        Assert.Equal(0.25, pwm.OutputDuty, 6);
        Assert.False(bus.Pins.Level(24));
        Assert.Empty(bus.I2c);
    }

    [Fact]
    public void Pca9685_channel_without_a_pca9685_is_refused_and_pins_are_released()
    {
        var bus = new EmulatedRobotBus();
        var options = new DriverRobotIoOptions
        {
            Motors = [new MotorWiring { Pwm = new PwmSource.Hardware(0, 0, 1000), DirectionPin1 = 5 }, new MotorWiring { Pwm = new PwmSource.Pca9685Channel(3), DirectionPin1 = 6 }],
        };
        var ex = Assert.Throws<ArgumentException>(() => new DriverRobotIo(options, bus));
        Assert.Contains("motor 1 uses PCA9685 channel 3", ex.Message);
        Assert.False(bus.Pins.IsOpen(5));
    }

    [Fact]
    public void Wrong_command_count_is_refused()
    {
        var bus = new EmulatedRobotBus();
        bus.OnFreshData = () => bus.Imu.SetMotion(0, 0, G, 0, 0, 0, 25);
        using var io = new DriverRobotIo(BalanceBot(), bus);
        var ex = Assert.Throws<ArgumentException>(() => io.Drive([0.1f]));
        Assert.Contains("1 motor commands for 2 motors", ex.Message);
    }

    [Fact]
    public void Bus_fault_in_read_is_clear_and_the_next_read_works()
    {
        var bus = new EmulatedRobotBus();
        bus.OnFreshData = () => bus.Imu.SetMotion(0, 0, G, 0, 0, 0, 25);
        using var io = new DriverRobotIo(BalanceBot(), bus);
        var frame = new SensorFrame(2);
        bus.Imu.SetMotion(2.0, 0, G, 0, 0, 0, 25);

        bus.I2c[0x68].FailNextTransfers(2);
        var ex = Assert.Throws<BusFaultException>(() => io.Read(frame));
        Assert.Contains("MPU-6050", ex.Message);
        Assert.Throws<BusFaultException>(() => io.Read(frame));
        io.Read(frame); // the third try works: retry is the supervisor's call
        Assert.Equal(2.0f, frame.AccelX, 2);
    }

    // Left forward (IN1 5 high), right mirrored (IN1 16 high): both bridges driven, duty 0.7 in PCA9685 channels 0 and 1.
    private static (EmulatedRobotBus Bus, DriverRobotIo Io) Driven(float left = 0.7f, float right = -0.7f)
    {
        var bus = new EmulatedRobotBus();
        bus.OnFreshData = () => bus.Imu.SetMotion(0, 0, G, 0, 0, 0, 25);
        var io = new DriverRobotIo(BalanceBot(), bus);
        io.Drive([left, right]);
        return (bus, io);
    }

    [Fact]
    public void Stop_motors_with_the_pca9685_gone_still_takes_every_direction_pin_low()
    {
        var (bus, io) = Driven();
        Assert.True(bus.Pins.Level(5));
        Assert.True(bus.Pins.Level(16));

        bus.I2c[0x40].Disconnected = true;
        io.StopMotors();

        // The chip cannot be reached, so its outputs keep the last duty; the bridges coast because their inputs are low.
        Assert.Equal(0.7, bus.Pwm.DutyCycle(0), 3);
        foreach (int pin in new[] { 5, 6, 16, 26 }) Assert.False(bus.Pins.Level(pin), $"GPIO {pin} still high");
        Assert.Equal(3, io.StopMotorsFailures); // two channel writes and the ALL_LED write

        io.Dispose(); // never throws, even with the chip gone
        Assert.Throws<BusFaultException>(() => new Pca9685(bus.I2c[0x40]).AllOff());
        foreach (int pin in new[] { 5, 6, 16, 26 }) Assert.False(bus.Pins.Level(pin));
    }

    [Fact]
    public void Stop_motors_after_the_pca9685_comes_back_writes_full_off_and_the_same_command_is_written_again()
    {
        var (bus, io) = Driven();
        using (io)
        {
            bus.I2c[0x40].Disconnected = true;
            Assert.Throws<BusFaultException>(() => io.Drive([0.2f, 0.2f]));
            bus.I2c[0x40].Disconnected = false;
            io.StopMotors();
            // Full-off bit 4 of LEDn_OFF_H (register 0x09 for channel 0, 0x0D for channel 1), and ALL_LED too.
            Assert.Equal(0x10, bus.Pwm.RegisterImage[0x09]);
            Assert.Equal(0x10, bus.Pwm.RegisterImage[0x0D]);
            io.Drive([0.7f, -0.7f]); // after a fault the same command is written again, not skipped
            Assert.Equal(0.7, bus.Pwm.DutyCycle(0), 3);
            Assert.True(bus.Pins.Level(5));
        }
    }

    [Fact]
    public void Stop_motors_with_a_dead_direction_pin_still_zeroes_every_duty_and_every_other_pin()
    {
        // Left reverse: IN1 (5) low, IN2 (6) high. IN1's write fails; IN2 must still be written low.
        var (bus, io) = Driven(left: -0.7f, right: 0.7f);
        Assert.True(bus.Pins.Level(6));
        Assert.True(bus.Pins.Level(26));
        bus.Pins.SetWriteFault(5, true);

        io.StopMotors();

        Assert.True(bus.Pwm.IsFullOff(0));
        Assert.True(bus.Pwm.IsFullOff(1));
        foreach (int pin in new[] { 5, 6, 16, 26 }) Assert.False(bus.Pins.Level(pin), $"GPIO {pin} still high");
        Assert.Equal(1, io.StopMotorsFailures);
        io.Dispose();
        Assert.Equal(2, io.StopMotorsFailures); // Dispose stops again (and fails again on GPIO 5), and does not throw
    }

    [Fact]
    public void Read_and_drive_allocate_nothing_after_warm_up()
    {
        var bus = new EmulatedRobotBus();
        bus.OnFreshData = () => bus.Imu.SetMotion(0, 0, G, 0, 0, 0, 25);
        using var io = new DriverRobotIo(BalanceBot(), bus);
        var frame = new SensorFrame(2);
        Span<float> commands = stackalloc float[2];
        for (int i = 0; i < 200; i++) Step(i, commands);

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++) Step(i, commands);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);

        void Step(int i, Span<float> c)
        {
            bus.Tick();
            io.Read(frame);
            c[0] = (float)Math.Sin(i * 0.01);
            c[1] = -c[0];
            io.Drive(c);
        }
    }
}
