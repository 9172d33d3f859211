using System.Globalization;
using RobotPG.Controller.Logging;
using RobotPG.Controller.Tasks;

namespace RobotPG.Controller.Configuration;

/// <summary>
/// The rules across fields that a JSON schema cannot say: pins and addresses used once, sections
/// a choice elsewhere requires, limits in order, sizes that fit. Runs after the schema passed.
/// </summary>
public static class ConfigRules
{
    /// <summary>The Pi's I2C1 pins (SDA, SCL): taken whenever a chip sits on bus 1.</summary>
    private const int I2c1Sda = 2, I2c1Scl = 3;

    /// <summary>Largest policy the control-step budget allows (weights and biases).</summary>
    public const int MaxPolicyParameters = 1_000_000;

    public static void Check(RobotConfig c, string baseDirectory, List<ConfigError> errors)
    {
        CheckBus(c, errors);
        CheckAddresses(c, errors);
        CheckPins(c, errors);
        CheckMotors(c, errors);
        CheckEncoders(c, errors);
        CheckTask(c, errors);
        CheckLimits(c, errors);
        CheckSizes(c, errors);
        CheckFiles(c, baseDirectory, errors);
        CheckFleet(c, errors);
        CheckReplay(c, errors);
    }

    private static void CheckReplay(RobotConfig c, List<ConfigError> errors)
    {
        if (c.Learning is { ReplayBatches: > 1 } l && l.Algorithm is not ("ppo" or "off"))
            errors.Add(new("$.learning.replayBatches", $"{l.ReplayBatches}: replay needs learning.algorithm \"ppo\" (\"{l.Algorithm}\" learns from the current batch only)"));
    }

    private static void CheckFleet(RobotConfig c, List<ConfigError> errors)
    {
        if (c.Learning is not { } l) return;
        bool fleet = l.Mode == "fleet";
        if (fleet && l.Fleet is null)
            errors.Add(new("$.learning.fleet", "required when learning.mode is \"fleet\""));
        if (!fleet && l.Fleet is not null)
            errors.Add(new("$.learning.fleet", "only allowed when learning.mode is \"fleet\""));
        if (fleet && l.Algorithm != "ppo")
            errors.Add(new("$.learning.algorithm", $"\"{l.Algorithm}\": the fleet learners run ppo (its ratio corrects rollouts of older policies)"));
    }

    private static void CheckBus(RobotConfig c, List<ConfigError> errors)
    {
        if (c.Bus.Kind == BusKind.Sim)
        {
            if (c.Bus.Broker is null)
                errors.Add(new("$.bus.broker", "required when bus.kind is \"sim\""));
            if (c.Bus.Clock is null)
                errors.Add(new("$.bus.clock", "required when bus.kind is \"sim\""));
        }
        else
        {
            if (c.Bus.Broker is not null)
                errors.Add(new("$.bus.broker", "only allowed when bus.kind is \"sim\""));
            if (c.Bus.Clock is not null)
                errors.Add(new("$.bus.clock", "only allowed when bus.kind is \"sim\""));
        }
        if (c.Telemetry.Enabled && c.Telemetry.Broker is null && c.Bus.Kind == BusKind.Pi)
            errors.Add(new("$.telemetry.broker", "required when telemetry is enabled on a \"pi\" bus"));
    }

    private static void CheckAddresses(RobotConfig c, List<ConfigError> errors)
    {
        if (c.Imu is { Kind: ImuKind.Mpu6050 } imu && imu.Address is not (0x68 or 0x69))
            errors.Add(new("$.imu.address", $"{Hex(imu.Address)} is not an MPU-6050 address (0x68 with AD0 low, 0x69 with AD0 high)"));
        if (c.Imu is { Kind: ImuKind.Bno055 } bno)
        {
            if (bno.Address is not (0x28 or 0x29))
                errors.Add(new("$.imu.address", $"{Hex(bno.Address)} is not a BNO055 address (0x28 with COM3 low, 0x29 with COM3 high)"));
            if (bno.AccelRangeG != 4)
                errors.Add(new("$.imu.accelRangeG", "must be 4: the BNO055's fusion mode runs its accelerometer at ±4 g"));
            if (bno.GyroRangeDps != 2000)
                errors.Add(new("$.imu.gyroRangeDps", "must be 2000: the BNO055's fusion mode runs its gyro at ±2000 °/s"));
            if (c.Bus.Kind == BusKind.Sim)
                errors.Add(new("$.imu.kind", "\"bno055\" needs bus.kind \"pi\" (the simulator emulates an MPU-6050)"));
        }
        if (c.Imu is { } i && c.Pca9685 is { } p && i.Address == p.Address)
            errors.Add(new("$.pca9685.address", $"{Hex(p.Address)} is already used by $.imu.address"));
        if (c.Battery is { } b && c.Pca9685 is { } pca && b.Ina219Address == pca.Address)
            errors.Add(new("$.battery.ina219Address", $"{Hex(b.Ina219Address)} is already used by $.pca9685.address (strap A0 high for 0x41)"));
        if (c.Battery is not null && c.Bus.Kind == BusKind.Sim)
            errors.Add(new("$.battery", "only allowed when bus.kind is \"pi\" (the simulator has no INA219)"));
    }

    private static void CheckPins(RobotConfig c, List<ConfigError> errors)
    {
        var owners = new Dictionary<int, string>();
        if (c.Bus.I2cBusId == 1 && (c.Imu is not null || c.Pca9685 is not null || c.Battery is not null))
        {
            owners[I2c1Sda] = "I2C1 SDA";
            owners[I2c1Scl] = "I2C1 SCL";
        }

        void Claim(int pin, string path)
        {
            if (owners.TryGetValue(pin, out var owner))
                errors.Add(new(path, $"GPIO {pin} is already used by {owner}"));
            else
                owners[pin] = path;
        }

        for (int m = 0; m < c.Motors.Length; m++)
        {
            var motor = c.Motors[m];
            string path = $"$.motors[{m}]";
            if (motor.PwmPin is { } pwmPin)
                Claim(pwmPin, path + ".pwmPin");
            Claim(motor.In1Pin, path + ".in1Pin");
            Claim(motor.In2Pin, path + ".in2Pin");
        }
        for (int e = 0; e < c.Encoders.Length; e++)
        {
            Claim(c.Encoders[e].PinA, $"$.encoders[{e}].pinA");
            Claim(c.Encoders[e].PinB, $"$.encoders[{e}].pinB");
        }
    }

    private static void CheckMotors(RobotConfig c, List<ConfigError> errors)
    {
        var names = new Dictionary<string, int>(StringComparer.Ordinal);
        var pcaChannels = new Dictionary<int, int>();
        var hwChannels = new Dictionary<int, int>();
        bool pcaMissingReported = false, hardwareMissingReported = false;
        for (int m = 0; m < c.Motors.Length; m++)
        {
            var motor = c.Motors[m];
            string path = $"$.motors[{m}]";
            if (!names.TryAdd(motor.Name, m))
                errors.Add(new(path + ".name", $"\"{motor.Name}\" is already the name of $.motors[{names[motor.Name]}]"));

            if (motor.PwmSource == PwmSource.Pca9685)
            {
                if (c.Pca9685 is null && !pcaMissingReported)
                {
                    pcaMissingReported = true;
                    errors.Add(new("$.pca9685", $"required because {path}.pwmSource is \"pca9685\""));
                }
                if (motor.PwmPin is not null)
                    errors.Add(new(path + ".pwmPin", "only allowed when pwmSource is \"hardware\""));
                if (!pcaChannels.TryAdd(motor.PwmChannel, m))
                    errors.Add(new(path + ".pwmChannel", $"PCA9685 channel {motor.PwmChannel} is already used by $.motors[{pcaChannels[motor.PwmChannel]}]"));
            }
            else
            {
                if (c.HardwarePwm is null && !hardwareMissingReported)
                {
                    hardwareMissingReported = true;
                    errors.Add(new("$.hardwarePwm", $"required because {path}.pwmSource is \"hardware\""));
                }
                if (motor.PwmChannel > 1)
                    errors.Add(new(path + ".pwmChannel", $"hardware PWM has channels 0 and 1, not {motor.PwmChannel}"));
                else if (!hwChannels.TryAdd(motor.PwmChannel, m))
                    errors.Add(new(path + ".pwmChannel", $"hardware PWM channel {motor.PwmChannel} is already used by $.motors[{hwChannels[motor.PwmChannel]}]"));
                if (motor.PwmPin is not { } pin)
                    errors.Add(new(path + ".pwmPin", "required when pwmSource is \"hardware\""));
                else if (motor.PwmChannel <= 1 && !HardwarePwmPinMatches(motor.PwmChannel, pin))
                    errors.Add(new(path + ".pwmPin", $"GPIO {pin} cannot carry hardware PWM channel {motor.PwmChannel} (use {(motor.PwmChannel == 0 ? "12 or 18" : "13 or 19")})"));
            }
        }
    }

    // BCM2711/BCM2835 alternate functions: PWM0 on GPIO 12 (ALT0) or 18 (ALT5), PWM1 on 13 or 19.
    private static bool HardwarePwmPinMatches(int channel, int pin) =>
        channel == 0 ? pin is 12 or 18 : pin is 13 or 19;

    private static void CheckEncoders(RobotConfig c, List<ConfigError> errors)
    {
        var names = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int e = 0; e < c.Encoders.Length; e++)
        {
            if (!names.TryAdd(c.Encoders[e].Name, e))
                errors.Add(new($"$.encoders[{e}].name", $"\"{c.Encoders[e].Name}\" is already the name of $.encoders[{names[c.Encoders[e].Name]}]"));
        }
    }

    private static void CheckTask(RobotConfig c, List<ConfigError> errors)
    {
        var t = c.Task;
        if (t.Kind == TaskKind.BalanceBot)
        {
            if (c.Imu is null)
                errors.Add(new("$.imu", "required by task \"balance-bot\" (pitch comes from the IMU)"));
            if (t.ComplementaryAlpha is null)
                errors.Add(new("$.task.complementaryAlpha", "required by task \"balance-bot\""));
            if (c.Motors.Length != 2)
                errors.Add(new("$.motors", $"task \"balance-bot\" drives 2 motors (left, right), not {c.Motors.Length}"));
            if (c.Encoders.Length != 2)
                errors.Add(new("$.encoders", $"task \"balance-bot\" reads 2 wheel encoders, not {c.Encoders.Length}"));
            NotFor(t.CartEncoder, "$.task.cartEncoder", "balance-bot", errors);
            NotFor(t.PoleEncoder, "$.task.poleEncoder", "balance-bot", errors);
            NotFor(t.CartMetersPerRevolution, "$.task.cartMetersPerRevolution", "balance-bot", errors);
            NotFor(t.DoneRailM, "$.task.doneRailM", "balance-bot", errors);
            if (c.Imu is { } imu && !Perpendicular(imu.Mounting.Forward, imu.Mounting.Up))
                errors.Add(new("$.imu.mounting.up", "must be perpendicular to mounting.forward"));
        }
        else
        {
            if (c.Motors.Length != 1)
                errors.Add(new("$.motors", $"task \"cartpole-rail\" drives 1 motor (the cart), not {c.Motors.Length}"));
            NotFor(t.ComplementaryAlpha, "$.task.complementaryAlpha", "cartpole-rail", errors);
            Require(t.CartMetersPerRevolution, "$.task.cartMetersPerRevolution", errors);
            Require(t.DoneRailM, "$.task.doneRailM", errors);
            EncoderReference(c, t.CartEncoder, "$.task.cartEncoder", errors);
            EncoderReference(c, t.PoleEncoder, "$.task.poleEncoder", errors);
            if (t.CartEncoder is not null && t.CartEncoder == t.PoleEncoder)
                errors.Add(new("$.task.poleEncoder", "must name a different encoder than task.cartEncoder"));
        }
    }

    private static void CheckLimits(RobotConfig c, List<ConfigError> errors)
    {
        if (c.Safety.TiltLimitDeg < c.Task.DoneTiltDeg)
            errors.Add(new("$.safety.tiltLimitDeg", $"{Num(c.Safety.TiltLimitDeg)} is below task.doneTiltDeg {Num(c.Task.DoneTiltDeg)} (the motors would cut before the episode ends)"));
        if (c.Telemetry.RateHz > c.ControlRateHz)
            errors.Add(new("$.telemetry.rateHz", $"{Num(c.Telemetry.RateHz)} is above controlRateHz {Num(c.ControlRateHz)}"));
    }

    private static void CheckSizes(RobotConfig c, List<ConfigError> errors)
    {
        int obs = TaskShapes.ObservationSize(c.Task.Kind);
        int act = c.Motors.Length;
        long parameters = 0;
        int fanIn = obs;
        foreach (int h in c.Policy.HiddenSizes)
        {
            parameters += (long)fanIn * h + h;
            fanIn = h;
        }
        parameters += (long)fanIn * act + act + act;
        if (parameters > MaxPolicyParameters)
            errors.Add(new("$.policy.hiddenSizes", $"the policy would have {parameters} parameters, more than the {MaxPolicyParameters} a control step can afford"));

        long minimumFile = TrajectoryLogFormat.HeaderSize + 64L * TrajectoryLogFormat.RecordSize(obs, act);
        if (c.Log.RotateBytes < minimumFile)
            errors.Add(new("$.log.rotateBytes", $"{c.Log.RotateBytes} bytes cannot hold the header and 64 records ({minimumFile} bytes)"));

        // The writer drains the ring on its own thread; less than 100 ms of steps leaves no slack for a slow disk.
        double minimumRing = Math.Ceiling(c.ControlRateHz / 10);
        if (c.Log.RingRecords < minimumRing)
            errors.Add(new("$.log.ringRecords", $"{c.Log.RingRecords} records hold less than 0.1 s of steps at {Num(c.ControlRateHz)} Hz (need {Num(minimumRing)})"));
    }

    private static void CheckFiles(RobotConfig c, string baseDirectory, List<ConfigError> errors)
    {
        if (c.Policy.Checkpoint is { } checkpoint && !File.Exists(Path.Combine(baseDirectory, checkpoint)))
            errors.Add(new("$.policy.checkpoint", $"file not found: {Path.Combine(baseDirectory, checkpoint)}"));
        if (c.Mqtt is { } m)
        {
            foreach (var (path, file) in new[] { ("caFile", m.CaFile), ("clientCertFile", m.ClientCertFile), ("clientKeyFile", m.ClientKeyFile), ("credentialsFile", m.CredentialsFile) })
                if (file is not null && !File.Exists(Path.Combine(baseDirectory, file)))
                    errors.Add(new("$.mqtt." + path, $"file not found: {Path.Combine(baseDirectory, file)}"));
            if ((m.ClientCertFile is null) != (m.ClientKeyFile is null))
                errors.Add(new(m.ClientCertFile is null ? "$.mqtt.clientCertFile" : "$.mqtt.clientKeyFile", "clientCertFile and clientKeyFile go together"));
        }
        if (c.Security is { } s)
        {
            for (int i = 0; i < s.OperatorKeys.Length; i++)
                if (!File.Exists(Path.Combine(baseDirectory, s.OperatorKeys[i])))
                    errors.Add(new($"$.security.operatorKeys[{i}]", $"file not found: {Path.Combine(baseDirectory, s.OperatorKeys[i])}"));
            if (s.RequireSignedCheckpoints && s.OperatorKeys.Length == 0)
                errors.Add(new("$.security.requireSignedCheckpoints", "needs at least one key in security.operatorKeys"));
            else if (s.RequireSignedCheckpoints && c.Learning is { Algorithm: not "off" })
                errors.Add(new("$.security.requireSignedCheckpoints", "not supported with on-board learning (the learner resumes from its own checkpoints)"));
        }
    }

    private static void EncoderReference(RobotConfig c, string? name, string path, List<ConfigError> errors)
    {
        if (name is null)
        {
            errors.Add(new(path, "required by task \"cartpole-rail\""));
            return;
        }
        foreach (var e in c.Encoders)
        {
            if (e.Name == name)
                return;
        }
        errors.Add(new(path, $"no encoder is named \"{name}\""));
    }

    private static void Require<T>(T? value, string path, List<ConfigError> errors) where T : struct
    {
        if (value is null)
            errors.Add(new(path, "required by task \"cartpole-rail\""));
    }

    private static void NotFor(object? value, string path, string task, List<ConfigError> errors)
    {
        if (value is not null)
            errors.Add(new(path, $"not used by task \"{task}\""));
    }

    private static bool Perpendicular(ImuAxis a, ImuAxis b) => (int)a / 2 != (int)b / 2;

    private static string Hex(int address) => "0x" + address.ToString("X2", CultureInfo.InvariantCulture);

    private static string Num(double x) => x.ToString("R", CultureInfo.InvariantCulture);
}
