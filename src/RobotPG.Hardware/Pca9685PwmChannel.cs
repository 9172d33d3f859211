using System.Device.Pwm;

namespace RobotPG.Hardware;

/// <summary>
/// One PCA9685 output as a <see cref="PwmChannel"/>, so a motor drives a PCA9685 channel and the Pi's
/// hardware PWM (<see cref="PwmChannel.Create(int, int, int, double)"/>) the same way. The frequency
/// belongs to the chip: setting it here changes all 16 channels.
/// </summary>
public sealed class Pca9685PwmChannel : PwmChannel
{
    private readonly Pca9685 _chip;
    private double _dutyCycle;
    private bool _running;

    public Pca9685PwmChannel(Pca9685 chip, int channel)
    {
        _chip = chip ?? throw new ArgumentNullException(nameof(chip));
        if ((uint)channel >= Pca9685.ChannelCount)
            throw new ArgumentOutOfRangeException(nameof(channel), channel, "PCA9685 has channels 0–15");
        Channel = channel;
    }

    public int Channel { get; }

    public bool IsRunning => _running;

    public override int Frequency
    {
        get => (int)Math.Round(_chip.FrequencyHz);
        set => _chip.SetFrequency(value);
    }

    /// <summary>Fraction in [0, 1] (System.Device.Pwm's convention); applied at once while running.</summary>
    public override double DutyCycle
    {
        get => _dutyCycle;
        set
        {
            if (!(value >= 0.0 && value <= 1.0))
                throw new ArgumentOutOfRangeException(nameof(value), value, "PWM duty cycle is a fraction in [0, 1]");
            _dutyCycle = value;
            if (_running) _chip.SetDutyCycle(Channel, value);
        }
    }

    public override void Start()
    {
        _running = true;
        _chip.SetDutyCycle(Channel, _dutyCycle);
    }

    public override void Stop()
    {
        _running = false;
        _chip.SetDutyCycle(Channel, 0.0);
    }
}
