using RobotPG.Sim.Devices;
using Xunit;

namespace RobotPG.Hardware.Tests;

/// <summary>Faults a Pi's bus cannot report by itself, detected from the chips' data and registers.</summary>
public sealed class ChipFaultDetectionTests
{
    private const double G = 9.80665;

    [Fact]
    public void Pca9685_restart_comes_at_least_500_us_after_wake_up()
    {
        // The emulator counts RESTART writes sooner than the datasheet's 500 µs after SLEEP was cleared
        // (a lower bound on elapsed time: a slow machine can only make the wait longer).
        var chip = new Pca9685Emulator();
        new Pca9685(new EmulatedI2cDevice(chip)).Initialize();
        Assert.Equal(0, chip.EarlyRestarts);
        Assert.Equal(0x20, chip.RegisterImage[0x00] & 0xB0); // AI on, SLEEP off, RESTART cleared by its write
        Assert.Equal(5, chip.RegisterImage[0xFE]);

        var hurried = new Pca9685Emulator();
        new Pca9685(new EmulatedI2cDevice(hurried), new Pca9685Options { OscillatorStartup = TimeSpan.Zero }).Initialize();
        Assert.Equal(1, hurried.EarlyRestarts); // the emulator does see a driver that does not wait
    }

    private static DriverRobotIoOptions Options(int pcaCheckEvery) =>
        DriverRobotIoOptions.BalanceBot(1440) with
        {
            Imu = new Mpu6050Options { ResetDelay = TimeSpan.Zero, GyroCalibrationSamples = 0 },
            Pca9685 = new Pca9685Options { OscillatorStartup = TimeSpan.Zero, FrequencyHz = 1000 },
            Pca9685CheckEveryReads = pcaCheckEvery,
        };

    [Fact]
    public void Pca9685_brown_out_is_found_by_the_register_read_back()
    {
        var bus = new EmulatedRobotBus();
        using var io = new DriverRobotIo(Options(pcaCheckEvery: 4), bus);
        var frame = new SensorFrame(2);
        io.Drive([0.5f, 0.5f]);
        for (int i = 0; i < 8; i++) io.Read(frame); // two read-backs, both of the configured registers

        bus.Pwm.PowerOnReset(); // brown-out: MODE1 0x11 (asleep), PRE_SCALE 0x1E
        for (int i = 0; i < 3; i++) io.Read(frame);
        var ex = Assert.Throws<BusFaultException>(() => io.Read(frame));
        Assert.Contains("MODE1 0x11 PRE_SCALE 0x1E", ex.Message);
        Assert.Contains("PCA9685", ex.Message);
        // The supervisor's retries read again: each must check again, or a retry hides the brown-out.
        Assert.Throws<BusFaultException>(() => io.Read(frame));
        Assert.Throws<BusFaultException>(() => io.Read(frame));
    }

    [Fact]
    public void Frozen_imu_stops_the_sequence_on_a_bus_that_cannot_tell()
    {
        var bus = new EmulatedRobotBus();
        bus.Imu.Imperfections = Mpu6050Imperfections.None with { AccelNoiseStd = 0.05, GyroNoiseStd = 0.01 };
        using var io = new DriverRobotIo(Options(0), bus);
        var frame = new SensorFrame(2);
        var sequences = new List<long>();
        for (int i = 0; i < 4; i++)
        {
            bus.Imu.SetMotion(0, 0, G, 0, 0, 0, 25); // a live chip: new noise every sample
            bus.Tick();
            io.Read(frame);
            sequences.Add(frame.Sequence);
        }
        for (int i = 0; i < 4; i++)
        {
            bus.Tick(); // the bus still reads: the chip's registers no longer change
            io.Read(frame);
            sequences.Add(frame.Sequence);
        }
        Assert.Equal([1, 2, 3, 4, 4, 4, 4, 4], sequences);

        // The rule runs on every bus: the sequence moves on new data only, and stops on a frozen burst.
        var live = new EmulatedRobotBus();
        live.Imu.Imperfections = bus.Imu.Imperfections;
        using var io2 = new DriverRobotIo(Options(0), live);
        live.Imu.SetMotion(0, 0, G, 0, 0, 0, 25);
        live.Tick(); io2.Read(frame);
        long first = frame.Sequence;
        live.Tick(); io2.Read(frame);
        live.Tick(); io2.Read(frame);
        Assert.Equal(first, frame.Sequence);
    }
}
