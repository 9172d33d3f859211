using System.Buffers.Binary;
using System.Device.I2c;

namespace RobotPG.Controller.Tests.SelfTest;

/// <summary>
/// The INA219's register file (datasheet SBOS448G §8.6): six 16-bit big-endian registers behind a pointer;
/// a 1-byte write sets the pointer, a 3-byte write stores into CONFIGURATION (0x00, RST bit 15 restores
/// 0x399F) or CALIBRATION (0x05), the measurement registers are read-only; a read returns the pointed
/// register and the pointer does not move on.
/// </summary>
internal sealed class Ina219RegisterFake(int busId = 1, int address = 0x40) : I2cDevice
{
    private readonly ushort[] _registers = [0x399F, 0, 0, 0, 0, 0];
    private int _pointer;

    public override I2cConnectionSettings ConnectionSettings { get; } = new(busId, address);

    public ushort this[int register] => _registers[register];

    /// <summary>A chip that ignores configuration writes (a different part at the address).</summary>
    public bool IgnoresWrites { get; set; }

    /// <summary>BUS_VOLTAGE as the chip would hold it: round(V / 4 mV) in bits 15–3, CNVR (bit 1) set.</summary>
    public void SetBusVolts(double volts) => _registers[2] = (ushort)(((int)Math.Round(volts / 0.004) << 3) | 0x2);

    public void SetShuntRaw(short raw) => _registers[1] = (ushort)raw;

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (buffer.IsEmpty) return;
        _pointer = buffer[0] % _registers.Length;
        if (buffer.Length < 3 || IgnoresWrites) return;
        ushort value = BinaryPrimitives.ReadUInt16BigEndian(buffer[1..]);
        if (_pointer == 0) _registers[0] = (value & 0x8000) != 0 ? (ushort)0x399F : value;
        else if (_pointer == 5) _registers[5] = value;
    }

    public override void Read(Span<byte> buffer)
    {
        for (int i = 0; i < buffer.Length; i++)
            buffer[i] = (byte)(i % 2 == 0 ? _registers[_pointer] >> 8 : _registers[_pointer]);
    }

    public override void WriteRead(ReadOnlySpan<byte> writeBuffer, Span<byte> readBuffer)
    {
        Write(writeBuffer);
        Read(readBuffer);
    }
}
