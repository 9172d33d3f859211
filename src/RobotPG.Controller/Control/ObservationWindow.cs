namespace RobotPG.Controller.Control;

/// <summary>
/// The robot's most recent raw observations, what the KL-bound guard of a pushed or loaded policy judges it on.
/// The control thread records one per step without waiting (a step that finds a reader copying skips its
/// sample); other threads copy the window out. Allocates nothing after construction.
/// </summary>
public sealed class ObservationWindow
{
    private readonly float[] _ring;
    private readonly Lock _gate = new();
    private long _recorded;

    public ObservationWindow(int observationSize, int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(observationSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ObservationSize = observationSize;
        Capacity = capacity;
        _ring = new float[observationSize * capacity];
    }

    public int ObservationSize { get; }

    public int Capacity { get; }

    /// <summary>Control thread: keeps <paramref name="observation"/> (the oldest one goes when full).</summary>
    public void Record(ReadOnlySpan<float> observation)
    {
        if (!_gate.TryEnter()) return;
        try
        {
            observation.CopyTo(_ring.AsSpan((int)(_recorded % Capacity) * ObservationSize, ObservationSize));
            _recorded++;
        }
        finally
        {
            _gate.Exit();
        }
    }

    /// <summary>Any thread: the observations held (up to <see cref="Capacity"/>, in no particular order), row-major.</summary>
    public float[] Copy(out int count)
    {
        lock (_gate)
        {
            count = (int)Math.Min(_recorded, Capacity);
            return _ring.AsSpan(0, count * ObservationSize).ToArray();
        }
    }
}
