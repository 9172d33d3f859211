using System.Device.Gpio;
using System.Diagnostics;

namespace RobotPG.Hardware;

/// <summary>Wiring and decoding settings of a <see cref="QuadratureEncoder"/>.</summary>
public sealed record QuadratureEncoderOptions
{
    /// <summary>Quadrature counts (4 per encoder line, after any gearbox) per revolution of the measured shaft.</summary>
    public int CountsPerRevolution { get; init; } = 1440;

    /// <summary>Flips the sign of counts and velocity (an encoder mounted mirror-image).</summary>
    public bool Inverted { get; init; }

    /// <summary>Input mode of both channels (open-collector encoders need a pull-up).</summary>
    public PinMode InputMode { get; init; } = PinMode.InputPullUp;

    /// <summary>Number of past samples the velocity differences over (1 = last sample only); more smooths low speeds.</summary>
    public int VelocityWindow { get; init; } = 4;
}

/// <summary>
/// An incremental quadrature encoder on two GPIO inputs, decoded ×4: every edge on A or B is
/// looked up in the Gray-code transition table (previous AB, new AB) → −1, 0, +1, or illegal (both
/// channels changed: an edge was missed; counted in <see cref="IllegalTransitions"/>, no count).
/// Edges arrive on the GPIO driver's event thread(s); the control thread reads <see cref="Count"/>
/// lock-free through <see cref="Interlocked"/>.
/// </summary>
public sealed class QuadratureEncoder : IDisposable
{
    // Index = previous AB << 2 | new AB, with A the high bit. Forward is A leading B: 00 → 10 → 11 → 01 → 00.
    // 2 marks an illegal transition (both channels changed).
    private static ReadOnlySpan<sbyte> TransitionTable =>
    [
        //  new: 00  01  10  11
        /*00*/  0, -1, +1,  2,
        /*01*/ +1,  0,  2, -1,
        /*10*/ -1,  2,  0, +1,
        /*11*/  2, +1, -1,  0,
    ];

    private readonly GpioController _gpio;
    private readonly PinChangeEventHandler _onEdge;
    private readonly object _decodeGate = new();
    private readonly long[] _sampleCounts;
    private readonly long[] _sampleTimes;
    private long _count;
    private long _illegal;
    private long _edges;
    private int _state;
    private int _sampleIndex;
    private int _samplesTaken;
    private double _velocity;
    private bool _disposed;

    public QuadratureEncoder(GpioController gpio, int pinA, int pinB, QuadratureEncoderOptions? options = null)
    {
        _gpio = gpio ?? throw new ArgumentNullException(nameof(gpio));
        Options = options ?? new QuadratureEncoderOptions();
        if (pinA == pinB) throw new ArgumentException($"encoder channels A and B must be different pins (both GPIO {pinA})", nameof(pinB));
        if (Options.CountsPerRevolution < 4) throw new ArgumentOutOfRangeException(nameof(options), Options.CountsPerRevolution, "CountsPerRevolution must be at least 4 (one encoder line)");
        if (Options.VelocityWindow < 1) throw new ArgumentOutOfRangeException(nameof(options), Options.VelocityWindow, "VelocityWindow must be at least 1 sample");
        PinA = pinA;
        PinB = pinB;
        _sampleCounts = new long[Options.VelocityWindow + 1];
        _sampleTimes = new long[Options.VelocityWindow + 1];
        _onEdge = OnEdge;
        _gpio.OpenPin(pinA, Options.InputMode);
        _gpio.OpenPin(pinB, Options.InputMode);
        _state = ReadState();
        _gpio.RegisterCallbackForPinValueChangedEvent(pinA, PinEventTypes.Rising | PinEventTypes.Falling, _onEdge);
        _gpio.RegisterCallbackForPinValueChangedEvent(pinB, PinEventTypes.Rising | PinEventTypes.Falling, _onEdge);
    }

    public int PinA { get; }

    public int PinB { get; }

    public QuadratureEncoderOptions Options { get; }

    /// <summary>Counts since start (forward positive, sign flipped when <see cref="QuadratureEncoderOptions.Inverted"/>).</summary>
    public long Count => Options.Inverted ? -Interlocked.Read(ref _count) : Interlocked.Read(ref _count);

    /// <summary>Transitions where both channels changed between two edges (a missed edge, noise, or a too-fast shaft).</summary>
    public long IllegalTransitions => Interlocked.Read(ref _illegal);

    /// <summary>Edges seen on A and B together.</summary>
    public long Edges => Interlocked.Read(ref _edges);

    /// <summary>Shaft angle since start, rad.</summary>
    public double Angle => Count * (2.0 * Math.PI) / Options.CountsPerRevolution;

    /// <summary>The velocity from the last <see cref="SampleVelocity"/>, rad/s.</summary>
    public double Velocity => _velocity;

    /// <summary>
    /// Samples the count at <paramref name="timestamp"/> (<see cref="Stopwatch"/> ticks) and returns the
    /// shaft velocity in rad/s: counts moved over the last <see cref="QuadratureEncoderOptions.VelocityWindow"/>
    /// samples divided by their time span. Call once per control step from one thread; allocates nothing.
    /// A timestamp that did not advance keeps the previous estimate.
    /// </summary>
    public double SampleVelocity(long timestamp)
    {
        long count = Count;
        int length = _sampleCounts.Length;
        if (_samplesTaken > 0 && timestamp == _sampleTimes[(_sampleIndex + length - 1) % length]) return _velocity;
        _sampleCounts[_sampleIndex] = count;
        _sampleTimes[_sampleIndex] = timestamp;
        _samplesTaken++;
        int oldest = _samplesTaken >= length ? (_sampleIndex + 1) % length : 0;
        _sampleIndex = (_sampleIndex + 1) % length;
        long dt = timestamp - _sampleTimes[oldest];
        if (dt > 0)
        {
            double countsPerSecond = (count - _sampleCounts[oldest]) * (double)Stopwatch.Frequency / dt;
            _velocity = countsPerSecond * (2.0 * Math.PI) / Options.CountsPerRevolution;
        }
        return _velocity;
    }

    /// <summary>Restarts counting and velocity from zero (e.g. at an episode reset).</summary>
    public void Reset()
    {
        lock (_decodeGate)
        {
            Interlocked.Exchange(ref _count, 0);
            Interlocked.Exchange(ref _illegal, 0);
            _state = ReadState();
        }
        _samplesTaken = 0;
        _sampleIndex = 0;
        _velocity = 0;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _gpio.UnregisterCallbackForPinValueChangedEvent(PinA, _onEdge);
        _gpio.UnregisterCallbackForPinValueChangedEvent(PinB, _onEdge);
        _gpio.ClosePin(PinA);
        _gpio.ClosePin(PinB);
    }

    private int ReadState() => (_gpio.Read(PinA) == PinValue.High ? 2 : 0) | (_gpio.Read(PinB) == PinValue.High ? 1 : 0);

    private void OnEdge(object sender, PinValueChangedEventArgs e)
    {
        // The edge's own level comes from the event (what the kernel saw); the other channel is read now.
        // Drivers may raise A and B events on different threads, hence the lock around the state.
        bool rising = e.ChangeType == PinEventTypes.Rising;
        lock (_decodeGate)
        {
            int next = e.PinNumber == PinA
                ? (rising ? 2 : 0) | (_gpio.Read(PinB) == PinValue.High ? 1 : 0)
                : (_gpio.Read(PinA) == PinValue.High ? 2 : 0) | (rising ? 1 : 0);
            int step = TransitionTable[(_state << 2) | next];
            _state = next;
            Interlocked.Increment(ref _edges);
            if (step == 2) Interlocked.Increment(ref _illegal);
            else if (step != 0) Interlocked.Add(ref _count, step);
        }
    }
}
