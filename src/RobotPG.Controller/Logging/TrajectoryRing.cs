using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace RobotPG.Controller.Logging;

/// <summary>
/// Single-producer, single-consumer ring of fixed-size trajectory records, allocated once. The
/// control thread appends (a copy, no lock, no allocation); the log writer drains on its own
/// thread. When the writer falls behind the ring fills, and further appends are dropped and
/// counted rather than waiting.
/// </summary>
public sealed class TrajectoryRing
{
    private readonly byte[] _slots;
    private readonly int _capacity;
    private long _head; // next slot the producer writes; published with a release write
    private long _tail; // next slot the consumer reads
    private long _dropped;

    public TrajectoryRing(int observationSize, int actionSize, int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ObservationSize = observationSize;
        ActionSize = actionSize;
        RecordSize = TrajectoryLogFormat.RecordSize(observationSize, actionSize);
        _capacity = capacity;
        _slots = new byte[checked(capacity * RecordSize)];
    }

    public int ObservationSize { get; }

    public int ActionSize { get; }

    public int RecordSize { get; }

    public int Capacity => _capacity;

    /// <summary>Records refused because the ring was full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Records appended and not yet taken by the consumer.</summary>
    public int Count => (int)(Volatile.Read(ref _head) - Volatile.Read(ref _tail));

    /// <summary>Total records ever appended (accepted).</summary>
    public long Appended => Volatile.Read(ref _head);

    /// <summary>Producer side: copies one transition into the next slot; false (and counted) when full.</summary>
    public bool TryAppend(
        long step, long timeNs, ReadOnlySpan<float> observation, ReadOnlySpan<float> action,
        float logProb, float reward, TransitionFlags flags)
    {
        long head = _head;
        if (head - Volatile.Read(ref _tail) >= _capacity)
        {
            Interlocked.Increment(ref _dropped);
            return false;
        }
        var slot = _slots.AsSpan((int)(head % _capacity) * RecordSize, RecordSize);
        int n = ObservationSize, m = ActionSize;
        BinaryPrimitives.WriteInt64LittleEndian(slot, step);
        BinaryPrimitives.WriteInt64LittleEndian(slot[TrajectoryLogFormat.TimeOffset..], timeNs);
        WriteFloats(slot[TrajectoryLogFormat.ObservationOffset..], observation[..n]);
        WriteFloats(slot[TrajectoryLogFormat.ActionOffset(n)..], action[..m]);
        BinaryPrimitives.WriteSingleLittleEndian(slot[TrajectoryLogFormat.LogProbOffset(n, m)..], logProb);
        BinaryPrimitives.WriteSingleLittleEndian(slot[TrajectoryLogFormat.RewardOffset(n, m)..], reward);
        BinaryPrimitives.WriteUInt32LittleEndian(slot[TrajectoryLogFormat.FlagsOffset(n, m)..], (uint)flags);
        Volatile.Write(ref _head, head + 1);
        return true;
    }

    /// <summary>Consumer side: copies the oldest record (CRC field not yet set) into <paramref name="record"/>.</summary>
    public bool TryTake(Span<byte> record)
    {
        long tail = _tail;
        if (tail == Volatile.Read(ref _head))
            return false;
        _slots.AsSpan((int)(tail % _capacity) * RecordSize, RecordSize).CopyTo(record);
        Volatile.Write(ref _tail, tail + 1);
        return true;
    }

    private static void WriteFloats(Span<byte> destination, ReadOnlySpan<float> values)
    {
        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.AsBytes(values).CopyTo(destination);
            return;
        }
        for (int i = 0; i < values.Length; i++)
            BinaryPrimitives.WriteSingleLittleEndian(destination[(4 * i)..], values[i]);
    }
}
