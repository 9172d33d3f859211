using System.Device.I2c;

namespace RobotPG.Sim.Devices;

/// <summary>
/// A <see cref="I2cDevice"/> backed by an emulated chip, so drivers written against
/// System.Device.Gpio run unchanged in tests and in the simulator. Injects bus faults on demand
/// (an <see cref="IOException"/> is what the Linux I2C driver raises on a NACK) and counts transfers.
/// </summary>
public sealed class EmulatedI2cDevice : I2cDevice
{
    private readonly IRegisterDevice _device;
    private int _failuresPending;
    private Exception? _failure;

    public EmulatedI2cDevice(IRegisterDevice device, int busId = 1)
    {
        _device = device ?? throw new ArgumentNullException(nameof(device));
        ConnectionSettings = new I2cConnectionSettings(busId, device.Address);
    }

    public override I2cConnectionSettings ConnectionSettings { get; }

    public IRegisterDevice Device => _device;

    /// <summary>Transfers attempted (a WriteRead counts once), including failed ones.</summary>
    public long TransferCount { get; private set; }

    /// <summary>Transfers that failed through injected faults.</summary>
    public long FailedTransferCount { get; private set; }

    public long BytesWritten { get; private set; }

    public long BytesRead { get; private set; }

    /// <summary>While true every transfer fails, as with an unplugged chip.</summary>
    public bool Disconnected { get; set; }

    /// <summary>
    /// Makes the next <paramref name="count"/> transfers fail without touching the chip, throwing
    /// <paramref name="failure"/> or, by default, an <see cref="IOException"/> like a NACK.
    /// </summary>
    public void FailNextTransfers(int count, Exception? failure = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        _failuresPending = count;
        _failure = failure;
    }

    public override void Read(Span<byte> buffer)
    {
        BeginTransfer();
        _device.Read(buffer);
        BytesRead += buffer.Length;
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        BeginTransfer();
        _device.Write(buffer);
        BytesWritten += buffer.Length;
    }

    /// <summary>Write then read with a repeated start: the write sets the register pointer the read starts from.</summary>
    public override void WriteRead(ReadOnlySpan<byte> writeBuffer, Span<byte> readBuffer)
    {
        BeginTransfer();
        _device.Write(writeBuffer);
        _device.Read(readBuffer);
        BytesWritten += writeBuffer.Length;
        BytesRead += readBuffer.Length;
    }

    public override byte ReadByte()
    {
        Span<byte> one = stackalloc byte[1];
        Read(one);
        return one[0];
    }

    public override void WriteByte(byte value)
    {
        Span<byte> one = stackalloc byte[1];
        one[0] = value;
        Write(one);
    }

    private void BeginTransfer()
    {
        TransferCount++;
        if (Disconnected)
        {
            FailedTransferCount++;
            throw new IOException($"I2C transfer to 0x{_device.Address:X2} on bus {ConnectionSettings.BusId} was not acknowledged (device disconnected)");
        }
        if (_failuresPending > 0)
        {
            _failuresPending--;
            FailedTransferCount++;
            throw _failure ?? new IOException($"I2C transfer to 0x{_device.Address:X2} on bus {ConnectionSettings.BusId} was not acknowledged (injected fault)");
        }
    }
}
