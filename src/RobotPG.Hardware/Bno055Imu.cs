using System.Device.I2c;
using System.Numerics;
using Iot.Device.Bno055;

namespace RobotPG.Hardware;

/// <summary>Settings of a <see cref="Bno055Imu"/>.</summary>
public sealed record Bno055Options
{
    /// <summary>0x28 with COM3 low, 0x29 with COM3 high.</summary>
    public int Address { get; init; } = Bno055Sensor.DefaultI2cAddress;

    /// <summary>Reads between die-temperature reads (an extra transfer; the temperature moves slowly).</summary>
    public int TemperatureEveryReads { get; init; } = 100;
}

/// <summary>
/// A Bosch BNO055 IMU through Iot.Device.Bindings' <see cref="Bno055Sensor"/>, the second IMU family the
/// robot config can name (<c>imu.kind</c> "bno055"). The chip runs its IMU fusion mode (accelerometer +
/// gyro, no magnetometer: the motors disturb it), which fixes ±4 g and ±2000 °/s and calibrates the gyro
/// itself. A read is the binding's two 6-byte reads (accelerometer, 1 m/s² = 100 LSB; gyro, 1 °/s = 16 LSB;
/// datasheet §3.6.4) — four transfers where the MPU-6050 needs one 14-byte burst. The binding is used as it
/// is: it decodes both vectors right and, unlike its MPU-6050 and PCA9685 drivers, costs nothing the project
/// measured as wrong (0.15 MB of native-AOT code, no trim warning). Its temperature property returns a
/// UnitsNet quantity (several MB of AOT code), so the TEMP register (0x34, signed °C) is read here directly.
/// </summary>
public sealed class Bno055Imu : IDisposable
{
    /// <summary>CHIP_ID (register 0x00) of a BNO055.</summary>
    public const byte ExpectedChipId = 0xA0;

    private const byte TemperatureRegister = 0x34;
    private const string DeviceName = "BNO055";
    private const float DegreesToRadians = MathF.PI / 180f;

    private readonly I2cDevice _device;
    private readonly bool _ownsDevice;
    private Bno055Sensor? _sensor;
    private Vector3 _lastAccel = new(float.NaN), _lastGyro = new(float.NaN);
    private int _readsSinceTemperature = int.MaxValue - 1;
    private float _temperature;

    public Bno055Imu(I2cDevice device, Bno055Options? options = null, bool ownsDevice = false)
    {
        _device = device ?? throw new ArgumentNullException(nameof(device));
        _ownsDevice = ownsDevice;
        Options = options ?? new Bno055Options();
    }

    public Bno055Options Options { get; }

    /// <summary>Whether the last <see cref="Read"/> differed from the one before (stale-data detection from the data itself).</summary>
    public bool LastReadChanged { get; private set; }

    /// <summary>
    /// Checks CHIP_ID and sets the chip up through the binding (units m/s², °/s, °C; IMU fusion mode).
    /// Throws <see cref="BusFaultException"/> when the chip is missing or is not a BNO055.
    /// </summary>
    public void Initialize()
    {
        try
        {
            _sensor = new Bno055Sensor(_device, OperationMode.AccelerometerGyroscopeRelativeOrientation, shouldDispose: false);
        }
        catch (Exception ex) when (BusFaultException.IsTransferFailure(ex))
        {
            throw Fault("initialisation", ex.Message, ex);
        }
        catch (Exception ex) when (ex.GetType() == typeof(Exception))
        {
            // The binding throws a plain Exception when CHIP_ID is not 0xA0.
            throw Fault("identity check", $"CHIP_ID (0x00) is not 0x{ExpectedChipId:X2}: not a BNO055 (check the address: 0x28, or 0x29 with COM3 high)", ex);
        }
    }

    /// <summary>One read into the IMU fields of <paramref name="frame"/>, in the chip's axes. Allocates nothing.</summary>
    public void Read(SensorFrame frame)
    {
        Bno055Sensor sensor = _sensor ?? throw new InvalidOperationException("BNO055: Initialize first");
        Vector3 accel, gyro;
        try
        {
            accel = sensor.Accelerometer;
            gyro = sensor.Gyroscope;
            if (++_readsSinceTemperature >= Options.TemperatureEveryReads)
            {
                ReadOnlySpan<byte> pointer = [TemperatureRegister];
                Span<byte> value = stackalloc byte[1];
                _device.WriteRead(pointer, value);
                _temperature = (sbyte)value[0];
                _readsSinceTemperature = 0;
            }
        }
        catch (Exception ex) when (BusFaultException.IsTransferFailure(ex))
        {
            throw Fault("read of ACC_DATA/GYR_DATA (0x08/0x14)", ex.Message, ex);
        }
        LastReadChanged = accel != _lastAccel || gyro != _lastGyro;
        _lastAccel = accel;
        _lastGyro = gyro;
        frame.AccelX = accel.X;
        frame.AccelY = accel.Y;
        frame.AccelZ = accel.Z;
        frame.GyroX = gyro.X * DegreesToRadians;
        frame.GyroY = gyro.Y * DegreesToRadians;
        frame.GyroZ = gyro.Z * DegreesToRadians;
        frame.TemperatureC = _temperature;
    }

    public void Dispose()
    {
        if (_ownsDevice) _device.Dispose();
    }

    private BusFaultException Fault(string operation, string reason, Exception? inner = null) =>
        new(DeviceName, _device.ConnectionSettings, operation, reason, inner);
}
