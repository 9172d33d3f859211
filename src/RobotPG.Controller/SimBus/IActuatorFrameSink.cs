namespace RobotPG.Controller.Simulation;

/// <summary>
/// Takes each encoded actuator frame the <see cref="SimBus"/> commits, on the control thread. The bytes are only
/// valid during the call. In real time an implementation must copy them and return at once (no network I/O, no
/// allocation: <see cref="ActuatorFrameQueue"/>); in lockstep the frame may go out on the network right away (the
/// loop waits for the simulator's answer anyway).
/// </summary>
public interface IActuatorFrameSink
{
    void Send(ReadOnlySpan<byte> encodedFrame);
}

/// <summary>
/// A bounded single-producer queue of encoded actuator frames between the control thread (<see cref="Send"/>) and
/// the publisher thread (<see cref="TryDequeue"/>) in real time. Slots are allocated once; a full queue (publisher
/// stalled, broker gone) drops the newest frame and counts it, so the control loop never waits on the network.
/// </summary>
public sealed class ActuatorFrameQueue : IActuatorFrameSink, IDisposable
{
    private readonly byte[][] _slots;
    private readonly int[] _lengths;
    private readonly SemaphoreSlim _available = new(0);
    private long _head; // next slot to read (consumer)
    private long _tail; // next slot to write (producer)
    private long _dropped;

    public ActuatorFrameQueue(int capacity = 64)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _slots = new byte[capacity][];
        _lengths = new int[capacity];
        for (int i = 0; i < capacity; i++) _slots[i] = new byte[Messaging.SimActuatorFrame.MaxEncodedLength];
    }

    /// <summary>Frames dropped because the queue was full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public int Count => (int)(Volatile.Read(ref _tail) - Volatile.Read(ref _head));

    public void Send(ReadOnlySpan<byte> encodedFrame)
    {
        long tail = _tail;
        if (tail - Volatile.Read(ref _head) >= _slots.Length || encodedFrame.Length > _slots[0].Length)
        {
            Interlocked.Increment(ref _dropped);
            return;
        }
        int slot = (int)(tail % _slots.Length);
        encodedFrame.CopyTo(_slots[slot]);
        _lengths[slot] = encodedFrame.Length;
        Volatile.Write(ref _tail, tail + 1);
        _available.Release();
    }

    /// <summary>Copies the oldest frame into <paramref name="destination"/>; false when none is queued. One consumer at a time.</summary>
    public bool TryDequeue(Span<byte> destination, out int length)
    {
        long head = _head;
        if (head == Volatile.Read(ref _tail))
        {
            length = 0;
            return false;
        }
        int slot = (int)(head % _slots.Length);
        length = _lengths[slot];
        if (destination.Length < length) throw new ArgumentException($"an actuator frame of {length} bytes does not fit {destination.Length}", nameof(destination));
        _slots[slot].AsSpan(0, length).CopyTo(destination);
        Volatile.Write(ref _head, head + 1);
        return true;
    }

    /// <summary>Waits until a frame was queued for the publisher thread (publisher thread only).</summary>
    public bool WaitForFrame(TimeSpan timeout, CancellationToken cancellationToken = default) =>
        Count > 0 || _available.Wait(timeout, cancellationToken);

    public void Dispose() => _available.Dispose();
}
