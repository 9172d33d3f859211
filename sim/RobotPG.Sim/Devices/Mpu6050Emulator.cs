using System.Buffers.Binary;
using RobotPG.Numerics;

namespace RobotPG.Sim.Devices;

/// <summary>Sensor imperfections of the emulated MPU-6050, all in physical units.</summary>
public readonly record struct Mpu6050Imperfections(
    double AccelNoiseStd,
    double GyroNoiseStd,
    double AccelBiasX, double AccelBiasY, double AccelBiasZ,
    double GyroBiasX, double GyroBiasY, double GyroBiasZ,
    double TemperatureNoiseStd)
{
    /// <summary>A perfect sensor: only quantisation and saturation remain.</summary>
    public static Mpu6050Imperfections None => default;
}

/// <summary>
/// The MPU-6050 6-axis IMU at register level (register map rev 4.2): a 128-byte register file,
/// WHO_AM_I = 0x68, PWR_MGMT_1 reset/sleep/clock select, full-scale ranges from GYRO_CONFIG and
/// ACCEL_CONFIG bits 4:3, and the 14-byte big-endian burst from ACCEL_XOUT_H (0x3B) filled from
/// <see cref="SetMotion"/> with scale, noise, bias, quantisation and saturation at the range.
/// The register pointer auto-increments on every byte, as on the chip. DLPF, sample-rate divider,
/// FIFO and interrupts are stored but have no effect.
/// </summary>
public sealed class Mpu6050Emulator : IRegisterDevice, IRegisterImage
{
    public const int DefaultAddress = 0x68;
    public const int AlternateAddress = 0x69;
    public const int RegisterCount = 128;

    public const byte SmplrtDiv = 0x19;
    public const byte Config = 0x1A;
    public const byte GyroConfig = 0x1B;
    public const byte AccelConfig = 0x1C;
    public const byte AccelXoutH = 0x3B;
    public const byte TempOutH = 0x41;
    public const byte GyroXoutH = 0x43;
    public const byte PwrMgmt1 = 0x6B;
    public const byte PwrMgmt2 = 0x6C;
    public const byte WhoAmI = 0x75;

    public const byte PwrMgmt1DeviceReset = 0x80;
    public const byte PwrMgmt1Sleep = 0x40;
    public const byte PwrMgmt1TempDisable = 0x08;

    /// <summary>Standard gravity, the "g" of the datasheet's LSB/g.</summary>
    public const double StandardGravity = 9.80665;

    private static readonly double[] AccelLsbPerG = [16384.0, 8192.0, 4096.0, 2048.0];
    private static readonly double[] GyroLsbPerDegPerS = [131.0, 65.5, 32.8, 16.4];

    private readonly byte[] _registers = new byte[RegisterCount];
    private int _pointer;
    private Prng _noise;

    public Mpu6050Emulator(int address = DefaultAddress, ulong noiseSeed = 1)
    {
        if (address != DefaultAddress && address != AlternateAddress)
            throw new ArgumentOutOfRangeException(nameof(address), address, "MPU-6050 answers only at 0x68 (AD0 low) or 0x69 (AD0 high)");
        Address = address;
        _noise = new Prng(noiseSeed);
        PowerOnReset();
    }

    public int Address { get; }

    /// <summary>Noise and bias applied by <see cref="SetMotion"/>; defaults to a perfect sensor.</summary>
    public Mpu6050Imperfections Imperfections { get; set; }

    public ReadOnlySpan<byte> RegisterImage => _registers;

    /// <summary>The register pointer (the address the next read or write byte goes to).</summary>
    public int RegisterPointer => _pointer;

    public bool IsSleeping => (_registers[PwrMgmt1] & PwrMgmt1Sleep) != 0;

    /// <summary>CLKSEL, PWR_MGMT_1 bits 2:0 (0 internal 8 MHz, 1–3 PLL with a gyro axis, 7 stopped).</summary>
    public int ClockSource => _registers[PwrMgmt1] & 0x07;

    /// <summary>FS_SEL of ACCEL_CONFIG: 0..3 for ±2/4/8/16 g.</summary>
    public int AccelRangeSelect => (_registers[AccelConfig] >> 3) & 0x03;

    /// <summary>FS_SEL of GYRO_CONFIG: 0..3 for ±250/500/1000/2000 °/s.</summary>
    public int GyroRangeSelect => (_registers[GyroConfig] >> 3) & 0x03;

    public double AccelLsbPerGravity => AccelLsbPerG[AccelRangeSelect];

    public double GyroLsbPerDegreePerSecond => GyroLsbPerDegPerS[GyroRangeSelect];

    /// <summary>Number of DEVICE_RESET commands served (power-on not counted).</summary>
    public int ResetCount { get; private set; }

    /// <summary>Puts every register to its reset value: all zero except PWR_MGMT_1 = 0x40 (asleep) and WHO_AM_I = 0x68.</summary>
    public void PowerOnReset()
    {
        Array.Clear(_registers);
        _registers[PwrMgmt1] = PwrMgmt1Sleep;
        // WHO_AM_I holds the upper 6 bits of the address; AD0 does not show, so both addresses read 0x68.
        _registers[WhoAmI] = 0x68;
        _pointer = 0;
    }

    public void Write(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) return;
        _pointer = data[0] & (RegisterCount - 1);
        for (int i = 1; i < data.Length; i++)
        {
            WriteRegister(_pointer, data[i]);
            _pointer = (_pointer + 1) & (RegisterCount - 1);
        }
    }

    public void Read(Span<byte> buffer)
    {
        for (int i = 0; i < buffer.Length; i++)
        {
            buffer[i] = _registers[_pointer];
            _pointer = (_pointer + 1) & (RegisterCount - 1);
        }
    }

    private void WriteRegister(int register, byte value)
    {
        switch (register)
        {
            case PwrMgmt1:
                if ((value & PwrMgmt1DeviceReset) != 0)
                {
                    // DEVICE_RESET clears itself and leaves the chip asleep with every register at reset.
                    int pointer = _pointer;
                    PowerOnReset();
                    _pointer = pointer;
                    ResetCount++;
                }
                else
                {
                    _registers[PwrMgmt1] = value;
                }
                return;
            case WhoAmI:
                return; // read-only
            default:
                // The sensor data registers 0x3B–0x60 are read-only: the chip ignores writes there.
                if (register >= AccelXoutH && register <= 0x60) return;
                _registers[register] = value;
                return;
        }
    }

    /// <summary>
    /// Sets the physical motion the chip senses, in its own axes: specific force (the accelerometer
    /// reads +1 g upward at rest, m/s²), angular rate (rad/s), die temperature (°C). While asleep the
    /// data registers keep their last values, as the chip's do.
    /// </summary>
    public void SetMotion(double accelX, double accelY, double accelZ, double gyroX, double gyroY, double gyroZ, double temperatureC)
    {
        if (IsSleeping) return;
        var imp = Imperfections;
        double accelScale = AccelLsbPerGravity / StandardGravity;
        double gyroScale = GyroLsbPerDegreePerSecond * (180.0 / Math.PI);
        Span<byte> burst = _registers.AsSpan(AccelXoutH, 14);
        WriteSample(burst[0..], (accelX + imp.AccelBiasX + Noise(imp.AccelNoiseStd)) * accelScale);
        WriteSample(burst[2..], (accelY + imp.AccelBiasY + Noise(imp.AccelNoiseStd)) * accelScale);
        WriteSample(burst[4..], (accelZ + imp.AccelBiasZ + Noise(imp.AccelNoiseStd)) * accelScale);
        if ((_registers[PwrMgmt1] & PwrMgmt1TempDisable) == 0)
            WriteSample(burst[6..], (temperatureC + Noise(imp.TemperatureNoiseStd) - 36.53) * 340.0);
        WriteSample(burst[8..], (gyroX + imp.GyroBiasX + Noise(imp.GyroNoiseStd)) * gyroScale);
        WriteSample(burst[10..], (gyroY + imp.GyroBiasY + Noise(imp.GyroNoiseStd)) * gyroScale);
        WriteSample(burst[12..], (gyroZ + imp.GyroBiasZ + Noise(imp.GyroNoiseStd)) * gyroScale);
    }

    private double Noise(double std) => std > 0 ? std * _noise.NextGaussian() : 0.0;

    /// <summary>Quantises to the nearest LSB and saturates at the 16-bit range, as the ADC does.</summary>
    private static void WriteSample(Span<byte> destination, double lsb)
    {
        double rounded = Math.Round(lsb);
        short raw = rounded >= short.MaxValue ? short.MaxValue
            : rounded <= short.MinValue ? short.MinValue
            : double.IsNaN(rounded) ? (short)0
            : (short)rounded;
        BinaryPrimitives.WriteInt16BigEndian(destination, raw);
    }
}
