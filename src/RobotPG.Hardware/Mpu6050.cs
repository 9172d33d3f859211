using System.Buffers.Binary;
using System.Device.I2c;

namespace RobotPG.Hardware;

/// <summary>Start-up settings of an <see cref="Mpu6050"/>.</summary>
public sealed record Mpu6050Options
{
    /// <summary>0x68 with AD0 low, 0x69 with AD0 high.</summary>
    public int Address { get; init; } = Mpu6050.DefaultAddress;

    public Mpu6050AccelRange AccelRange { get; init; } = Mpu6050AccelRange.PlusMinus4G;

    /// <summary>±500 °/s by default: a falling balancing robot exceeds ±250 °/s (4.4 rad/s).</summary>
    public Mpu6050GyroRange GyroRange { get; init; } = Mpu6050GyroRange.PlusMinus500DegreesPerSecond;

    public Mpu6050LowPassFilter LowPassFilter { get; init; } = Mpu6050LowPassFilter.Bandwidth94Hz;

    /// <summary>SMPLRT_DIV: with the DLPF on, sample rate = 1 kHz / (1 + divider).</summary>
    public byte SampleRateDivider { get; init; }

    /// <summary>Time the chip needs after DEVICE_RESET before it answers again (register map §4.28 uses 100 ms).</summary>
    public TimeSpan ResetDelay { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Samples averaged for the gyro bias at start (0 = no calibration).</summary>
    public int GyroCalibrationSamples { get; init; } = 200;

    /// <summary>
    /// Largest standard deviation of any gyro axis over the calibration samples, rad/s, before the
    /// robot counts as moving and calibration is refused. The chip's rate noise is about 0.005 °/s/√Hz
    /// (product spec §6.1), far below this at any DLPF setting.
    /// </summary>
    public double GyroCalibrationMaxStdDev { get; init; } = 0.05;
}

/// <summary>
/// The InvenSense MPU-6050 6-axis IMU on I2C. <see cref="Initialize"/> checks WHO_AM_I, resets the
/// chip, wakes it on the gyro PLL and sets filter, sample rate and ranges; <see cref="Read(SensorFrame)"/>
/// is one 14-byte burst from ACCEL_XOUT_H decoded to m/s², rad/s (minus the calibrated bias) and °C.
/// Scale factors are the register map's (§4.17, §4.19): they do not depend on the sample-rate divider,
/// and the temperature is raw/340 + 36.53 °C (§4.18), not the MPU-9250 formula.
/// </summary>
public sealed class Mpu6050 : IDisposable
{
    public const int DefaultAddress = 0x68;
    public const int AlternateAddress = 0x69;

    /// <summary>WHO_AM_I of an MPU-6050 (§4.32).</summary>
    public const byte ExpectedWhoAmI = 0x68;

    /// <summary>The "g" of the datasheet's LSB/g.</summary>
    public const double StandardGravity = 9.80665;

    public const int BurstLength = 14;

    private const string DeviceName = "MPU-6050";
    private const double DegreesToRadians = Math.PI / 180.0;

    private readonly I2cDevice _device;
    private readonly bool _ownsDevice;
    private float _accelScale;
    private float _gyroScale;
    private float _biasX, _biasY, _biasZ;

    /// <param name="device">The chip's I2C device; disposed with this driver when <paramref name="ownsDevice"/>.</param>
    public Mpu6050(I2cDevice device, Mpu6050Options? options = null, bool ownsDevice = false)
    {
        _device = device ?? throw new ArgumentNullException(nameof(device));
        _ownsDevice = ownsDevice;
        Options = options ?? new Mpu6050Options();
        SetScales(Options.AccelRange, Options.GyroRange);
    }

    public Mpu6050Options Options { get; }

    /// <summary>Accelerometer LSB per g for a range (register map §4.17).</summary>
    public static double AccelLsbPerG(Mpu6050AccelRange range) => range switch
    {
        Mpu6050AccelRange.PlusMinus2G => 16384.0,
        Mpu6050AccelRange.PlusMinus4G => 8192.0,
        Mpu6050AccelRange.PlusMinus8G => 4096.0,
        Mpu6050AccelRange.PlusMinus16G => 2048.0,
        _ => throw new ArgumentOutOfRangeException(nameof(range), range, "AFS_SEL is 0..3"),
    };

    /// <summary>Gyroscope LSB per °/s for a range (register map §4.19).</summary>
    public static double GyroLsbPerDegreePerSecond(Mpu6050GyroRange range) => range switch
    {
        Mpu6050GyroRange.PlusMinus250DegreesPerSecond => 131.0,
        Mpu6050GyroRange.PlusMinus500DegreesPerSecond => 65.5,
        Mpu6050GyroRange.PlusMinus1000DegreesPerSecond => 32.8,
        Mpu6050GyroRange.PlusMinus2000DegreesPerSecond => 16.4,
        _ => throw new ArgumentOutOfRangeException(nameof(range), range, "FS_SEL is 0..3"),
    };

    /// <summary>m/s² per accelerometer LSB at the configured range.</summary>
    public float AccelScale => _accelScale;

    /// <summary>rad/s per gyroscope LSB at the configured range.</summary>
    public float GyroScale => _gyroScale;

    /// <summary>Gyro bias subtracted from every read, rad/s (set by <see cref="CalibrateGyroBias"/>).</summary>
    public (float X, float Y, float Z) GyroBias => (_biasX, _biasY, _biasZ);

    /// <summary>
    /// Checks the chip identity, resets it, wakes it on the X-gyro PLL, and writes DLPF, sample-rate
    /// divider and both ranges, verifying each configuration register by reading it back.
    /// Throws <see cref="BusFaultException"/> when the chip is missing, is not an MPU-6050, or
    /// does not take the settings.
    /// </summary>
    public void Initialize()
    {
        // Identity first: never reset a chip that is not ours.
        byte whoAmI = ReadRegister(Mpu6050Register.WhoAmI, "read of WHO_AM_I (0x75)");
        if (whoAmI != ExpectedWhoAmI)
        {
            throw Fault("identity check", $"WHO_AM_I (0x75) reads 0x{whoAmI:X2}, an MPU-6050 answers 0x{ExpectedWhoAmI:X2}"
                + (whoAmI is 0x70 or 0x71 or 0x73 ? " (0x70/0x71/0x73 are MPU-6500/9250/9255: a different register map)" : "")
                + (whoAmI is 0x00 or 0xFF ? " (nothing drives the bus: check wiring and address)" : ""));
        }

        WriteRegister(Mpu6050Register.PowerManagement1, (byte)Mpu6050PowerManagement1.DeviceReset, "DEVICE_RESET");
        if (Options.ResetDelay > TimeSpan.Zero) Thread.Sleep(Options.ResetDelay);
        byte power = ReadRegister(Mpu6050Register.PowerManagement1, "read of PWR_MGMT_1 after reset");
        if ((power & (byte)Mpu6050PowerManagement1.DeviceReset) != 0)
            throw Fault("reset", $"DEVICE_RESET (PWR_MGMT_1 bit 7) still set {Options.ResetDelay.TotalMilliseconds} ms after reset");

        // Wake (SLEEP cleared) on the gyro PLL; temperature sensor stays enabled.
        WriteRegister(Mpu6050Register.PowerManagement1, (byte)Mpu6050PowerManagement1.ClockPllGyroX, "wake-up (PWR_MGMT_1 = 0x01)");
        WriteVerified(Mpu6050Register.Config, (byte)Options.LowPassFilter, "CONFIG (DLPF)");
        WriteVerified(Mpu6050Register.SampleRateDivider, Options.SampleRateDivider, "SMPLRT_DIV");
        WriteVerified(Mpu6050Register.GyroConfig, (byte)((byte)Options.GyroRange << 3), "GYRO_CONFIG");
        WriteVerified(Mpu6050Register.AccelConfig, (byte)((byte)Options.AccelRange << 3), "ACCEL_CONFIG");
        power = ReadRegister(Mpu6050Register.PowerManagement1, "read of PWR_MGMT_1");
        if ((power & (byte)Mpu6050PowerManagement1.Sleep) != 0)
            throw Fault("wake-up", $"PWR_MGMT_1 reads 0x{power:X2}: the chip is still asleep");
        SetScales(Options.AccelRange, Options.GyroRange);
    }

    /// <summary>Reads the 14-byte burst as raw big-endian words: accel XYZ, temperature, gyro XYZ.</summary>
    public void ReadRaw(Span<short> raw)
    {
        if (raw.Length < 7) throw new ArgumentException("needs room for 7 raw words", nameof(raw));
        Span<byte> burst = stackalloc byte[BurstLength];
        ReadBurst(burst);
        for (int i = 0; i < 7; i++) raw[i] = BinaryPrimitives.ReadInt16BigEndian(burst[(2 * i)..]);
    }

    private readonly byte[] _lastBurst = new byte[BurstLength];

    /// <summary>Whether the last <see cref="Read(SensorFrame)"/> burst differed from the one before it (stale-data detection from the data itself).</summary>
    public bool LastReadChanged { get; private set; }

    /// <summary>One burst read into the IMU fields of <paramref name="frame"/>. Allocates nothing.</summary>
    public void Read(SensorFrame frame)
    {
        Span<byte> burst = stackalloc byte[BurstLength];
        ReadBurst(burst);
        // A live chip's noise changes some bit of 14 bytes every sample; a frozen or reset one repeats them.
        LastReadChanged = !burst.SequenceEqual(_lastBurst);
        burst.CopyTo(_lastBurst);
        frame.AccelX = BinaryPrimitives.ReadInt16BigEndian(burst) * _accelScale;
        frame.AccelY = BinaryPrimitives.ReadInt16BigEndian(burst[2..]) * _accelScale;
        frame.AccelZ = BinaryPrimitives.ReadInt16BigEndian(burst[4..]) * _accelScale;
        frame.TemperatureC = DecodeTemperature(BinaryPrimitives.ReadInt16BigEndian(burst[6..]));
        frame.GyroX = BinaryPrimitives.ReadInt16BigEndian(burst[8..]) * _gyroScale - _biasX;
        frame.GyroY = BinaryPrimitives.ReadInt16BigEndian(burst[10..]) * _gyroScale - _biasY;
        frame.GyroZ = BinaryPrimitives.ReadInt16BigEndian(burst[12..]) * _gyroScale - _biasZ;
    }

    /// <summary>One burst read into spans: accel (m/s²) and gyro (rad/s, bias removed) XYZ; returns °C.</summary>
    public float Read(Span<float> accel, Span<float> gyro)
    {
        if (accel.Length < 3 || gyro.Length < 3) throw new ArgumentException("accel and gyro each need 3 elements");
        Span<byte> burst = stackalloc byte[BurstLength];
        ReadBurst(burst);
        accel[0] = BinaryPrimitives.ReadInt16BigEndian(burst) * _accelScale;
        accel[1] = BinaryPrimitives.ReadInt16BigEndian(burst[2..]) * _accelScale;
        accel[2] = BinaryPrimitives.ReadInt16BigEndian(burst[4..]) * _accelScale;
        gyro[0] = BinaryPrimitives.ReadInt16BigEndian(burst[8..]) * _gyroScale - _biasX;
        gyro[1] = BinaryPrimitives.ReadInt16BigEndian(burst[10..]) * _gyroScale - _biasY;
        gyro[2] = BinaryPrimitives.ReadInt16BigEndian(burst[12..]) * _gyroScale - _biasZ;
        return DecodeTemperature(BinaryPrimitives.ReadInt16BigEndian(burst[6..]));
    }

    /// <summary>Register map §4.18: temperature in °C = raw / 340 + 36.53.</summary>
    public static float DecodeTemperature(short raw) => raw / 340f + 36.53f;

    /// <summary>
    /// Averages <see cref="Mpu6050Options.GyroCalibrationSamples"/> gyro readings while the robot stands
    /// still and keeps the mean as the bias subtracted from every later read. <paramref name="waitForNextSample"/>
    /// is called before each read (sleep one sample period on the robot; wait for the next frame in the sim).
    /// Throws <see cref="InvalidOperationException"/> when the spread shows the robot was moving.
    /// </summary>
    public void CalibrateGyroBias(Action waitForNextSample)
    {
        ArgumentNullException.ThrowIfNull(waitForNextSample);
        int n = Options.GyroCalibrationSamples;
        if (n <= 0) return;
        Span<short> raw = stackalloc short[7];
        double sumX = 0, sumY = 0, sumZ = 0, sqX = 0, sqY = 0, sqZ = 0;
        for (int i = 0; i < n; i++)
        {
            // Wait before every sample, the first too: right after wake-up the data registers are not filled yet.
            waitForNextSample();
            ReadRaw(raw);
            double x = raw[4] * (double)_gyroScale, y = raw[5] * (double)_gyroScale, z = raw[6] * (double)_gyroScale;
            sumX += x; sumY += y; sumZ += z;
            sqX += x * x; sqY += y * y; sqZ += z * z;
        }
        double meanX = sumX / n, meanY = sumY / n, meanZ = sumZ / n;
        double std = Math.Sqrt(Math.Max(Math.Max(sqX / n - meanX * meanX, sqY / n - meanY * meanY), Math.Max(sqZ / n - meanZ * meanZ, 0)));
        if (std > Options.GyroCalibrationMaxStdDev)
        {
            throw new InvalidOperationException(
                $"MPU-6050 gyro calibration: the robot moved while it should stand still (gyro std-dev {std:F4} rad/s over {n} samples > {Options.GyroCalibrationMaxStdDev} rad/s); hold it still and restart");
        }
        SetGyroBias((float)meanX, (float)meanY, (float)meanZ);
    }

    /// <summary>Sets the gyro bias directly, rad/s (e.g. restored from a previous calibration).</summary>
    public void SetGyroBias(float x, float y, float z)
    {
        _biasX = x;
        _biasY = y;
        _biasZ = z;
    }

    public void Dispose()
    {
        if (_ownsDevice) _device.Dispose();
    }

    private void SetScales(Mpu6050AccelRange accel, Mpu6050GyroRange gyro)
    {
        _accelScale = (float)(StandardGravity / AccelLsbPerG(accel));
        _gyroScale = (float)(DegreesToRadians / GyroLsbPerDegreePerSecond(gyro));
    }

    private void ReadBurst(Span<byte> burst)
    {
        ReadOnlySpan<byte> start = [(byte)Mpu6050Register.AccelXOutH];
        try
        {
            _device.WriteRead(start, burst);
        }
        catch (Exception ex) when (BusFaultException.IsTransferFailure(ex))
        {
            throw Fault("burst read of 14 bytes from ACCEL_XOUT_H (0x3B)", ex.Message, ex);
        }
    }

    private byte ReadRegister(Mpu6050Register register, string operation)
    {
        Span<byte> address = [(byte)register];
        Span<byte> value = stackalloc byte[1];
        try
        {
            _device.WriteRead(address, value);
        }
        catch (Exception ex) when (BusFaultException.IsTransferFailure(ex))
        {
            throw Fault(operation, ex.Message, ex);
        }
        return value[0];
    }

    private void WriteRegister(Mpu6050Register register, byte value, string operation)
    {
        Span<byte> transfer = [(byte)register, value];
        try
        {
            _device.Write(transfer);
        }
        catch (Exception ex) when (BusFaultException.IsTransferFailure(ex))
        {
            throw Fault($"write of {operation}", ex.Message, ex);
        }
    }

    private void WriteVerified(Mpu6050Register register, byte value, string name)
    {
        WriteRegister(register, value, name);
        byte back = ReadRegister(register, $"read-back of {name}");
        if (back != value)
            throw Fault($"configuration of {name} (0x{(byte)register:X2})", $"wrote 0x{value:X2}, reads back 0x{back:X2}");
    }

    private BusFaultException Fault(string operation, string reason, Exception? inner = null) =>
        new(DeviceName, _device.ConnectionSettings, operation, reason, inner);
}
