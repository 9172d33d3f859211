using System.Device.Gpio;
using RobotPG.Sim.Devices;
using Xunit;

namespace RobotPG.Hardware.Tests;

public sealed class HBridgeMotorTests
{
    private const int In1 = 5, In2 = 6, Dir = 16;

    private static (EmulatedGpioDriver Pins, GpioController Gpio, EmulatedPwmChannel Pwm) Bench()
    {
        var pins = new EmulatedGpioDriver();
        return (pins, new GpioController(pins), new EmulatedPwmChannel(0, 0, 20_000, 0));
    }

    [Fact]
    public void Two_pin_bridge_sets_direction_and_duty()
    {
        var (pins, gpio, pwm) = Bench();
        using var motor = HBridgeMotor.WithDirectionPins(gpio, In1, In2, pwm);
        Assert.Equal(PinMode.Output, pins.ModeOf(In1));
        Assert.True(pwm.IsRunning);

        motor.Drive(0.5);
        Assert.True(pins.Level(In1));
        Assert.False(pins.Level(In2));
        Assert.Equal(0.5, pwm.OutputDuty);

        motor.Drive(-0.25);
        Assert.False(pins.Level(In1));
        Assert.True(pins.Level(In2));
        Assert.Equal(0.25, pwm.OutputDuty);

        motor.Drive(3.0); // clamped
        Assert.True(pins.Level(In1));
        Assert.Equal(1.0, pwm.OutputDuty);
        Assert.Equal(1.0, motor.Command);
    }

    [Fact]
    public void Coast_and_brake_set_the_bridge_states()
    {
        var (pins, gpio, pwm) = Bench();
        using var motor = HBridgeMotor.WithDirectionPins(gpio, In1, In2, pwm);
        motor.Drive(0.8);
        motor.Brake();
        Assert.True(pins.Level(In1) && pins.Level(In2));
        Assert.Equal(1.0, pwm.OutputDuty);
        motor.Coast();
        Assert.False(pins.Level(In1) || pins.Level(In2));
        Assert.Equal(0.0, pwm.OutputDuty);
        motor.Drive(0.8);
        motor.Drive(double.NaN); // undefined command: coast
        Assert.False(pins.Level(In1) || pins.Level(In2));
        Assert.Equal(0.0, pwm.OutputDuty);
        motor.Drive(0.8);
        motor.Drive(0.0);
        Assert.Equal(0.0, pwm.OutputDuty);
    }

    [Fact]
    public void Reversal_drops_duty_first_and_passes_through_coast_never_brake()
    {
        var (pins, gpio, pwm) = Bench();
        using var motor = HBridgeMotor.WithDirectionPins(gpio, In1, In2, pwm);
        var states = new List<(bool In1, bool In2, double Duty)>();
        void Record(object _, PinValueChangedEventArgs __) => states.Add((pins.Level(In1), pins.Level(In2), pwm.OutputDuty));
        gpio.RegisterCallbackForPinValueChangedEvent(In1, PinEventTypes.Rising | PinEventTypes.Falling, Record);
        gpio.RegisterCallbackForPinValueChangedEvent(In2, PinEventTypes.Rising | PinEventTypes.Falling, Record);

        motor.Drive(0.6);
        motor.Drive(-0.6);
        motor.Drive(0.6);

        Assert.NotEmpty(states);
        Assert.DoesNotContain(states, s => s.In1 && s.In2);
        // Every direction-pin change happened with the bridge at zero duty.
        Assert.All(states, s => Assert.Equal(0.0, s.Duty));
        Assert.Equal(0.6, pwm.OutputDuty);
    }

    [Fact]
    public void Single_direction_pin_bridge()
    {
        var (pins, gpio, pwm) = Bench();
        using var motor = HBridgeMotor.WithDirectionPin(gpio, Dir, pwm);
        motor.Drive(0.4);
        Assert.True(pins.Level(Dir));
        Assert.Equal(0.4, pwm.OutputDuty, 12);
        motor.Drive(-0.7);
        Assert.False(pins.Level(Dir));
        Assert.Equal(0.7, pwm.OutputDuty, 12);
        motor.Brake();
        Assert.Equal(0.0, pwm.OutputDuty);
    }

    [Theory]
    [InlineData(0.5, 0.2, 1.0, 0.6)]   // 0.2 + 0.8 · 0.5
    [InlineData(-1.0, 0.2, 0.9, 0.9)]
    [InlineData(0.01, 0.15, 1.0, 0.1585)]
    [InlineData(0.25, 0.0, 0.8, 0.2)]
    public void Deadband_and_max_duty_map_the_command(double command, double deadband, double maxDuty, double expectedDuty)
    {
        var (_, gpio, pwm) = Bench();
        using var motor = HBridgeMotor.WithDirectionPins(gpio, In1, In2, pwm, new HBridgeMotorOptions { DeadbandDuty = deadband, MaxDuty = maxDuty });
        motor.Drive(command);
        Assert.Equal(expectedDuty, pwm.OutputDuty, 12);
    }

    [Fact]
    public void Inverted_motor_turns_the_other_way()
    {
        var (pins, gpio, pwm) = Bench();
        using var motor = HBridgeMotor.WithDirectionPins(gpio, In1, In2, pwm, new HBridgeMotorOptions { Inverted = true });
        motor.Drive(0.5);
        Assert.False(pins.Level(In1));
        Assert.True(pins.Level(In2));
    }

    [Fact]
    public void Bad_wiring_is_refused()
    {
        var (_, gpio, pwm) = Bench();
        Assert.Throws<ArgumentException>(() => HBridgeMotor.WithDirectionPins(gpio, 5, 5, pwm));
        Assert.Throws<ArgumentOutOfRangeException>(() => HBridgeMotor.WithDirectionPins(gpio, 7, 8, pwm, new HBridgeMotorOptions { DeadbandDuty = 0.5, MaxDuty = 0.4 }));
    }

    [Fact]
    public void Motor_on_a_pca9685_channel()
    {
        var chip = new Pca9685Emulator();
        var pca = new Pca9685(new EmulatedI2cDevice(chip), new Pca9685Options { OscillatorStartup = TimeSpan.Zero });
        pca.Initialize();
        var pins = new EmulatedGpioDriver();
        using var motor = HBridgeMotor.WithDirectionPins(new GpioController(pins), In1, In2, new Pca9685PwmChannel(pca, 2));
        motor.Drive(-0.5);
        Assert.Equal(0.5, chip.DutyCycle(2));
        Assert.True(pins.Level(In2));
        motor.Coast();
        Assert.True(chip.IsFullOff(2));
    }

    [Fact]
    public void Drive_allocates_nothing_after_warm_up()
    {
        var chip = new Pca9685Emulator();
        var pca = new Pca9685(new EmulatedI2cDevice(chip), new Pca9685Options { OscillatorStartup = TimeSpan.Zero });
        pca.Initialize();
        var pins = new EmulatedGpioDriver();
        var gpio = new GpioController(pins);
        using var onPca = HBridgeMotor.WithDirectionPins(gpio, In1, In2, new Pca9685PwmChannel(pca, 0));
        using var onPwm = HBridgeMotor.WithDirectionPin(gpio, Dir, new EmulatedPwmChannel());
        for (int i = 0; i < 100; i++) { onPca.Drive(Math.Sin(i * 0.1)); onPwm.Drive(Math.Cos(i * 0.1)); }
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++) { onPca.Drive(Math.Sin(i * 0.1)); onPwm.Drive(Math.Cos(i * 0.1)); }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
