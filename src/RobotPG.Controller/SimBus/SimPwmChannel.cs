using System.Device.Pwm;
using RobotPG.Messaging;

namespace RobotPG.Controller.Simulation;

/// <summary>A hardware PWM channel of the Pi as the simulator sees it: every setting goes into the actuator frame.</summary>
public sealed class SimPwmChannel : PwmChannel
{
    private readonly SimBus _bus;
    private int _frequency;
    private double _dutyCycle;

    internal SimPwmChannel(SimBus bus, int chip, int channel, int frequencyHz, double dutyCycle)
    {
        _bus = bus;
        if ((uint)chip > byte.MaxValue || (uint)channel > byte.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(channel), $"PWM chip {chip} channel {channel} does not fit the actuator frame");
        Chip = chip;
        Channel = channel;
        Frequency = frequencyHz;
        DutyCycle = dutyCycle;
    }

    public int Chip { get; }

    public int Channel { get; }

    public bool IsRunning { get; private set; }

    public override int Frequency
    {
        get => _frequency;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            _frequency = value;
            _bus.RecordPwm(Setting);
        }
    }

    public override double DutyCycle
    {
        get => _dutyCycle;
        set
        {
            if (!(value >= 0.0 && value <= 1.0))
                throw new ArgumentOutOfRangeException(nameof(value), value, "PWM duty cycle is a fraction in [0, 1]");
            _dutyCycle = value;
            _bus.RecordPwm(Setting);
        }
    }

    internal PwmSetting Setting => new((byte)Chip, (byte)Channel, IsRunning, _frequency, (float)_dutyCycle);

    public override void Start()
    {
        IsRunning = true;
        _bus.RecordPwm(Setting);
    }

    public override void Stop()
    {
        IsRunning = false;
        _bus.RecordPwm(Setting);
    }
}
