using System.Buffers;
using System.Buffers.Binary;

namespace RobotPG.Messaging;

/// <summary>
/// The simulator's true state at a tick (for tests and plots, never for the controller): a list of
/// doubles whose meaning each robot model documents (README.md, "Ground truth frame").
/// </summary>
public sealed class GroundTruthFrame
{
    public const int MaxValues = 32;

    private const int BodyOffset = FrameFormat.HeaderLength;
    private const int ValuesOffset = BodyOffset + 12;

    private readonly double[] _values = new double[MaxValues];

    public const int MaxEncodedLength = ValuesOffset + 8 * MaxValues + FrameFormat.CrcLength;

    public ulong Sequence { get; set; }

    public double SimTime { get; set; }

    /// <summary>1 when the robot has fallen (the episode ended), else 0.</summary>
    public bool Fallen { get; set; }

    public int ValueCount { get; private set; }

    public Span<double> Values => _values.AsSpan(0, ValueCount);

    public void SetValueCount(int count)
    {
        if ((uint)count > MaxValues) throw new ArgumentOutOfRangeException(nameof(count), count, $"a truth frame carries at most {MaxValues} values");
        ValueCount = count;
    }

    public int EncodedLength => ValuesOffset + 8 * ValueCount + FrameFormat.CrcLength;

    public int Encode(Span<byte> destination)
    {
        int length = EncodedLength;
        if (destination.Length < length) throw new ArgumentException($"truth frame needs {length} bytes, the buffer has {destination.Length}", nameof(destination));
        var frame = destination[..length];
        FrameFormat.WriteHeader(frame, FrameFormat.TruthMagic, length, Sequence);
        BinaryPrimitives.WriteDoubleLittleEndian(frame[BodyOffset..], SimTime);
        BinaryPrimitives.WriteUInt16LittleEndian(frame[(BodyOffset + 8)..], (ushort)ValueCount);
        frame[BodyOffset + 10] = Fallen ? (byte)1 : (byte)0;
        frame[BodyOffset + 11] = 0;
        for (int i = 0; i < ValueCount; i++)
            BinaryPrimitives.WriteDoubleLittleEndian(frame[(ValuesOffset + 8 * i)..], _values[i]);
        FrameFormat.WriteCrc(frame, length);
        return length;
    }

    public FrameStatus TryDecode(ReadOnlySpan<byte> source)
    {
        var status = FrameFormat.CheckEnvelope(source, FrameFormat.TruthMagic, ValuesOffset + FrameFormat.CrcLength, out ulong sequence);
        if (status != FrameStatus.Ok) return status;
        int count = BinaryPrimitives.ReadUInt16LittleEndian(source[(BodyOffset + 8)..]);
        if (count > MaxValues || source[BodyOffset + 10] > 1 || source[BodyOffset + 11] != 0
            || ValuesOffset + 8 * count + FrameFormat.CrcLength != source.Length)
            return FrameStatus.BadContent;
        Sequence = sequence;
        SimTime = BinaryPrimitives.ReadDoubleLittleEndian(source[BodyOffset..]);
        Fallen = source[BodyOffset + 10] == 1;
        ValueCount = count;
        for (int i = 0; i < count; i++)
            _values[i] = BinaryPrimitives.ReadDoubleLittleEndian(source[(ValuesOffset + 8 * i)..]);
        return FrameStatus.Ok;
    }

    public FrameStatus TryDecode(in ReadOnlySequence<byte> payload, Span<byte> scratch) =>
        FrameSequences.TryGetSpan(payload, scratch, out var span, out var status) ? TryDecode(span) : status;
}
