namespace RobotPG.Sim.Devices;

/// <summary>
/// An incremental quadrature encoder wired to two pins of an <see cref="EmulatedGpioDriver"/>.
/// Moving the shaft steps channels A and B through the Gray sequence 00 → 10 → 11 → 01 → 00 (A leads
/// B when turning forward), one pin edge per count, so the edge callbacks of a decoding driver see
/// exactly what the real wires would show. <see cref="CountsPerRevolution"/> counts quadrature
/// states (4 per encoder line) on the measured shaft.
/// </summary>
public sealed class QuadratureEncoderEmulator
{
    // Gray sequence as (A, B) bit pairs, index = count mod 4.
    private static ReadOnlySpan<byte> Sequence => [0b00, 0b10, 0b11, 0b01];

    private readonly EmulatedGpioDriver _gpio;

    public QuadratureEncoderEmulator(EmulatedGpioDriver gpio, int pinA, int pinB, int countsPerRevolution)
    {
        ArgumentNullException.ThrowIfNull(gpio);
        ArgumentOutOfRangeException.ThrowIfLessThan(countsPerRevolution, 4);
        if (pinA == pinB) throw new ArgumentException($"encoder channels A and B must be different pins (both {pinA})", nameof(pinB));
        _gpio = gpio;
        PinA = pinA;
        PinB = pinB;
        CountsPerRevolution = countsPerRevolution;
        _gpio.DriveInput(pinA, false);
        _gpio.DriveInput(pinB, false);
    }

    public int PinA { get; }

    public int PinB { get; }

    public int CountsPerRevolution { get; }

    /// <summary>Counts moved since construction (forward positive).</summary>
    public long Count { get; private set; }

    /// <summary>Pin edges produced so far (one per count).</summary>
    public long EdgeCount { get; private set; }

    /// <summary>Turns the shaft to an absolute angle (rad from the start position); the count is floor(angle / 2π · CPR).</summary>
    public void SetShaftAngle(double radians) => MoveTo((long)Math.Floor(radians / (2.0 * Math.PI) * CountsPerRevolution));

    /// <summary>Steps through every intermediate state to an absolute count.</summary>
    public void MoveTo(long count)
    {
        while (Count < count) Step(+1);
        while (Count > count) Step(-1);
    }

    /// <summary>Moves by a number of counts (negative = backward).</summary>
    public void Advance(long counts) => MoveTo(Count + counts);

    private void Step(int direction)
    {
        long next = Count + direction;
        byte from = Sequence[(int)(Count & 3)];
        byte to = Sequence[(int)(next & 3)];
        Count = next;
        EdgeCount++;
        // Exactly one channel changes per step.
        if (((from ^ to) & 0b10) != 0) _gpio.DriveInput(PinA, (to & 0b10) != 0);
        else _gpio.DriveInput(PinB, (to & 0b01) != 0);
    }
}
