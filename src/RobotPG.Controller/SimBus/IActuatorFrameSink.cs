namespace RobotPG.Controller.Simulation;

/// <summary>
/// Takes each encoded actuator frame the <see cref="SimBus"/> commits, on the control thread. An
/// implementation must copy the bytes and return at once (no network I/O, no allocation): the
/// MQTT publish happens on another thread (<see cref="ActuatorFrameQueue"/>).
/// </summary>
public interface IActuatorFrameSink
{
    void Send(ReadOnlySpan<byte> encodedFrame);
}

/// <summary>
/// A bounded single-producer queue of encoded actuator frames between the control thread
/// (<see cref="Send"/>) and whoever publishes them (<see cref="TryDequeue"/>): the MQTT publisher thread,
/// or in lockstep the MQTT receive thread that just handed the control thread a sensor frame and waits,
/// spinning, for the answer (<see cref="ExpectAnswer"/>, <see cref="WaitForAnswer"/>). That saves the
/// publisher thread's wake-up on every tick (about a quarter of the controller's share of a lockstep
/// round trip on a loaded 2-core machine). Consumers take turns under one lock of the caller's, so each
/// frame is dequeued once and in order. Slots are allocated once; a full queue (publisher stalled,
/// broker gone) drops the newest frame and counts it, so the control loop never waits on the network.
/// </summary>
public sealed class ActuatorFrameQueue : IActuatorFrameSink, IDisposable
{
    private readonly byte[][] _slots;
    private readonly int[] _lengths;
    private readonly SemaphoreSlim _available = new(0);
    private long _head; // next slot to read (consumer)
    private long _tail; // next slot to write (producer)
    private long _dropped;
    private int _catcher; // Idle, Waiting (a receive thread expects the next frame) or Caught (Send handed it one)
    private const int Idle = 0, Waiting = 1, Caught = 2;

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
        // A waiting receive thread takes this frame; otherwise the publisher thread is woken for it.
        if (Interlocked.CompareExchange(ref _catcher, Caught, Waiting) != Waiting)
            _available.Release();
    }

    /// <summary>
    /// Receive thread, before it hands the control thread a sensor frame: the next frame <see cref="Send"/>
    /// queues is for this thread to publish (see <see cref="WaitForAnswer"/>), not the publisher thread.
    /// </summary>
    public void ExpectAnswer() => Volatile.Write(ref _catcher, Waiting);

    /// <summary>
    /// Receive thread, after <see cref="ExpectAnswer"/>: spins until <see cref="Send"/> queued a frame or
    /// <paramref name="spinTicks"/> (Stopwatch ticks) passed. True when a frame was handed over: the caller
    /// must then dequeue and publish (the publisher thread was not woken for it). False when none came in
    /// time: frames sent from now on wake the publisher thread as usual.
    /// </summary>
    public bool WaitForAnswer(long spinTicks)
    {
        long deadline = System.Diagnostics.Stopwatch.GetTimestamp() + spinTicks;
        // A plain spin, no yield: a sched_yield can hand the core to another process for a whole time slice.
        while (Volatile.Read(ref _catcher) == Waiting && System.Diagnostics.Stopwatch.GetTimestamp() < deadline)
            Thread.SpinWait(20);
        int state = Interlocked.CompareExchange(ref _catcher, Idle, Waiting);
        if (state != Caught)
            return false; // gave up (or nothing was expected)
        Volatile.Write(ref _catcher, Idle);
        return true;
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
