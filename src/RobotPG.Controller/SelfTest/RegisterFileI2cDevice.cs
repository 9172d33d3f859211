using System.Device.I2c;

namespace RobotPG.Controller.SelfTest;

/// <summary>
/// A chip seen as its register file behind an <see cref="I2cDevice"/>, with the bus semantics the
/// drivers rely on: a write's first byte sets the register pointer and further bytes are stored from
/// it on; a read returns bytes from the pointer on (auto-incrementing where the chip does). Just enough
/// for <c>robotpg selftest</c> to run the real drivers without hardware: the full chip emulations
/// (noise, physics, frames) live in the simulator, which the Pi binary does not carry.
/// </summary>
public abstract class RegisterFileI2cDevice : I2cDevice
{
    private readonly byte[] _registers;
    private int _pointer;

    protected RegisterFileI2cDevice(int busId, int address, int registerCount)
    {
        ConnectionSettings = new I2cConnectionSettings(busId, address);
        _registers = new byte[registerCount];
    }

    public override I2cConnectionSettings ConnectionSettings { get; }

    /// <summary>The register's current content, as the chip holds it.</summary>
    public byte this[int register] => _registers[register];

    protected Span<byte> Registers => _registers;

    /// <summary>Whether the pointer moves on after each byte (MPU-6050 always; PCA9685 only with MODE1.AI).</summary>
    protected virtual bool AutoIncrement => true;

    /// <summary>A byte written to a register: the chip's rules (read-only, self-clearing, mirrored) apply here.</summary>
    protected virtual void Store(int register, byte value) => _registers[register] = value;

    public override void Write(ReadOnlySpan<byte> buffer) => WriteCore(buffer);

    public override void Read(Span<byte> buffer)
    {
        for (int i = 0; i < buffer.Length; i++)
        {
            buffer[i] = _registers[_pointer];
            Advance();
        }
    }

    public override void WriteRead(ReadOnlySpan<byte> writeBuffer, Span<byte> readBuffer)
    {
        WriteCore(writeBuffer);
        Read(readBuffer);
    }

    public override byte ReadByte()
    {
        Span<byte> one = stackalloc byte[1];
        Read(one);
        return one[0];
    }

    public override void WriteByte(byte value)
    {
        Span<byte> one = [value];
        Write(one);
    }

    private void WriteCore(ReadOnlySpan<byte> buffer)
    {
        if (buffer.IsEmpty) return;
        _pointer = buffer[0] % _registers.Length;
        for (int i = 1; i < buffer.Length; i++)
        {
            Store(_pointer, buffer[i]);
            Advance();
        }
    }

    private void Advance()
    {
        if (AutoIncrement) _pointer = (_pointer + 1) % _registers.Length;
    }
}
