using System.Device.Gpio;
using System.Device.I2c;
using System.Device.Pwm;
using RobotPG.Controller.SelfTest;
using RobotPG.Hardware;
using RobotPG.Sim.Devices;

namespace RobotPG.Controller.Tests.SelfTest;

/// <summary>An I2C device that forwards to a chip fake and NACKs on demand (one transfer, or every one from now on).</summary>
internal sealed class Nackable(I2cDevice chip) : I2cDevice
{
    public int FailNext;
    public bool Dead;

    public override I2cConnectionSettings ConnectionSettings => chip.ConnectionSettings;

    private void Check()
    {
        if (Dead) throw new IOException("Error 121 performing I2C data transfer (remote I/O error: the chip does not answer)");
        if (FailNext > 0)
        {
            FailNext--;
            throw new IOException("Error 121 performing I2C data transfer (one NACK)");
        }
    }

    public override void Read(Span<byte> buffer)
    {
        Check();
        chip.Read(buffer);
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        Check();
        chip.Write(buffer);
    }

    public override void WriteRead(ReadOnlySpan<byte> writeBuffer, Span<byte> readBuffer)
    {
        Check();
        chip.WriteRead(writeBuffer, readBuffer);
    }
}

internal sealed class RobotOnTheBench : IRobotBus
{
    public Mpu6050RegisterFake Imu { get; } = new();
    public Pca9685RegisterFake Pca { get; } = new();
    public Ina219RegisterFake Battery { get; } = new(address: 0x41);
    public Bno055RegisterFake Bno055 { get; init; } = new();
    public EmulatedGpioDriver Header { get; } = new();
    public Nackable PcaLink { get; }
    public bool ImuMissing { get; init; }
    public int ImuReads { get; private set; }

    /// <summary>Each read sees a changed burst (temperature/gyro LSB flicker), as on a live robot; off, the IMU's
    /// registers stand still, which the controller's freshness check treats as a frozen chip.</summary>
    public bool LiveSensors { get; init; }

    public RobotOnTheBench() => PcaLink = new Nackable(Pca);

    public I2cDevice CreateI2cDevice(I2cConnectionSettings settings) => settings.DeviceAddress switch
    {
        0x68 => ImuMissing ? new Nackable(Imu) { Dead = true } : Imu,
        0x40 => PcaLink,
        0x41 => Battery,
        0x28 => Bno055,
        _ => throw new IOException($"nothing at 0x{settings.DeviceAddress:X2}"),
    };

    public GpioController CreateGpioController() => new(Header);

    public PwmChannel CreatePwmChannel(int chip, int channel, int frequencyHz, double dutyCycle) =>
        throw new InvalidOperationException("balance-bot.json has no hardware PWM motor");

    public void BeginRead(out long timestamp, out long sequence)
    {
        timestamp = 0;
        sequence = ++ImuReads;
        if (LiveSensors)
        {
            Imu.FlickerTemperature();
            Bno055.JitterGyro();
        }
    }

    public void CommitWrites()
    {
    }

    public void AwaitFreshData(TimeSpan samplePeriod)
    {
    }
}
