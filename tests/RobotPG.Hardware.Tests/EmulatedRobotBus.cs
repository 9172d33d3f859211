using System.Device.Gpio;
using System.Device.I2c;
using System.Device.Pwm;
using System.Diagnostics;
using RobotPG.Sim.Devices;

namespace RobotPG.Hardware.Tests;

/// <summary>
/// An <see cref="IRobotBus"/> over the simulator's chip emulations, in-process: an MPU-6050 at 0x68,
/// a PCA9685 at 0x40, a GPIO header, hardware PWM channels. Time advances one sample period per
/// fresh-data wait or <see cref="Tick"/>.
/// </summary>
internal sealed class EmulatedRobotBus : IRobotBus
{
    public Mpu6050Emulator Imu { get; } = new();
    public Pca9685Emulator Pwm { get; } = new();
    public EmulatedGpioDriver Pins { get; } = new();
    public Dictionary<int, EmulatedI2cDevice> I2c { get; } = [];
    public List<EmulatedPwmChannel> HardwarePwm { get; } = [];

    /// <summary>Runs before each fresh sample (gyro calibration); the test sets the motion there.</summary>
    public Action? OnFreshData { get; set; }

    public long Now { get; private set; } = 1_000_000;
    public long Sequence { get; private set; }
    public int Commits { get; private set; }
    public long Period { get; } = Stopwatch.Frequency / 500;

    public I2cDevice CreateI2cDevice(I2cConnectionSettings settings)
    {
        IRegisterDevice chip = settings.DeviceAddress switch
        {
            Mpu6050Emulator.DefaultAddress => Imu,
            Pca9685Emulator.DefaultAddress => Pwm,
            _ => throw new IOException($"no chip answers at 0x{settings.DeviceAddress:X2}"),
        };
        var device = new EmulatedI2cDevice(chip, settings.BusId);
        I2c[settings.DeviceAddress] = device;
        return device;
    }

    public GpioController CreateGpioController() => new(Pins);

    public PwmChannel CreatePwmChannel(int chip, int channel, int frequencyHz, double dutyCycle)
    {
        var pwm = new EmulatedPwmChannel(chip, channel, frequencyHz, dutyCycle);
        HardwarePwm.Add(pwm);
        return pwm;
    }

    public void Tick()
    {
        Now += Period;
        Sequence++;
    }

    public void BeginRead(out long timestamp, out long sequence)
    {
        timestamp = Now;
        sequence = Sequence;
    }

    public void CommitWrites() => Commits++;

    public void AwaitFreshData(TimeSpan samplePeriod)
    {
        Tick();
        OnFreshData?.Invoke();
    }
}
