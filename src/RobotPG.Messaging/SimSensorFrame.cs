using System.Buffers;
using System.Buffers.Binary;

namespace RobotPG.Messaging;

/// <summary>
/// One simulator tick as the controller's sim-backed bus sees it: the tick number, sim time, the
/// full register file of every emulated I2C chip (so any register read can be served from it) and
/// the count of every quadrature encoder, the actuator frame it has applied last and the GPIO levels
/// it holds (so the controller can tell which of its writes a frame reflects, and read its pins back).
/// Allocated once with room for the largest frame; encode
/// and decode reuse it without allocating. Byte layout: README.md, "Sensor frame".
/// </summary>
public sealed class SimSensorFrame
{
    public const int MaxDevices = 8;
    public const int MaxImageLength = 256;
    public const int MaxEncoders = 8;

    private const int BodyOffset = FrameFormat.HeaderLength;
    private const int DevicesOffset = BodyOffset + 28;
    private const int DeviceHeaderLength = 4;

    private readonly byte[] _addresses = new byte[MaxDevices];
    private readonly int[] _imageLengths = new int[MaxDevices];
    private readonly byte[][] _images = new byte[MaxDevices][];
    private readonly long[] _encoderCounts = new long[MaxEncoders];

    public SimSensorFrame()
    {
        for (int i = 0; i < MaxDevices; i++) _images[i] = new byte[MaxImageLength];
    }

    /// <summary>Largest encoded frame: header, body, 8 full 256-byte images, 8 encoders, CRC.</summary>
    public const int MaxEncodedLength = DevicesOffset + MaxDevices * (DeviceHeaderLength + MaxImageLength) + 8 * MaxEncoders + FrameFormat.CrcLength;

    /// <summary>The sim tick this frame shows (0 after reset, +1 per control tick).</summary>
    public ulong Sequence { get; set; }

    /// <summary>Simulated time at this tick, seconds since the last reset.</summary>
    public double SimTime { get; set; }

    /// <summary>
    /// <see cref="SimActuatorFrame.Sequence"/> of the last actuator frame the simulator applied before
    /// it computed this frame (0: none yet): a read-back of a write is answered only by a frame that
    /// includes it, whatever the clock (in real time a frame may be computed before a write arrives).
    /// </summary>
    public ulong AppliedActuatorSequence { get; set; }

    /// <summary>The level of GPIO 0–63 as the simulated robot holds it (bit n: GPIO n high): the read-back of the controller's pin writes.</summary>
    public ulong PinLevels { get; set; }

    public bool PinHigh(int pin) => (uint)pin < 64 && (PinLevels >> pin & 1) != 0;

    public int DeviceCount { get; private set; }

    public int EncoderCount { get; private set; }

    public byte DeviceAddress(int index) => _addresses[CheckDevice(index, DeviceCount)];

    public ReadOnlySpan<byte> DeviceImage(int index) => _images[CheckDevice(index, DeviceCount)].AsSpan(0, _imageLengths[index]);

    /// <summary>The register image of the chip at a 7-bit address, or an empty span when the frame has none.</summary>
    public ReadOnlySpan<byte> ImageOf(int address)
    {
        for (int i = 0; i < DeviceCount; i++)
            if (_addresses[i] == address) return _images[i].AsSpan(0, _imageLengths[i]);
        return ReadOnlySpan<byte>.Empty;
    }

    /// <summary>Counts per encoder channel, in channel order.</summary>
    public Span<long> EncoderCounts => _encoderCounts.AsSpan(0, EncoderCount);

    /// <summary>Sets the number of devices and encoders the frame carries (contents are kept).</summary>
    public void SetShape(int deviceCount, int encoderCount)
    {
        if ((uint)deviceCount > MaxDevices) throw new ArgumentOutOfRangeException(nameof(deviceCount), deviceCount, $"a sensor frame carries at most {MaxDevices} devices");
        if ((uint)encoderCount > MaxEncoders) throw new ArgumentOutOfRangeException(nameof(encoderCount), encoderCount, $"a sensor frame carries at most {MaxEncoders} encoders");
        DeviceCount = deviceCount;
        EncoderCount = encoderCount;
    }

    /// <summary>Copies a chip's register file into device slot <paramref name="index"/>.</summary>
    public void SetDevice(int index, int address, ReadOnlySpan<byte> image)
    {
        CheckDevice(index, MaxDevices);
        if (address < 0x03 || address > 0x77) throw new ArgumentOutOfRangeException(nameof(address), address, "a 7-bit I2C address is 0x03–0x77");
        if (image.IsEmpty || image.Length > MaxImageLength) throw new ArgumentOutOfRangeException(nameof(image), image.Length, $"a register image is 1–{MaxImageLength} bytes");
        _addresses[index] = (byte)address;
        _imageLengths[index] = image.Length;
        image.CopyTo(_images[index]);
    }

    public int EncodedLength
    {
        get
        {
            int length = DevicesOffset + 8 * EncoderCount + FrameFormat.CrcLength;
            for (int i = 0; i < DeviceCount; i++) length += DeviceHeaderLength + _imageLengths[i];
            return length;
        }
    }

    /// <summary>Writes the frame; returns its length. <paramref name="destination"/> must hold <see cref="EncodedLength"/> bytes.</summary>
    public int Encode(Span<byte> destination)
    {
        int length = EncodedLength;
        if (destination.Length < length) throw new ArgumentException($"sensor frame needs {length} bytes, the buffer has {destination.Length}", nameof(destination));
        var frame = destination[..length];
        FrameFormat.WriteHeader(frame, FrameFormat.SensorMagic, length, Sequence);
        BinaryPrimitives.WriteDoubleLittleEndian(frame[BodyOffset..], SimTime);
        frame[BodyOffset + 8] = (byte)DeviceCount;
        frame[BodyOffset + 9] = (byte)EncoderCount;
        BinaryPrimitives.WriteUInt16LittleEndian(frame[(BodyOffset + 10)..], 0);
        BinaryPrimitives.WriteUInt64LittleEndian(frame[(BodyOffset + 12)..], AppliedActuatorSequence);
        BinaryPrimitives.WriteUInt64LittleEndian(frame[(BodyOffset + 20)..], PinLevels);
        int at = DevicesOffset;
        for (int i = 0; i < DeviceCount; i++)
        {
            frame[at] = _addresses[i];
            frame[at + 1] = 0;
            BinaryPrimitives.WriteUInt16LittleEndian(frame[(at + 2)..], (ushort)_imageLengths[i]);
            _images[i].AsSpan(0, _imageLengths[i]).CopyTo(frame[(at + DeviceHeaderLength)..]);
            at += DeviceHeaderLength + _imageLengths[i];
        }
        for (int e = 0; e < EncoderCount; e++, at += 8)
            BinaryPrimitives.WriteInt64LittleEndian(frame[at..], _encoderCounts[e]);
        FrameFormat.WriteCrc(frame, length);
        return length;
    }

    /// <summary>
    /// Decodes <paramref name="source"/> into this frame. On anything but <see cref="FrameStatus.Ok"/>
    /// the frame is left exactly as it was.
    /// </summary>
    public FrameStatus TryDecode(ReadOnlySpan<byte> source)
    {
        var status = FrameFormat.CheckEnvelope(source, FrameFormat.SensorMagic, DevicesOffset + FrameFormat.CrcLength, out ulong sequence);
        if (status != FrameStatus.Ok) return status;
        int devices = source[BodyOffset + 8];
        int encoders = source[BodyOffset + 9];
        if (devices > MaxDevices || encoders > MaxEncoders || BinaryPrimitives.ReadUInt16LittleEndian(source[(BodyOffset + 10)..]) != 0)
            return FrameStatus.BadContent;
        double simTime = BinaryPrimitives.ReadDoubleLittleEndian(source[BodyOffset..]);
        if (!double.IsFinite(simTime)) return FrameStatus.BadContent;

        // Walk the structure once to validate before touching this frame.
        int end = source.Length - FrameFormat.CrcLength;
        int at = DevicesOffset;
        for (int i = 0; i < devices; i++)
        {
            if (at + DeviceHeaderLength > end) return FrameStatus.BadContent;
            int address = source[at];
            int imageLength = BinaryPrimitives.ReadUInt16LittleEndian(source[(at + 2)..]);
            if (address < 0x03 || address > 0x77 || source[at + 1] != 0 || imageLength == 0 || imageLength > MaxImageLength)
                return FrameStatus.BadContent;
            at += DeviceHeaderLength + imageLength;
        }
        if (at + 8 * encoders != end) return FrameStatus.BadContent;

        Sequence = sequence;
        SimTime = simTime;
        AppliedActuatorSequence = BinaryPrimitives.ReadUInt64LittleEndian(source[(BodyOffset + 12)..]);
        PinLevels = BinaryPrimitives.ReadUInt64LittleEndian(source[(BodyOffset + 20)..]);
        DeviceCount = devices;
        EncoderCount = encoders;
        at = DevicesOffset;
        for (int i = 0; i < devices; i++)
        {
            int imageLength = BinaryPrimitives.ReadUInt16LittleEndian(source[(at + 2)..]);
            _addresses[i] = source[at];
            _imageLengths[i] = imageLength;
            source.Slice(at + DeviceHeaderLength, imageLength).CopyTo(_images[i]);
            at += DeviceHeaderLength + imageLength;
        }
        for (int e = 0; e < encoders; e++, at += 8)
            _encoderCounts[e] = BinaryPrimitives.ReadInt64LittleEndian(source[at..]);
        return FrameStatus.Ok;
    }

    /// <summary>Decodes an MQTT payload; a multi-segment payload is first gathered into <paramref name="scratch"/>.</summary>
    public FrameStatus TryDecode(in ReadOnlySequence<byte> payload, Span<byte> scratch) =>
        FrameSequences.TryGetSpan(payload, scratch, out var span, out var status) ? TryDecode(span) : status;

    /// <summary>Copies every field of another frame into this one.</summary>
    public void CopyFrom(SimSensorFrame other)
    {
        Sequence = other.Sequence;
        SimTime = other.SimTime;
        AppliedActuatorSequence = other.AppliedActuatorSequence;
        PinLevels = other.PinLevels;
        SetShape(other.DeviceCount, other.EncoderCount);
        for (int i = 0; i < other.DeviceCount; i++) SetDevice(i, other._addresses[i], other.DeviceImage(i));
        other.EncoderCounts.CopyTo(_encoderCounts);
    }

    private static int CheckDevice(int index, int count)
    {
        if ((uint)index >= (uint)count)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"device slot {index} is outside 0–{count - 1}");
        return index;
    }
}

/// <summary>Gets one contiguous span out of an MQTT payload without allocating.</summary>
public static class FrameSequences
{
    public static bool TryGetSpan(in ReadOnlySequence<byte> payload, Span<byte> scratch, out ReadOnlySpan<byte> span, out FrameStatus status)
    {
        status = FrameStatus.Ok;
        if (payload.Length > FrameFormat.MaxFrameLength)
        {
            span = default;
            status = FrameStatus.Oversized;
            return false;
        }
        if (payload.IsSingleSegment)
        {
            span = payload.FirstSpan;
            return true;
        }
        if (payload.Length > scratch.Length)
        {
            span = default;
            status = FrameStatus.Oversized;
            return false;
        }
        payload.CopyTo(scratch);
        span = scratch[..(int)payload.Length];
        return true;
    }
}
