using System.Buffers.Binary;
using System.IO.Hashing;

namespace RobotPG.Messaging;

/// <summary>Outcome of decoding a binary frame. Anything but <see cref="Ok"/> means the frame was dropped.</summary>
public enum FrameStatus : byte
{
    Ok = 0,
    TooShort,
    Oversized,
    BadMagic,
    UnsupportedVersion,
    BadFlags,
    LengthMismatch,
    BadChecksum,
    BadContent,
}

/// <summary>
/// The header and trailer every binary frame shares (README.md, "Frame layouts"): 2-byte magic,
/// version, flags, u32 total length, u64 sequence; a CRC-32 (IEEE) of all preceding bytes at the end.
/// All multi-byte fields are little-endian.
/// </summary>
public static class FrameFormat
{
    public const byte Version = 1;
    public const int HeaderLength = 16;
    public const int CrcLength = 4;

    /// <summary>No frame of this contract is larger; anything bigger is refused before it is looked at.</summary>
    public const int MaxFrameLength = 8192;

    public const ushort SensorMagic = 0x5352;   // "RS"
    public const ushort ActuatorMagic = 0x4152; // "RA"
    public const ushort TruthMagic = 0x5452;    // "RT"

    internal static void WriteHeader(Span<byte> frame, ushort magic, int length, ulong sequence, byte flags = 0)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(frame, magic);
        frame[2] = Version;
        frame[3] = flags;
        BinaryPrimitives.WriteUInt32LittleEndian(frame[4..], (uint)length);
        BinaryPrimitives.WriteUInt64LittleEndian(frame[8..], sequence);
    }

    internal static void WriteCrc(Span<byte> frame, int length) =>
        BinaryPrimitives.WriteUInt32LittleEndian(frame[(length - CrcLength)..], Crc32.HashToUInt32(frame[..(length - CrcLength)]));

    /// <summary>Checks magic, version, flags, declared length and CRC; on success returns the sequence.</summary>
    internal static FrameStatus CheckEnvelope(ReadOnlySpan<byte> frame, ushort magic, int minLength, out ulong sequence) =>
        CheckEnvelope(frame, magic, minLength, allowedFlags: 0, out sequence, out _);

    /// <summary>Same for a frame type that defines flag bits: a flag outside <paramref name="allowedFlags"/> is <see cref="FrameStatus.BadFlags"/>.</summary>
    internal static FrameStatus CheckEnvelope(ReadOnlySpan<byte> frame, ushort magic, int minLength, byte allowedFlags, out ulong sequence, out byte flags)
    {
        sequence = 0;
        flags = 0;
        if (frame.Length > MaxFrameLength) return FrameStatus.Oversized;
        if (frame.Length < Math.Max(minLength, HeaderLength + CrcLength)) return FrameStatus.TooShort;
        if (BinaryPrimitives.ReadUInt16LittleEndian(frame) != magic) return FrameStatus.BadMagic;
        if (frame[2] != Version) return FrameStatus.UnsupportedVersion;
        if ((frame[3] & ~allowedFlags) != 0) return FrameStatus.BadFlags;
        if (BinaryPrimitives.ReadUInt32LittleEndian(frame[4..]) != (uint)frame.Length) return FrameStatus.LengthMismatch;
        uint crc = BinaryPrimitives.ReadUInt32LittleEndian(frame[^CrcLength..]);
        if (Crc32.HashToUInt32(frame[..^CrcLength]) != crc) return FrameStatus.BadChecksum;
        sequence = BinaryPrimitives.ReadUInt64LittleEndian(frame[8..]);
        flags = frame[3];
        return FrameStatus.Ok;
    }
}

/// <summary>Counts decoded frames per outcome; increments are atomic so any thread may record.</summary>
public sealed class FrameCounters
{
    private readonly long[] _counts = new long[Enum.GetValues<FrameStatus>().Length];
    private long _outOfOrder;

    public void Record(FrameStatus status) => Interlocked.Increment(ref _counts[(int)status]);

    /// <summary>A well-formed frame that answered the wrong tick or came late.</summary>
    public void RecordOutOfOrder() => Interlocked.Increment(ref _outOfOrder);

    public long this[FrameStatus status] => Interlocked.Read(ref _counts[(int)status]);

    public long Accepted => this[FrameStatus.Ok];

    public long OutOfOrder => Interlocked.Read(ref _outOfOrder);

    /// <summary>Frames dropped for any reason (malformed, oversized, out of order).</summary>
    public long Dropped
    {
        get
        {
            long sum = OutOfOrder;
            for (int i = 1; i < _counts.Length; i++) sum += Interlocked.Read(ref _counts[i]);
            return sum;
        }
    }

    public long Total => Accepted + Dropped;
}
