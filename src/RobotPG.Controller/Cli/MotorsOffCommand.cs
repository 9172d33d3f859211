using System.CommandLine;
using System.Device.Gpio;
using System.Device.I2c;
using System.Device.Pwm;
using RobotPG.Controller.Configuration;
using RobotPG.Hardware;

namespace RobotPG.Controller.Cli;

/// <summary>
/// <c>robotpg motors-off --config F</c>: drives off exactly the motor outputs the config describes and
/// nothing else (no IMU, no encoders, no other PCA9685 channel) — the systemd unit's ExecStopPost, so
/// the motors are off however the controller ended, even after SIGKILL or a crash. Each motor's PWM
/// goes to zero first (a bridge without PWM cannot drive), then its direction pins go low (coast).
/// </summary>
public static class MotorsOffCommand
{
    public static Command Create()
    {
        var config = new Option<string>("--config") { Description = "Robot config (JSON) naming the motor outputs.", Required = true };
        var command = new Command("motors-off", "Drive the config's motor outputs off (PWM 0, direction pins low); for the service's ExecStopPost.");
        command.Options.Add(config);
        command.SetAction(parseResult => Run(parseResult.GetValue(config)!, parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error));
        return command;
    }

    public static int Run(string configPath, TextWriter output, TextWriter error)
    {
        var loaded = ConfigLoader.Load(configPath);
        if (!loaded.Ok)
            return CheckConfigCommand.Report(loaded, output, error);
        RobotConfig config = loaded.Config!;
        if (config.Bus.Kind != BusKind.Pi)
        {
            error.WriteLine($"robotpg motors-off: {configPath}: bus.kind is \"sim\": motors-off drives a Pi's own outputs (a simulated robot's motors stop with its actuator frames)");
            return RobotPgCli.ExitUsage;
        }
        if (Hosting.DryRun.FromEnvironment() is not null)
        {
            // The rehearsal: the same writes against register fakes, then what the fakes hold.
            var fakes = new Hosting.DryRunRobotBus(config);
            int code = StopMotors(config, fakes, output, error);
            foreach (MotorConfig motor in config.Motors)
            {
                string pwm = motor.PwmSource == Configuration.PwmSource.Pca9685
                    ? $"PCA9685 channel {motor.PwmChannel} duty {fakes.Pca9685!.DutyCycle(motor.PwmChannel):0.###}"
                    : $"hardware PWM channel {motor.PwmChannel} stopped";
                output.WriteLine($"robotpg motors-off: dry run: motor '{motor.Name}': {pwm}, GPIO {motor.In1Pin} {Level(fakes.PinHigh(motor.In1Pin))}, GPIO {motor.In2Pin} {Level(fakes.PinHigh(motor.In2Pin))} (register fakes, no pin touched)");
            }
            return code;
        }
        if (!HasGpio())
        {
            error.WriteLine($"robotpg motors-off: no GPIO on this machine (no /dev/gpiochip*), so the motor outputs of {configPath} cannot be driven; run it on the robot");
            return RobotPgCli.ExitFailure;
        }
        return StopMotors(config, new PiRobotBus(), output, error);
    }

    private static string Level(bool high) => high ? "high" : "low";

    private static bool HasGpio() => Directory.Exists("/dev") && Directory.GetFiles("/dev", "gpiochip*").Length > 0;

    /// <summary>
    /// Sets every configured motor off through <paramref name="bus"/>; a motor that fails is reported
    /// (one line each) and the others are still stopped. Returns 0 when every output was set, else 1.
    /// </summary>
    public static int StopMotors(RobotConfig config, IRobotBus bus, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(bus);
        int failures = 0, stopped = 0;
        I2cDevice? pca = null;
        try
        {
            foreach (MotorConfig motor in config.Motors)
            {
                try
                {
                    if (motor.PwmSource == Configuration.PwmSource.Pca9685)
                    {
                        pca ??= bus.CreateI2cDevice(new I2cConnectionSettings(config.Bus.I2cBusId, config.Pca9685!.Address));
                        // LEDn_OFF_H with the full-off bit: one 2-byte write, valid whatever MODE1's
                        // auto-increment is (the chip may have been reset), and full off wins over full on.
                        Span<byte> fullOff = [(byte)((int)Pca9685Register.Led0OnL + 4 * motor.PwmChannel + 3), Pca9685.FullBit];
                        pca.Write(fullOff);
                    }
                    else
                    {
                        using PwmChannel channel = bus.CreatePwmChannel(config.HardwarePwm!.Chip, motor.PwmChannel, (int)Math.Round(config.HardwarePwm.FrequencyHz), 0.0);
                        channel.DutyCycle = 0;
                        channel.Stop();
                    }
                }
                catch (Exception e)
                {
                    failures++;
                    error.WriteLine($"robotpg motors-off: motor '{motor.Name}': PWM could not be set off: {OneLine(e)}");
                }
            }
        }
        finally
        {
            pca?.Dispose();
        }

        GpioController gpio;
        try
        {
            gpio = bus.CreateGpioController();
        }
        catch (Exception e)
        {
            error.WriteLine($"robotpg motors-off: GPIO could not be opened, direction pins left as they are: {OneLine(e)}");
            return RobotPgCli.ExitFailure;
        }
        using (gpio)
        {
            foreach (MotorConfig motor in config.Motors)
            {
                try
                {
                    // Both direction pins low: the bridge coasts.
                    gpio.OpenPin(motor.In1Pin, PinMode.Output);
                    gpio.Write(motor.In1Pin, PinValue.Low);
                    gpio.OpenPin(motor.In2Pin, PinMode.Output);
                    gpio.Write(motor.In2Pin, PinValue.Low);
                    stopped++;
                }
                catch (Exception e)
                {
                    failures++;
                    error.WriteLine($"robotpg motors-off: motor '{motor.Name}': direction pins GPIO {motor.In1Pin}/{motor.In2Pin} could not be set low: {OneLine(e)}");
                }
            }
            try
            {
                bus.CommitWrites();
            }
            catch (Exception e)
            {
                failures++;
                error.WriteLine($"robotpg motors-off: the writes could not be committed: {OneLine(e)}");
            }
        }
        if (failures > 0)
            return RobotPgCli.ExitFailure;
        output.WriteLine($"robotpg motors-off: {stopped} motor(s) off (PWM 0, direction pins low)");
        return RobotPgCli.ExitOk;
    }

    private static string OneLine(Exception e) => e.Message.ReplaceLineEndings(" ");
}
