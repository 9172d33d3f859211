using System.Device.I2c;

namespace RobotPG.Controller.Simulation;

/// <summary>
/// An I2C chip seen through the simulator's frames: reads are served from the chip's register image
/// in the latest sensor frame (register pointer with auto-increment, as the MPU-6050 and the
/// PCA9685 with MODE1.AI do), writes are recorded into the pending actuator frame. A read after a
/// write to the same chip first sends the write and waits for a frame that reflects it, so
/// write-then-verify sequences (chip start-up) see their own writes. Allocation-free.
/// </summary>
public sealed class SimI2cDevice : I2cDevice
{
    private readonly SimBus _bus;
    private int _pointer;
    private long _unacknowledgedCommit;

    internal SimI2cDevice(SimBus bus, I2cConnectionSettings settings)
    {
        _bus = bus;
        ConnectionSettings = settings;
    }

    public override I2cConnectionSettings ConnectionSettings { get; }

    public int Address => ConnectionSettings.DeviceAddress;

    public override void Read(Span<byte> buffer)
    {
        if (_unacknowledgedCommit > 0)
        {
            _bus.SynchroniseThrough(_unacknowledgedCommit, this);
            _unacknowledgedCommit = 0;
        }
        ReadOnlySpan<byte> image = _bus.Current.ImageOf(Address);
        if (image.IsEmpty)
        {
            throw new IOException(
                $"I2C bus {ConnectionSettings.BusId} address 0x{Address:X2}: no such chip in the simulator's sensor frame (tick {_bus.Current.Sequence})");
        }
        int pointer = _pointer % image.Length; // a pointer past a short image wraps, as the chip's does
        for (int i = 0; i < buffer.Length; i++)
        {
            buffer[i] = image[pointer];
            pointer = (pointer + 1) % image.Length;
        }
        _pointer = pointer;
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (buffer.IsEmpty) return;
        _pointer = buffer[0];
        if (buffer.Length == 1) return; // a pointer set: nothing changes in the chip
        _unacknowledgedCommit = _bus.RecordI2cWrite(Address, buffer);
        _pointer = (_pointer + buffer.Length - 1) & 0xFF;
    }

    public override void WriteRead(ReadOnlySpan<byte> writeBuffer, Span<byte> readBuffer)
    {
        Write(writeBuffer);
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
}
