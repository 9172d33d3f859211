namespace RobotPG.Sim.Devices;

/// <summary>
/// A chip on an I2C bus seen as its register file, with the bus semantics of a real transfer:
/// the first byte of a write sets the register pointer, further bytes are stored from the pointer
/// on (auto-increment); a read returns bytes from the pointer on (auto-increment where the chip
/// does it). Not thread-safe: one bus master at a time, as on a real bus.
/// </summary>
public interface IRegisterDevice
{
    /// <summary>7-bit I2C address.</summary>
    int Address { get; }

    /// <summary>One write transfer (START, address+W, <paramref name="data"/>, STOP).</summary>
    void Write(ReadOnlySpan<byte> data);

    /// <summary>One read transfer (START, address+R, <paramref name="buffer"/>.Length bytes, STOP).</summary>
    void Read(Span<byte> buffer);
}

/// <summary>
/// A register device whose whole register file can be copied out as it stands, so the simulator
/// can ship it in a sensor frame and the controller side can serve any register read from it.
/// </summary>
public interface IRegisterImage
{
    /// <summary>The register file, indexed by register address (length = number of addressable registers).</summary>
    ReadOnlySpan<byte> RegisterImage { get; }
}
