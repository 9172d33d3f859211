using System.Buffers.Binary;
using System.Device.I2c;

namespace RobotPG.Hardware;

/// <summary>Settings of an <see cref="Ina219"/> battery monitor.</summary>
public sealed record Ina219Options
{
    /// <summary>0x40–0x4F by the A0/A1 straps; 0x41 keeps it off a PCA9685's default 0x40.</summary>
    public int Address { get; init; } = 0x41;

    /// <summary>Shunt resistance, Ω (0.1 Ω on the common breakout boards).</summary>
    public double ShuntOhms { get; init; } = 0.1;
}

/// <summary>
/// The TI INA219 current/power monitor as the robot's battery gauge (datasheet SBOS448G).
/// <see cref="Initialize"/> writes CONFIGURATION 0x399F (32 V bus range, ±320 mV shunt range, 12-bit,
/// continuous shunt and bus conversion) and reads it back; <see cref="ReadBusVolts"/> is one 2-byte read of
/// BUS_VOLTAGE (bits 15–3, 4 mV per LSB, §8.6.3.2) and <see cref="ReadShuntAmps"/> one of SHUNT_VOLTAGE
/// (two's complement, 10 µV per LSB, §8.6.3.1) divided by the shunt. Written here rather than taken from
/// Iot.Device.Bindings: its Ina219 returns UnitsNet quantities, which add 5.2 MB and an IL2104 trim warning
/// to the controller's native-AOT binary (measured: x64 11.39 → 16.55 MB, over its 12 MB budget), waits out a
/// whole ADC conversion (532 µs at 12 bits, yielding the thread) inside every read — a stall in the control step —
/// and reads the signed shunt register as unsigned (−15 mV reads +0.640 V; measured against a register fake).
/// </summary>
public sealed class Ina219 : IDisposable
{
    public const byte ConfigurationRegister = 0x00, ShuntVoltageRegister = 0x01, BusVoltageRegister = 0x02;

    /// <summary>BRNG = 1 (32 V), PG = 11 (±320 mV), BADC = SADC = 0011 (12 bit), MODE = 111 (continuous): the power-on default.</summary>
    public const ushort Configuration = 0x399F;

    public const double BusVoltsPerLsb = 0.004;
    public const double ShuntVoltsPerLsb = 10e-6;

    private const string DeviceName = "INA219";
    private readonly I2cDevice _device;
    private readonly bool _ownsDevice;

    public Ina219(I2cDevice device, Ina219Options? options = null, bool ownsDevice = false)
    {
        _device = device ?? throw new ArgumentNullException(nameof(device));
        _ownsDevice = ownsDevice;
        Options = options ?? new Ina219Options();
        if (!(Options.ShuntOhms > 0 && double.IsFinite(Options.ShuntOhms)))
            throw new ArgumentOutOfRangeException(nameof(options), Options.ShuntOhms, "the shunt resistance must be a positive number of ohms");
    }

    public Ina219Options Options { get; }

    /// <summary>Writes CONFIGURATION and checks it reads back; throws <see cref="BusFaultException"/> when the chip is missing or does not take it.</summary>
    public void Initialize()
    {
        Span<byte> write = [ConfigurationRegister, Configuration >> 8, Configuration & 0xFF];
        try
        {
            _device.Write(write);
        }
        catch (Exception ex) when (BusFaultException.IsTransferFailure(ex))
        {
            throw Fault("write of CONFIGURATION (0x00)", ex.Message, ex);
        }
        ushort back = ReadRegister(ConfigurationRegister, "read-back of CONFIGURATION (0x00)");
        if (back != Configuration)
            throw Fault("configuration", $"CONFIGURATION reads back 0x{back:X4}, wrote 0x{Configuration:X4}");
    }

    /// <summary>The battery voltage at the bus input (V+ to ground), volts. One transfer; allocates nothing.</summary>
    public float ReadBusVolts()
    {
        ushort raw = ReadRegister(BusVoltageRegister, "read of BUS_VOLTAGE (0x02)");
        return (float)((raw >> 3) * BusVoltsPerLsb);
    }

    /// <summary>Current through the shunt, amperes (negative while charging). One transfer; allocates nothing.</summary>
    public float ReadShuntAmps()
    {
        short raw = (short)ReadRegister(ShuntVoltageRegister, "read of SHUNT_VOLTAGE (0x01)");
        return (float)(raw * ShuntVoltsPerLsb / Options.ShuntOhms);
    }

    public void Dispose()
    {
        if (_ownsDevice) _device.Dispose();
    }

    private ushort ReadRegister(byte register, string operation)
    {
        Span<byte> pointer = [register];
        Span<byte> value = stackalloc byte[2];
        try
        {
            _device.WriteRead(pointer, value);
        }
        catch (Exception ex) when (BusFaultException.IsTransferFailure(ex))
        {
            throw Fault(operation, ex.Message, ex);
        }
        return BinaryPrimitives.ReadUInt16BigEndian(value);
    }

    private BusFaultException Fault(string operation, string reason, Exception? inner = null) =>
        new(DeviceName, _device.ConnectionSettings, operation, reason, inner);
}
