using System.CommandLine;
using System.Device.I2c;
using System.Globalization;
using System.Runtime.InteropServices;
using RobotPG.Controller.Configuration;
using RobotPG.Controller.Hosting;
using RobotPG.Controller.Tasks;
using RobotPG.Hardware;

namespace RobotPG.Controller.Cli;

/// <summary>How hard and how long <c>robotpg probe</c> spins each motor, and how many IMU samples it averages.</summary>
public sealed record ProbeOptions
{
    /// <summary>Duty of each spin: enough to turn a lifted wheel, too little to throw a robot off a table.</summary>
    public double Duty { get; init; } = 0.2;

    public TimeSpan SpinTime { get; init; } = TimeSpan.FromSeconds(0.5);

    public int ImuSamples { get; init; } = 50;

    public TimeSpan ImuSamplePeriod { get; init; } = TimeSpan.FromMilliseconds(10);

    /// <summary>Skip the y/N question (scripts).</summary>
    public bool AssumeYes { get; init; }

    public const double MaxDuty = 0.5;
    public const double MaxSpinSeconds = 5;

    public string? Validate() =>
        !(Duty > 0 && Duty <= MaxDuty) ? $"--duty must be in (0, {MaxDuty}] (a probe is not a test drive)"
        : !(SpinTime > TimeSpan.Zero && SpinTime.TotalSeconds <= MaxSpinSeconds) ? $"--seconds must be in (0, {MaxSpinSeconds}]"
        : ImuSamples < 1 ? "--samples must be at least 1"
        : null;
}

/// <summary>
/// <c>robotpg probe --config F [--yes]</c>: guided bring-up of a real robot. Reads the IMU (identity,
/// the mean of a few samples at rest, tilt and gyro in the config's mounting axes, which chip axis sees
/// gravity), then — after a y/N confirmation — spins each motor at a low duty forward and backward and
/// says what the wheel should have done and which config line to change if it did not. The motors are
/// off on every exit path: after each spin, on an I2C fault, on Ctrl-C (SIGINT/SIGTERM), on any exception.
/// </summary>
public static class ProbeCommand
{
    public static Command Create()
    {
        var config = new Option<string>("--config") { Description = "Robot config (JSON) describing the IMU and motors.", Required = true };
        var yes = new Option<bool>("--yes") { Description = "Spin the motors without asking (scripts; lift the wheels first)." };
        var duty = new Option<double>("--duty") { Description = $"Duty of each spin, in (0, {ProbeOptions.MaxDuty}].", DefaultValueFactory = _ => 0.2 };
        var seconds = new Option<double>("--seconds") { Description = $"Length of each spin, seconds, in (0, {ProbeOptions.MaxSpinSeconds}].", DefaultValueFactory = _ => 0.5 };
        var samples = new Option<int>("--samples") { Description = "IMU samples averaged at rest.", DefaultValueFactory = _ => 50 };
        var command = new Command("probe", "Bring up a real robot: read the IMU (tilt and gyro in the config's axes), then spin each motor briefly in each direction (asks first) and say which config lines to change.");
        command.Options.Add(config);
        command.Options.Add(yes);
        command.Options.Add(duty);
        command.Options.Add(seconds);
        command.Options.Add(samples);
        command.SetAction(parseResult =>
        {
            double s = parseResult.GetValue(seconds);
            var options = new ProbeOptions
            {
                AssumeYes = parseResult.GetValue(yes),
                Duty = parseResult.GetValue(duty),
                SpinTime = s > 0 && s <= ProbeOptions.MaxSpinSeconds ? TimeSpan.FromSeconds(s) : TimeSpan.Zero,
                ImuSamples = parseResult.GetValue(samples),
            };
            return Run(parseResult.GetValue(config)!, options, Console.In, parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error);
        });
        return command;
    }

    public static int Run(string configPath, ProbeOptions options, TextReader input, TextWriter output, TextWriter error)
    {
        if (options.Validate() is { } problem)
        {
            error.WriteLine($"robotpg probe: {problem}");
            return RobotPgCli.ExitUsage;
        }
        var loaded = ConfigLoader.Load(configPath);
        if (!loaded.Ok)
            return CheckConfigCommand.Report(loaded, output, error);
        RobotConfig config = loaded.Config!;
        if (config.Bus.Kind != BusKind.Pi)
        {
            error.WriteLine($"robotpg probe: {configPath}: bus.kind is \"sim\": probe checks a real robot's wiring (the simulator's robot is wired as its config says)");
            return RobotPgCli.ExitUsage;
        }
        if (!Directory.Exists("/dev") || Directory.GetFiles("/dev", "gpiochip*").Length == 0)
        {
            error.WriteLine($"robotpg probe: no GPIO on this machine (no /dev/gpiochip*), so the robot of {configPath} cannot be probed; run it on the robot");
            return RobotPgCli.ExitFailure;
        }
        using var interrupted = new CancellationTokenSource();
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        return Probe(config, new PiRobotBus(), options, input, output, error, interrupted.Token);

        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true; // the probe stops its motors and returns by itself
            interrupted.Cancel();
        }
    }

    /// <summary>
    /// The probe against any bus. <paramref name="hold"/> waits out one spin (default: sleep until the
    /// spin time passed or <paramref name="interrupted"/> fires); tests look at the chips from it.
    /// Returns 0 when done (or when the user declined the spins), 1 after a fault or an interruption.
    /// </summary>
    public static int Probe(RobotConfig config, IRobotBus bus, ProbeOptions options, TextReader input, TextWriter output, TextWriter error,
        CancellationToken interrupted = default, Action<TimeSpan, CancellationToken>? hold = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentNullException.ThrowIfNull(options);
        hold ??= static (time, token) => token.WaitHandle.WaitOne(time);
        if (config.Imu is { } imu && !ProbeImu(config, imu, bus, options, output, error))
            return RobotPgCli.ExitFailure;
        if (config.Imu is null)
            output.WriteLine("IMU: none in the config");
        if (config.Battery is { } battery && !ProbeBattery(config, battery, bus, output, error))
            return RobotPgCli.ExitFailure;
        if (interrupted.IsCancellationRequested)
        {
            error.WriteLine("robotpg probe: interrupted before any motor was driven");
            return RobotPgCli.ExitFailure;
        }
        return ProbeMotors(config, bus, options, input, output, error, interrupted, hold);
    }

    private static bool ProbeImu(RobotConfig config, ImuConfig imu, IRobotBus bus, ProbeOptions options, TextWriter output, TextWriter error)
    {
        DriverRobotIoOptions driverOptions = DriverOptionsMapping.ToDriverOptions(config);
        try
        {
            using I2cDevice device = bus.CreateI2cDevice(new I2cConnectionSettings(config.Bus.I2cBusId, imu.Address));
            using var mpu = driverOptions.Imu is { } mpuOptions ? new Mpu6050(device, mpuOptions) : null;
            using var bno = driverOptions.Bno055 is { } bnoOptions ? new Bno055Imu(device, bnoOptions with { TemperatureEveryReads = 1 }) : null;
            // Both check the chip's identity first and name what answers instead.
            mpu?.Initialize();
            bno?.Initialize();
            output.WriteLine(mpu is not null
                ? Invariant($"IMU: MPU-6050 at I2C bus {config.Bus.I2cBusId} address 0x{imu.Address:X2} answers WHO_AM_I 0x{Mpu6050.ExpectedWhoAmI:X2}; ranges ±{imu.AccelRangeG} g, ±{imu.GyroRangeDps} °/s")
                : Invariant($"IMU: BNO055 at I2C bus {config.Bus.I2cBusId} address 0x{imu.Address:X2} answers CHIP_ID 0x{Bno055Imu.ExpectedChipId:X2}; IMU fusion mode, ±4 g, ±2000 °/s"));
            var frame = new SensorFrame(0);
            Span<double> accelSum = stackalloc double[3];
            Span<double> gyroSum = stackalloc double[3];
            double temperatureSum = 0;
            for (int n = 0; n < options.ImuSamples; n++)
            {
                bus.AwaitFreshData(options.ImuSamplePeriod);
                bus.BeginRead(out _, out _);
                mpu?.Read(frame);
                bno?.Read(frame);
                temperatureSum += frame.TemperatureC;
                accelSum[0] += frame.AccelX;
                accelSum[1] += frame.AccelY;
                accelSum[2] += frame.AccelZ;
                gyroSum[0] += frame.GyroX;
                gyroSum[1] += frame.GyroY;
                gyroSum[2] += frame.GyroZ;
            }
            double count = options.ImuSamples;
            double ax = accelSum[0] / count, ay = accelSum[1] / count, az = accelSum[2] / count;
            const double degreesPerRadian = 180 / Math.PI;
            double gx = gyroSum[0] / count * degreesPerRadian, gy = gyroSum[1] / count * degreesPerRadian, gz = gyroSum[2] / count * degreesPerRadian;
            output.WriteLine(Invariant($"IMU: mean of {options.ImuSamples} samples in the chip's axes: accel x {ax:+0.00;-0.00} y {ay:+0.00;-0.00} z {az:+0.00;-0.00} m/s², gyro x {gx:+0.00;-0.00} y {gy:+0.00;-0.00} z {gz:+0.00;-0.00} °/s, {temperatureSum / count:F1} °C"));

            // At rest an accelerometer reads +1 g along the axis pointing up (the specific force holds the robot up).
            ImuAxis measuredUp = DominantAxis(ax, ay, az);
            double magnitude = Math.Sqrt(ax * ax + ay * ay + az * az) / Mpu6050.StandardGravity;
            string upName = AxisName(imu.Mounting.Up), forwardName = AxisName(imu.Mounting.Forward);
            if (measuredUp == imu.Mounting.Up)
                output.WriteLine(Invariant($"IMU: gravity reads along the chip's {AxisName(measuredUp)} axis ({magnitude:F2} g); the config's imu.mounting.up is \"{upName}\": ok"));
            else
                output.WriteLine(Invariant($"IMU: MISMATCH: gravity reads along the chip's {AxisName(measuredUp)} axis ({magnitude:F2} g) but imu.mounting.up is \"{upName}\": if the robot stands upright now, set imu.mounting.up to \"{AxisName(measuredUp)}\""));

            // The controller's own conventions (BalanceBotTask): pitch = atan2(−forward, up), rate about up × forward.
            float forward = BalanceBotTask.Component((float)ax, (float)ay, (float)az, imu.Mounting.Forward);
            float up = BalanceBotTask.Component((float)ax, (float)ay, (float)az, imu.Mounting.Up);
            double pitch = Math.Atan2(-forward, up) * degreesPerRadian;
            (ImuAxis lateral, float sign) = BalanceBotTask.Cross(imu.Mounting.Up, imu.Mounting.Forward);
            double pitchRate = sign * BalanceBotTask.Component((float)gx, (float)gy, (float)gz, lateral);
            output.WriteLine(Invariant($"IMU: in the config's axes (forward \"{forwardName}\", up \"{upName}\"): pitch {pitch:+0.0;-0.0}° (+ = leaning forward), pitch rate {pitchRate:+0.00;-0.00} °/s"));
            output.WriteLine(Invariant($"IMU: gyro at rest ({(mpu is not null ? "the bias the controller measures and removes at every start" : "after the BNO055's own calibration")}): x {gx:+0.00;-0.00} y {gy:+0.00;-0.00} z {gz:+0.00;-0.00} °/s"));
            output.WriteLine($"check: run the probe again with the robot tipped forward: pitch must grow positive; if it goes negative, set imu.mounting.forward to \"{AxisName(Opposite(imu.Mounting.Forward))}\"");
            return true;
        }
        catch (Exception e)
        {
            // A NACK or a wrong chip (BusFaultException), a missing /dev/i2c-N: one line, and the motors stay untouched.
            error.WriteLine($"robotpg probe: IMU: {OneLine(e)}; no motor was driven");
            return false;
        }
    }

    private static bool ProbeBattery(RobotConfig config, BatteryConfig battery, IRobotBus bus, TextWriter output, TextWriter error)
    {
        float volts, amps;
        try
        {
            using I2cDevice device = bus.CreateI2cDevice(new I2cConnectionSettings(config.Bus.I2cBusId, battery.Ina219Address));
            using var monitor = new Ina219(device, DriverOptionsMapping.ToDriverOptions(config).Battery);
            monitor.Initialize();
            volts = monitor.ReadBusVolts();
            amps = monitor.ReadShuntAmps();
        }
        catch (Exception e)
        {
            error.WriteLine($"robotpg probe: battery: {OneLine(e)}; no motor was driven");
            return false;
        }
        if (volts < battery.MinVolts)
        {
            output.WriteLine(Invariant($"battery: INA219 at I2C bus {config.Bus.I2cBusId} address 0x{battery.Ina219Address:X2}: {volts:F2} V, {amps:+0.000;-0.000} A"));
            error.WriteLine(Invariant($"robotpg probe: battery: {volts:F2} V is below battery.minVolts {battery.MinVolts} V (the controller would hold the motors off): charge it; no motor was driven"));
            return false;
        }
        output.WriteLine(Invariant($"battery: INA219 at I2C bus {config.Bus.I2cBusId} address 0x{battery.Ina219Address:X2}: {volts:F2} V, {amps:+0.000;-0.000} A; above battery.minVolts {battery.MinVolts} V: ok"));
        return true;
    }

    private static int ProbeMotors(RobotConfig config, IRobotBus bus, ProbeOptions options, TextReader input, TextWriter output, TextWriter error,
        CancellationToken interrupted, Action<TimeSpan, CancellationToken> hold)
    {
        string seconds = options.SpinTime.TotalSeconds.ToString("0.0##", CultureInfo.InvariantCulture);
        string duty = options.Duty.ToString("0.00", CultureInfo.InvariantCulture);
        if (!options.AssumeYes)
        {
            output.Write($"Motors: each of the {config.Motors.Length} motor(s) turns at duty {duty} for {seconds} s forward, then {seconds} s backward. Lift the wheels off the ground. Spin them? [y/N] ");
            output.Flush();
            string? answer = input.ReadLine()?.Trim();
            if (answer is null || !(answer.Equals("y", StringComparison.OrdinalIgnoreCase) || answer.Equals("yes", StringComparison.OrdinalIgnoreCase)))
            {
                output.WriteLine();
                output.WriteLine("Motors: not confirmed; no motor was driven (answer y, or pass --yes)");
                return RobotPgCli.ExitOk;
            }
        }

        // Only the motors: no IMU (read above), no encoders, so the drivers do exactly what the loop does to a motor.
        DriverRobotIoOptions motorsOnly = DriverOptionsMapping.ToDriverOptions(config) with { Imu = null, Encoders = [] };
        DriverRobotIo? io = null;
        var commands = new float[config.Motors.Length];
        string? failure = null, finalStopFailure = null;
        try
        {
            io = new DriverRobotIo(motorsOnly, bus);
            for (int i = 0; i < config.Motors.Length && !interrupted.IsCancellationRequested; i++)
            {
                MotorConfig motor = config.Motors[i];
                for (int direction = 1; direction >= -1; direction -= 2)
                {
                    if (interrupted.IsCancellationRequested) break;
                    output.Write($"motor '{motor.Name}' ({Wiring(motor)}): {(direction > 0 ? "forward" : "backward")} at duty {duty} for {seconds} s ... ");
                    output.Flush();
                    commands[i] = (float)(direction * options.Duty);
                    io.Drive(commands);
                    hold(options.SpinTime, interrupted);
                    commands[i] = 0;
                    long failedBefore = io.StopMotorsFailures;
                    io.StopMotors();
                    // StopMotors never throws (it must reach every output); a write it could not make ends the probe.
                    if (io.StopMotorsFailures != failedBefore)
                        throw new IOException($"stopping the motors after the spin failed: {io.LastStopMotorsFailure?.Message}", io.LastStopMotorsFailure);
                    output.WriteLine("off");
                }
                if (!interrupted.IsCancellationRequested)
                {
                    string fix = motor.Inverted ? "false" : "true";
                    output.WriteLine($"check: the '{motor.Name}' wheel must have turned forward first (the way the robot moves for a positive action), then backward; if it turned backward first, set motors[{i}].inverted to {fix}; if it did not turn, check the wiring of {Wiring(motor)} and the motor supply");
                }
            }
        }
        catch (Exception e)
        {
            // An I2C fault (NACK, PCA9685 gone), a GPIO that cannot be opened: stop, and say what failed.
            failure = OneLine(e);
        }
        finally
        {
            // Motors off on every path: each motor coasted, all PCA9685 outputs off, every write attempted.
            if (io is not null)
            {
                long before = io.StopMotorsFailures;
                io.Dispose();
                if (io.StopMotorsFailures > before)
                    finalStopFailure = io.LastStopMotorsFailure?.Message ?? "a device could not be released";
            }
        }
        string stopped = finalStopFailure is null
            ? "motors stopped"
            : $"the final motors-off failed too ({finalStopFailure.ReplaceLineEndings(" ")}): run robotpg motors-off --config <file> or cut the motor supply";
        if (failure is not null || interrupted.IsCancellationRequested || finalStopFailure is not null)
        {
            output.WriteLine();
            error.WriteLine(failure is not null ? $"robotpg probe: motors: {failure}; {stopped}"
                : interrupted.IsCancellationRequested ? $"robotpg probe: interrupted; {stopped}"
                : $"robotpg probe: {stopped}");
            return RobotPgCli.ExitFailure;
        }
        output.WriteLine("Motors: done, all off");
        return RobotPgCli.ExitOk;
    }

    private static string Wiring(MotorConfig motor) =>
        $"{(motor.PwmSource == Configuration.PwmSource.Pca9685 ? "PCA9685" : "hardware PWM")} channel {motor.PwmChannel}, IN1 GPIO {motor.In1Pin}, IN2 GPIO {motor.In2Pin}";

    /// <summary>The signed chip axis with the largest reading.</summary>
    internal static ImuAxis DominantAxis(double x, double y, double z)
    {
        double ax = Math.Abs(x), ay = Math.Abs(y), az = Math.Abs(z);
        if (ax >= ay && ax >= az) return x >= 0 ? ImuAxis.PlusX : ImuAxis.MinusX;
        if (ay >= az) return y >= 0 ? ImuAxis.PlusY : ImuAxis.MinusY;
        return z >= 0 ? ImuAxis.PlusZ : ImuAxis.MinusZ;
    }

    private static ImuAxis Opposite(ImuAxis axis) => (ImuAxis)((int)axis ^ 1);

    /// <summary>The config's spelling of an axis ("+x", "-z").</summary>
    internal static string AxisName(ImuAxis axis) => axis switch
    {
        ImuAxis.PlusX => "+x",
        ImuAxis.MinusX => "-x",
        ImuAxis.PlusY => "+y",
        ImuAxis.MinusY => "-y",
        ImuAxis.PlusZ => "+z",
        _ => "-z",
    };

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private static string OneLine(Exception e) => e.Message.ReplaceLineEndings(" ");
}
