using System.Device.Gpio;
using System.Device.Pwm;

namespace RobotPG.Hardware;

/// <summary>How a DC motor's H-bridge is wired to the Pi.</summary>
public enum HBridgeWiring
{
    /// <summary>IN1/IN2 direction pins plus a PWM enable (L298N, TB6612FNG): IN1=IN2=high brakes, both low coast.</summary>
    TwoDirectionPins,

    /// <summary>One direction (phase) pin plus PWM (DRV8838 PH/EN, Cytron MD10C): duty 0 is the bridge's own stop, usually a brake.</summary>
    DirectionAndPwm,
}

/// <summary>Behaviour of an <see cref="HBridgeMotor"/>.</summary>
public sealed record HBridgeMotorOptions
{
    /// <summary>Flips the sign of every command (a motor mounted mirror-image).</summary>
    public bool Inverted { get; init; }

    /// <summary>
    /// Duty below which the motor does not turn (static friction, bridge dead time). A non-zero command
    /// c maps to duty Deadband + (MaxDuty − Deadband)·|c|, so small commands still move the wheel.
    /// </summary>
    public double DeadbandDuty { get; init; }

    /// <summary>Duty at command ±1 (caps the voltage a motor rated below the battery sees).</summary>
    public double MaxDuty { get; init; } = 1.0;

    /// <summary>Commands with |c| below this are treated as 0 (coast), so noise around 0 does not chatter the pins.</summary>
    public double ZeroThreshold { get; init; } = 1e-4;
}

/// <summary>
/// A DC motor behind an H-bridge: direction on GPIO pins, magnitude as PWM duty on any
/// <see cref="PwmChannel"/> (the Pi's hardware PWM or a <see cref="Pca9685PwmChannel"/>).
/// <see cref="Drive"/> takes a command in [−1, 1]; pins are written only when the direction changes,
/// and nothing is allocated.
/// </summary>
public sealed class HBridgeMotor : IDisposable
{
    private readonly GpioController _gpio;
    private readonly PwmChannel _pwm;
    private readonly int _pin1;
    private readonly int _pin2;
    private readonly bool _ownsPwm;
    private int _direction = int.MinValue; // unknown until first written: +1 forward, −1 reverse, 0 coast, 2 brake
    private double _duty = double.NaN;

    private HBridgeMotor(HBridgeWiring wiring, GpioController gpio, int pin1, int pin2, PwmChannel pwm, HBridgeMotorOptions? options, bool ownsPwm)
    {
        _gpio = gpio ?? throw new ArgumentNullException(nameof(gpio));
        _pwm = pwm ?? throw new ArgumentNullException(nameof(pwm));
        Options = options ?? new HBridgeMotorOptions();
        if (!(Options.DeadbandDuty >= 0 && Options.DeadbandDuty < Options.MaxDuty && Options.MaxDuty <= 1))
            throw new ArgumentOutOfRangeException(nameof(options), $"H-bridge duties need 0 ≤ DeadbandDuty ({Options.DeadbandDuty}) < MaxDuty ({Options.MaxDuty}) ≤ 1");
        Wiring = wiring;
        _pin1 = pin1;
        _pin2 = pin2;
        _ownsPwm = ownsPwm;
        _gpio.OpenPin(pin1, PinMode.Output);
        if (wiring == HBridgeWiring.TwoDirectionPins) _gpio.OpenPin(pin2, PinMode.Output);
        _pwm.DutyCycle = 0;
        _pwm.Start();
        Coast();
    }

    /// <summary>IN1/IN2 direction pins and a PWM enable channel.</summary>
    public static HBridgeMotor WithDirectionPins(GpioController gpio, int in1Pin, int in2Pin, PwmChannel pwm, HBridgeMotorOptions? options = null, bool ownsPwm = false)
    {
        if (in1Pin == in2Pin) throw new ArgumentException($"IN1 and IN2 must be different pins (both GPIO {in1Pin})", nameof(in2Pin));
        return new HBridgeMotor(HBridgeWiring.TwoDirectionPins, gpio, in1Pin, in2Pin, pwm, options, ownsPwm);
    }

    /// <summary>One direction pin (high = forward) and a PWM channel.</summary>
    public static HBridgeMotor WithDirectionPin(GpioController gpio, int directionPin, PwmChannel pwm, HBridgeMotorOptions? options = null, bool ownsPwm = false) =>
        new(HBridgeWiring.DirectionAndPwm, gpio, directionPin, -1, pwm, options, ownsPwm);

    public HBridgeWiring Wiring { get; }

    public HBridgeMotorOptions Options { get; }

    /// <summary>The last command applied (after clamping), in [−1, 1]; 0 after coast or brake.</summary>
    public double Command { get; private set; }

    /// <summary>The duty last written to the PWM channel.</summary>
    public double Duty => double.IsNaN(_duty) ? 0 : _duty;

    /// <summary>
    /// Drives with a command in [−1, 1] (clamped; sign is direction, magnitude is speed). NaN coasts.
    /// </summary>
    public void Drive(double command)
    {
        if (double.IsNaN(command) || Math.Abs(command) < Options.ZeroThreshold)
        {
            Coast();
            return;
        }
        command = Math.Clamp(command, -1.0, 1.0);
        int direction = (command > 0) ^ Options.Inverted ? 1 : -1;
        double duty = Options.DeadbandDuty + (Options.MaxDuty - Options.DeadbandDuty) * Math.Abs(command);
        // Duty down before the direction flips, so the bridge never reverses at the old duty.
        if (direction != _direction) SetDuty(0);
        SetDirection(direction);
        SetDuty(duty);
        Command = command;
    }

    /// <summary>
    /// Lets the motor spin freely: PWM off, and with two direction pins both low. The duty write and
    /// each pin write are attempted independently, so a dead I2C bus (PCA9685 gone) still takes the
    /// bridge's inputs low, and a failed pin still gets the duty to 0. The first failure is rethrown
    /// after every write was attempted.
    /// </summary>
    public void Coast()
    {
        Command = 0;
        Exception? failure = null;
        try { SetDuty(0); }
        catch (Exception e) { failure = e; }
        if (_direction != 0 && Wiring == HBridgeWiring.TwoDirectionPins)
        {
            // Unknown until both writes succeed, so a failed pin is written again next time.
            _direction = int.MinValue;
            Exception? in1 = WritePinLow(_pin1);
            Exception? in2 = WritePinLow(_pin2);
            failure ??= in1 ?? in2;
            if (in1 is null && in2 is null) _direction = 0;
        }
        else if (_direction != 0)
        {
            // One direction pin: duty 0 is the bridge's stop; the pin keeps its level.
            _direction = 0;
        }
        if (failure is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
    }

    private Exception? WritePinLow(int pin)
    {
        try
        {
            Span<PinValuePair> one = stackalloc PinValuePair[1];
            one[0] = new PinValuePair(pin, PinValue.Low);
            _gpio.Write(one);
            return null;
        }
        catch (Exception e)
        {
            return new GpioWriteException($"{pin}", e);
        }
    }

    /// <summary>
    /// Shorts the motor windings (IN1 = IN2 = high, PWM full) with two direction pins; with one
    /// direction pin the bridge's own stop at duty 0 is all there is.
    /// </summary>
    public void Brake()
    {
        if (Wiring == HBridgeWiring.TwoDirectionPins)
        {
            SetDirection(2);
            SetDuty(1);
        }
        else
        {
            SetDuty(0);
        }
        Command = 0;
    }

    /// <summary>Coasts (every write attempted) and releases the PWM channel; never throws (the owner reports motors-off failures).</summary>
    public void Dispose()
    {
        try { Coast(); }
        catch (Exception) { /* counted by the owner's StopMotors, which ran first */ }
        if (_ownsPwm)
        {
            try { _pwm.Dispose(); }
            catch (Exception) { /* a PWM channel that cannot be released is no reason to leave the others */ }
        }
    }

    private void SetDuty(double duty)
    {
        if (duty == _duty) return;
        // Unknown until the write succeeds: a failed write must not be skipped as "already set" later.
        _duty = double.NaN;
        _pwm.DutyCycle = duty;
        _duty = duty;
    }

    private void WritePins(ReadOnlySpan<PinValuePair> pins)
    {
        try
        {
            _gpio.Write(pins);
        }
        catch (Exception e) when (e is not GpioWriteException)
        {
            throw new GpioWriteException(pins.Length == 1 ? $"{pins[0].PinNumber}" : $"{_pin1}/{_pin2}", e); // IN1/IN2; the driver's words say which
        }
    }

    private void SetDirection(int direction)
    {
        if (direction == _direction) return;
        _direction = int.MinValue;
        if (Wiring == HBridgeWiring.TwoDirectionPins)
        {
            PinValue in1 = direction is 1 or 2 ? PinValue.High : PinValue.Low;
            PinValue in2 = direction is -1 or 2 ? PinValue.High : PinValue.Low;
            // The pin going low is written first, so a reversal passes through coast, not brake.
            // The span overload, unlike Write(int, PinValue), allocates nothing (System.Device.Gpio 4.2).
            Span<PinValuePair> pins = stackalloc PinValuePair[2];
            pins[0] = in1 == PinValue.Low ? new PinValuePair(_pin1, in1) : new PinValuePair(_pin2, in2);
            pins[1] = in1 == PinValue.Low ? new PinValuePair(_pin2, in2) : new PinValuePair(_pin1, in1);
            WritePins(pins);
        }
        else if (direction != 0)
        {
            Span<PinValuePair> pin = stackalloc PinValuePair[1];
            pin[0] = new PinValuePair(_pin1, direction > 0 ? PinValue.High : PinValue.Low);
            WritePins(pin);
        }
        _direction = direction;
    }
}
