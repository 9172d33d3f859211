using System.Device.Gpio;
using System.Device.Gpio.Drivers;
using System.Device.I2c;
using System.Device.Pwm;
using System.Diagnostics;

namespace RobotPG.Hardware;

/// <summary>
/// Where <see cref="DriverRobotIo"/> gets its buses from and how a control step meets them: the Pi's
/// own I2C/GPIO/PWM (<see cref="PiRobotBus"/>), the simulator's frames over MQTT, or the chip
/// emulations in tests. The drivers above it are the same in every case.
/// </summary>
public interface IRobotBus
{
    I2cDevice CreateI2cDevice(I2cConnectionSettings settings);

    GpioController CreateGpioController();

    /// <summary>A hardware PWM channel (chip/channel as in <see cref="PwmChannel.Create(int, int, int, double)"/>).</summary>
    PwmChannel CreatePwmChannel(int chip, int channel, int frequencyHz, double dutyCycle);

    /// <summary>
    /// Start of a sensor read: fixes the data the reads of this step will see and returns when it was
    /// taken (<see cref="Stopwatch"/> ticks) and its sequence (which stops moving when no new data came).
    /// Hot path: allocates nothing.
    /// </summary>
    void BeginRead(out long timestamp, out long sequence);

    /// <summary>End of a step's actuator writes (the sim bus sends them). Hot path: allocates nothing.</summary>
    void CommitWrites();

    /// <summary>
    /// Start-up only (calibration): commits pending writes and waits until the sensors hold data newer
    /// than the last read, at most about <paramref name="samplePeriod"/> on real hardware.
    /// </summary>
    void AwaitFreshData(TimeSpan samplePeriod);
}

/// <summary>The Raspberry Pi's (any Linux board's) own buses: /dev/i2c-N, the GPIO chip, sysfs PWM.</summary>
public sealed class PiRobotBus : IRobotBus
{
    private readonly int _gpioChip;
    private long _sequence;

    /// <param name="gpioChip">
    /// The GPIO character device: 0 on a Pi 3/4 (and a Pi 5 on kernels ≥ 6.6.45), 4 on a Pi 5 with older kernels.
    /// </param>
    public PiRobotBus(int gpioChip = 0) => _gpioChip = gpioChip;

    public I2cDevice CreateI2cDevice(I2cConnectionSettings settings) => I2cDevice.Create(settings);

    // The libgpiod v1 driver explicitly (Bookworm ships libgpiod 1.6): automatic driver selection
    // would also pull in the libgpiod v2 code, whose epoll path is not trim-safe (IL2091 in publish).
    public GpioController CreateGpioController() => new(new LibGpiodDriver(_gpioChip));

    public PwmChannel CreatePwmChannel(int chip, int channel, int frequencyHz, double dutyCycle) =>
        PwmChannel.Create(chip, channel, frequencyHz, dutyCycle);

    /// <summary>Reads on the Pi are always of the chips' current registers: every read is new data.</summary>
    public void BeginRead(out long timestamp, out long sequence)
    {
        timestamp = Stopwatch.GetTimestamp();
        sequence = ++_sequence;
    }

    public void CommitWrites()
    {
        // Writes reached the chips when they were made.
    }

    public void AwaitFreshData(TimeSpan samplePeriod) => Thread.Sleep(samplePeriod);
}
