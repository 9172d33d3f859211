using System.Device.Gpio;
using RobotPG.Hardware;

namespace RobotPG.Sim.Devices;

/// <summary>
/// A GPIO header in memory (logical/BCM numbering): pin modes, output latches, levels driven from
/// outside (<see cref="DriveInput"/>, e.g. by an encoder emulation) and value-changed callbacks
/// filtered by rising/falling edge, invoked synchronously on the thread that changed the level.
/// Use it behind <c>new GpioController(driver)</c>.
/// </summary>
public sealed class EmulatedGpioDriver : GpioDriver
{
    private readonly bool[] _open;
    private readonly PinMode[] _mode;
    private readonly bool[] _outputLatch;
    private readonly bool[] _inputLevel;
    private readonly bool[] _inputDriven;
    private readonly bool[] _writeFails;
    private readonly PinCallbackTable _callbacks;

    public EmulatedGpioDriver(int pinCount = 28)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pinCount, 1);
        _pinCount = pinCount;
        _open = new bool[pinCount];
        _mode = new PinMode[pinCount];
        _outputLatch = new bool[pinCount];
        _inputLevel = new bool[pinCount];
        _inputDriven = new bool[pinCount];
        _writeFails = new bool[pinCount];
        _callbacks = new PinCallbackTable(pinCount);
    }

    private readonly int _pinCount;

    protected override int PinCount => _pinCount;

    /// <summary>Number of edge callbacks invoked so far.</summary>
    public long CallbackInvocationCount => _callbacks.InvocationCount;

    /// <summary>Number of <see cref="Write(int, PinValue)"/> calls that changed an output level.</summary>
    public long OutputTransitionCount { get; private set; }

    public bool IsOpen(int pin) => _open[CheckPin(pin)];

    /// <summary>The mode last set on a pin (its state on the emulated header, open or not).</summary>
    public PinMode ModeOf(int pin) => _mode[CheckPin(pin)];

    /// <summary>
    /// The electrical level of a pin: the output latch for an output pin; for an input pin the level
    /// driven from outside, or the pull resistor's level when nothing drives it.
    /// </summary>
    public bool Level(int pin)
    {
        CheckPin(pin);
        return _mode[pin] switch
        {
            PinMode.Output => _outputLatch[pin],
            PinMode.InputPullUp => _inputDriven[pin] ? _inputLevel[pin] : true,
            PinMode.InputPullDown => _inputDriven[pin] && _inputLevel[pin],
            _ => _inputDriven[pin] && _inputLevel[pin],
        };
    }

    /// <summary>Drives a pin from outside the Pi (a sensor output). Fires the pin's edge callbacks when the level changes.</summary>
    public void DriveInput(int pin, bool high)
    {
        bool before = Level(pin);
        _inputDriven[pin] = true;
        _inputLevel[pin] = high;
        RaiseIfChanged(pin, before);
    }

    protected override void OpenPin(int pinNumber) => _open[CheckPin(pinNumber)] = true;

    protected override void ClosePin(int pinNumber)
    {
        CheckPin(pinNumber);
        _open[pinNumber] = false;
        _callbacks.Clear(pinNumber);
    }

    protected override void SetPinMode(int pinNumber, PinMode mode)
    {
        CheckPin(pinNumber);
        if (!IsPinModeSupported(pinNumber, mode))
            throw new InvalidOperationException($"GPIO {pinNumber}: mode {mode} is not supported by the emulated header");
        bool before = Level(pinNumber);
        _mode[pinNumber] = mode;
        RaiseIfChanged(pinNumber, before);
    }

    protected override PinMode GetPinMode(int pinNumber) => _mode[CheckPin(pinNumber)];

    protected override bool IsPinModeSupported(int pinNumber, PinMode mode) =>
        mode is PinMode.Input or PinMode.Output or PinMode.InputPullUp or PinMode.InputPullDown;

    protected override PinValue Read(int pinNumber) => Level(pinNumber) ? PinValue.High : PinValue.Low;

    protected override void Toggle(int pinNumber) => Write(pinNumber, Level(pinNumber) ? PinValue.Low : PinValue.High);

    /// <summary>Fault injection: writes to this pin throw <see cref="IOException"/> (a dead GPIO line) and leave the latch as it was.</summary>
    public void SetWriteFault(int pin, bool fails) => _writeFails[CheckPin(pin)] = fails;

    protected override void Write(int pinNumber, PinValue value)
    {
        CheckPin(pinNumber);
        if (_writeFails[pinNumber])
            throw new IOException($"GPIO {pinNumber}: write failed (injected fault)");
        bool before = Level(pinNumber);
        _outputLatch[pinNumber] = value == PinValue.High;
        if (_mode[pinNumber] == PinMode.Output && before != _outputLatch[pinNumber]) OutputTransitionCount++;
        RaiseIfChanged(pinNumber, before);
    }

    protected override WaitForEventResult WaitForEvent(int pinNumber, PinEventTypes eventTypes, CancellationToken cancellationToken) =>
        _callbacks.WaitForEvent(CheckPin(pinNumber), eventTypes, cancellationToken);

    protected override void AddCallbackForPinValueChangedEvent(int pinNumber, PinEventTypes eventTypes, PinChangeEventHandler callback) =>
        _callbacks.Add(CheckPin(pinNumber), eventTypes, callback);

    protected override void RemoveCallbackForPinValueChangedEvent(int pinNumber, PinChangeEventHandler callback) =>
        _callbacks.Remove(CheckPin(pinNumber), callback);

    private void RaiseIfChanged(int pin, bool before)
    {
        bool after = Level(pin);
        if (after == before) return;
        var edge = after ? PinEventTypes.Rising : PinEventTypes.Falling;
        if (!_callbacks.HasCallbacks(pin)) return;
        _callbacks.Raise(this, pin, edge, new PinValueChangedEventArgs(edge, pin));
    }

    private int CheckPin(int pin)
    {
        if ((uint)pin >= (uint)_pinCount)
            throw new ArgumentOutOfRangeException(nameof(pin), pin, $"the emulated header has GPIO 0–{_pinCount - 1}");
        return pin;
    }
}
