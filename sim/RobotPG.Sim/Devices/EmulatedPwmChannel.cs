using System.Device.Pwm;

namespace RobotPG.Sim.Devices;

/// <summary>
/// A hardware PWM channel (the Pi's PWM0/PWM1) as the simulator sees it: the output is
/// <see cref="DutyCycle"/> while running, 0 while stopped.
/// </summary>
public sealed class EmulatedPwmChannel : PwmChannel
{
    private double _dutyCycle;
    private int _frequency;

    public EmulatedPwmChannel(int chip = 0, int channel = 0, int frequency = 400, double dutyCyclePercentage = 0.5)
    {
        Chip = chip;
        Channel = channel;
        Frequency = frequency;
        DutyCycle = dutyCyclePercentage;
    }

    public int Chip { get; }

    public int Channel { get; }

    public override int Frequency
    {
        get => _frequency;
        set
        {
            if (value < 0) throw new ArgumentOutOfRangeException(nameof(value), value, "PWM frequency must be non-negative");
            _frequency = value;
        }
    }

    /// <summary>Duty cycle as a fraction in [0, 1] (System.Device.Pwm's convention).</summary>
    public override double DutyCycle
    {
        get => _dutyCycle;
        set
        {
            if (value < 0.0 || value > 1.0 || double.IsNaN(value))
                throw new ArgumentOutOfRangeException(nameof(value), value, "PWM duty cycle is a fraction in [0, 1]");
            _dutyCycle = value;
        }
    }

    public bool IsRunning { get; private set; }

    /// <summary>The fraction of time the pin is high right now: the duty while running, else 0.</summary>
    public double OutputDuty => IsRunning ? _dutyCycle : 0.0;

    public override void Start() => IsRunning = true;

    public override void Stop() => IsRunning = false;
}
