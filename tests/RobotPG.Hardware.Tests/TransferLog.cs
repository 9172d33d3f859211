using System.Device.I2c;

namespace RobotPG.Hardware.Tests;

/// <summary>
/// Records every transfer a driver makes and passes it on to the emulated chip, so tests can check
/// which registers were written in which order. Not an emulation: the chip behind it answers.
/// </summary>
internal sealed class TransferLog : I2cDevice
{
    private readonly I2cDevice _inner;

    public TransferLog(I2cDevice inner) => _inner = inner;

    public override I2cConnectionSettings ConnectionSettings => _inner.ConnectionSettings;

    /// <summary>Every write transfer (register pointer first), including the pointer writes of WriteRead.</summary>
    public List<byte[]> Writes { get; } = [];

    /// <summary>Register writes only: writes carrying data after the pointer, as (register, data...).</summary>
    public IEnumerable<byte[]> RegisterWrites => Writes.Where(w => w.Length >= 2);

    /// <summary>Register pointers of register reads (the write half of WriteRead), in order.</summary>
    public List<byte> ReadPointers { get; } = [];

    public bool Recording { get; set; } = true;

    public override void Read(Span<byte> buffer) => _inner.Read(buffer);

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (Recording) Writes.Add(buffer.ToArray());
        _inner.Write(buffer);
    }

    public override void WriteRead(ReadOnlySpan<byte> writeBuffer, Span<byte> readBuffer)
    {
        if (Recording && writeBuffer.Length > 0) ReadPointers.Add(writeBuffer[0]);
        _inner.WriteRead(writeBuffer, readBuffer);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _inner.Dispose();
        base.Dispose(disposing);
    }
}

internal static class Bytes
{
    public static string Hex(IEnumerable<byte[]> transfers) =>
        string.Join(" | ", transfers.Select(t => string.Join(" ", t.Select(b => b.ToString("X2")))));
}
