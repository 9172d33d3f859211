using System.Device.Gpio;
using RobotPG.Hardware;

namespace RobotPG.Controller.Simulation;

/// <summary>
/// The Pi's GPIO header as the simulator sees it. Output levels go into the actuator frame; encoder
/// inputs follow the counts in each new sensor frame: a count change of n is played back as n edges
/// through the Gray sequence 00 → 10 → 11 → 01 (A leads B forward), raising the registered edge
/// callbacks on the control thread, so <c>QuadratureEncoder</c> decodes them as it decodes real wires.
/// Edge arguments are allocated once per pin and edge type; nothing is allocated per edge.
/// </summary>
public sealed class SimGpioDriver : GpioDriver
{
    private static ReadOnlySpan<byte> GraySequence => [0b00, 0b10, 0b11, 0b01];

    private readonly SimBus _bus;
    private readonly int _pinCount;
    private readonly PinMode[] _mode;
    private readonly bool[] _output;
    private readonly bool[] _input;
    private readonly PinValueChangedEventArgs[] _rising;
    private readonly PinValueChangedEventArgs[] _falling;
    private readonly PinCallbackTable _callbacks;
    private readonly int[] _encoderPinA;
    private readonly int[] _encoderPinB;
    private readonly long[] _encoderCounts;
    private readonly long[] _levelSetInCommit;
    private bool _encodersPlaced;

    internal SimGpioDriver(SimBus bus, int pinCount, IReadOnlyList<EncoderPins> encoders)
    {
        _bus = bus;
        _pinCount = pinCount;
        _mode = new PinMode[pinCount];
        _output = new bool[pinCount];
        _input = new bool[pinCount];
        _rising = new PinValueChangedEventArgs[pinCount];
        _falling = new PinValueChangedEventArgs[pinCount];
        _callbacks = new PinCallbackTable(pinCount);
        _levelSetInCommit = new long[pinCount];
        for (int pin = 0; pin < pinCount; pin++)
        {
            _rising[pin] = new PinValueChangedEventArgs(PinEventTypes.Rising, pin);
            _falling[pin] = new PinValueChangedEventArgs(PinEventTypes.Falling, pin);
        }
        _encoderPinA = new int[encoders.Count];
        _encoderPinB = new int[encoders.Count];
        _encoderCounts = new long[encoders.Count];
        for (int i = 0; i < encoders.Count; i++)
        {
            _encoderPinA[i] = CheckPin(encoders[i].A);
            _encoderPinB[i] = CheckPin(encoders[i].B);
        }
    }

    protected override int PinCount => _pinCount;

    /// <summary>Edges played back from encoder counts so far.</summary>
    public long EncoderEdges { get; private set; }

    /// <summary>The level the controller last wrote to an output pin.</summary>
    public bool OutputLevel(int pin) => _output[CheckPin(pin)];

    /// <summary>
    /// Moves every encoder's pins to the counts of a newly latched sensor frame (encoders in frame
    /// order), one Gray step per count. The first frame only places the pins, raising no edges.
    /// </summary>
    internal void FollowEncoders(ReadOnlySpan<long> counts)
    {
        int n = Math.Min(counts.Length, _encoderCounts.Length);
        if (!_encodersPlaced)
        {
            for (int i = 0; i < n; i++)
            {
                _encoderCounts[i] = counts[i];
                byte state = GraySequence[(int)(counts[i] & 3)];
                _input[_encoderPinA[i]] = (state & 0b10) != 0;
                _input[_encoderPinB[i]] = (state & 0b01) != 0;
            }
            _encodersPlaced = true;
            return;
        }
        for (int i = 0; i < n; i++)
        {
            long count = _encoderCounts[i];
            long target = counts[i];
            int direction = target > count ? 1 : -1;
            while (count != target)
            {
                byte from = GraySequence[(int)(count & 3)];
                count += direction;
                byte to = GraySequence[(int)(count & 3)];
                // Exactly one channel changes per step.
                if (((from ^ to) & 0b10) != 0) SetInput(_encoderPinA[i], (to & 0b10) != 0);
                else SetInput(_encoderPinB[i], (to & 0b01) != 0);
                EncoderEdges++;
            }
            _encoderCounts[i] = count;
        }
    }

    /// <summary>
    /// The first output pin whose level, set by an actuator frame the sim has applied (frame
    /// <paramref name="appliedCommit"/> or earlier) and unchanged since, differs from
    /// <paramref name="levels"/> (the sim's pins, bit n = GPIO n); -1 when every such pin agrees.
    /// Every frame carries the whole output state, so any applied frame from the one that set the level on shows it.
    /// </summary>
    internal int FindUnappliedLevel(ulong levels, long appliedCommit)
    {
        int pins = Math.Min(_pinCount, 64);
        for (int pin = 0; pin < pins; pin++)
        {
            if (_mode[pin] != PinMode.Output || _levelSetInCommit[pin] > appliedCommit) continue;
            if (((levels >> pin & 1) != 0) != _output[pin]) return pin;
        }
        return -1;
    }

    /// <summary>Puts every output pin's level into the actuator frame (each frame carries the whole output state).</summary>
    internal void RecordOutputs()
    {
        for (int pin = 0; pin < _pinCount; pin++)
            if (_mode[pin] == PinMode.Output) _bus.RecordPinLevel(pin, _output[pin]);
    }

    protected override void OpenPin(int pinNumber) => CheckPin(pinNumber);

    protected override void ClosePin(int pinNumber)
    {
        CheckPin(pinNumber);
        _callbacks.Clear(pinNumber);
    }

    protected override void SetPinMode(int pinNumber, PinMode mode)
    {
        CheckPin(pinNumber);
        if (!IsPinModeSupported(pinNumber, mode))
            throw new InvalidOperationException($"GPIO {pinNumber}: mode {mode} is not supported by the sim bus");
        if (mode == PinMode.Output && _mode[pinNumber] != PinMode.Output) _levelSetInCommit[pinNumber] = _bus.NextCommit;
        _mode[pinNumber] = mode;
        if (mode == PinMode.Output) _bus.RecordPinLevel(pinNumber, _output[pinNumber]);
    }

    protected override PinMode GetPinMode(int pinNumber) => _mode[CheckPin(pinNumber)];

    protected override bool IsPinModeSupported(int pinNumber, PinMode mode) =>
        mode is PinMode.Input or PinMode.Output or PinMode.InputPullUp or PinMode.InputPullDown;

    protected override PinValue Read(int pinNumber)
    {
        CheckPin(pinNumber);
        return (_mode[pinNumber] == PinMode.Output ? _output[pinNumber] : _input[pinNumber]) ? PinValue.High : PinValue.Low;
    }

    protected override void Toggle(int pinNumber) => Write(pinNumber, _output[CheckPin(pinNumber)] ? PinValue.Low : PinValue.High);

    protected override void Write(int pinNumber, PinValue value)
    {
        CheckPin(pinNumber);
        bool high = value == PinValue.High;
        if (high != _output[pinNumber]) _levelSetInCommit[pinNumber] = _bus.NextCommit;
        _output[pinNumber] = high;
        _bus.RecordPinLevel(pinNumber, high);
    }

    protected override WaitForEventResult WaitForEvent(int pinNumber, PinEventTypes eventTypes, CancellationToken cancellationToken) =>
        _callbacks.WaitForEvent(CheckPin(pinNumber), eventTypes, cancellationToken);

    protected override void AddCallbackForPinValueChangedEvent(int pinNumber, PinEventTypes eventTypes, PinChangeEventHandler callback) =>
        _callbacks.Add(CheckPin(pinNumber), eventTypes, callback);

    protected override void RemoveCallbackForPinValueChangedEvent(int pinNumber, PinChangeEventHandler callback) =>
        _callbacks.Remove(CheckPin(pinNumber), callback);

    private void SetInput(int pin, bool high)
    {
        if (_input[pin] == high) return;
        _input[pin] = high;
        if (_mode[pin] == PinMode.Output) return;
        _callbacks.Raise(this, pin, high ? PinEventTypes.Rising : PinEventTypes.Falling, high ? _rising[pin] : _falling[pin]);
    }

    private int CheckPin(int pin)
    {
        if ((uint)pin >= (uint)_pinCount)
            throw new ArgumentOutOfRangeException(nameof(pin), pin, $"the sim bus has GPIO 0–{_pinCount - 1}");
        return pin;
    }
}
