using System.Text.Json;
using System.Text.Json.Serialization;

namespace RobotPG.Sim.Robots;

// The physical parameters of a simulated robot (firmware-config/robots/<robot>.physics.json), kept
// apart from the controller's robot config: the controller never sees them. The wiring section must
// agree with the controller config of the same robot (the same PCA9685 channels, pins and encoders).

public sealed class RobotPhysicsConfig
{
    /// <summary>"balance-bot" or "cartpole-rail".</summary>
    public required string Robot { get; init; }

    /// <summary>RK4 steps per second (≥ 1000).</summary>
    public double PhysicsRateHz { get; set; } = 1000;

    /// <summary>Control ticks per second: one sensor frame per tick (the controller config's controlRateHz).</summary>
    public required double ControlRateHz { get; init; }

    public double Gravity { get; set; } = 9.80665;

    /// <summary>The robot has fallen past this tilt (pitch or pole angle), degrees.</summary>
    public required double TiltLimitDeg { get; init; }

    /// <summary>Standard deviation of the initial tilt at reset, degrees.</summary>
    public double InitialTiltStdDeg { get; set; } = 2;

    public BalanceBodyConfig? Body { get; init; }

    public WheelsConfig? Wheels { get; init; }

    public CartConfig? Cart { get; init; }

    public PoleConfig? Pole { get; init; }

    public required MotorModelConfig Motor { get; init; }

    public ImuModelConfig? Imu { get; init; }

    /// <summary>I2C address of the PCA9685, when a motor takes its PWM from it.</summary>
    public int? Pca9685Address { get; init; }

    public required MotorWiringConfig[] Motors { get; init; }

    public required EncoderWiringConfig[] Encoders { get; init; }

    public RandomizationConfig Randomization { get; set; } = new();
}

public sealed class BalanceBodyConfig
{
    public required double Mass { get; init; }
    /// <summary>Pitch moment of inertia about the centre of mass, kg·m².</summary>
    public required double PitchInertia { get; init; }
    /// <summary>Yaw moment of inertia about the vertical through the axle centre, kg·m².</summary>
    public required double YawInertia { get; init; }
    /// <summary>Centre of mass above the axle, m.</summary>
    public required double ComHeight { get; init; }
}

public sealed class WheelsConfig
{
    public required double Radius { get; init; }
    /// <summary>Mass of one wheel (with its half of the gearbox output), kg.</summary>
    public required double Mass { get; init; }
    /// <summary>Inertia of one wheel about its axle, kg·m².</summary>
    public required double Inertia { get; init; }
    /// <summary>Distance between the wheel contact points, m.</summary>
    public required double Track { get; init; }
    /// <summary>Viscous rolling resistance per wheel, N·m·s/rad.</summary>
    public double RollingFriction { get; init; }
}

public sealed class CartConfig
{
    public required double Mass { get; init; }
    /// <summary>Belt pulley radius: cart travel per pulley radian, m.</summary>
    public required double PulleyRadius { get; init; }
    /// <summary>Viscous friction of the carriage on the rail, N·s/m.</summary>
    public double Friction { get; init; }
    /// <summary>Travel from the centre to either end stop, m.</summary>
    public required double RailHalfLength { get; init; }
}

public sealed class PoleConfig
{
    public required double Mass { get; init; }
    /// <summary>Pivot to centre of mass, m.</summary>
    public required double ComDistance { get; init; }
    /// <summary>Inertia about the centre of mass, kg·m².</summary>
    public required double Inertia { get; init; }
    /// <summary>Viscous pivot friction, N·m·s/rad.</summary>
    public double PivotFriction { get; init; }
}

public sealed class MotorModelConfig
{
    public required double BatteryVoltage { get; init; }
    public required double WindingResistance { get; init; }
    /// <summary>k_t = k_e in SI units (N·m/A = V·s/rad) at the motor shaft.</summary>
    public required double TorqueConstant { get; init; }
    public required double GearRatio { get; init; }
    public double GearEfficiency { get; set; } = 1.0;
    /// <summary>Viscous gearbox friction at the output, N·m·s/rad.</summary>
    public double ViscousFriction { get; init; }
    /// <summary>Coulomb gearbox friction at the output, N·m.</summary>
    public double CoulombFriction { get; init; }
    /// <summary>Duty at or below which the bridge delivers nothing (dead time), in [0, 1).</summary>
    public double DeadbandDuty { get; init; }
    /// <summary>Current limit of the driver, A.</summary>
    public required double MaxCurrent { get; init; }

    public DcGearMotor ToModel() => new(BatteryVoltage, WindingResistance, TorqueConstant, GearRatio, GearEfficiency, ViscousFriction, CoulombFriction, DeadbandDuty, MaxCurrent);
}

public sealed class ImuModelConfig
{
    public int Address { get; set; } = 0x68;
    /// <summary>IMU axis pointing forward on the body: "+x", "-x", "+y", "-y", "+z", "-z" (as in the controller config's imu.mounting).</summary>
    public string Forward { get; set; } = "+x";
    /// <summary>IMU axis pointing up when the robot stands upright.</summary>
    public string Up { get; set; } = "+z";
    /// <summary>IMU above the axle, m (it feels the tangential and centripetal acceleration of pitching).</summary>
    public double Height { get; init; }
    public double AccelNoiseStd { get; init; }
    public double GyroNoiseStd { get; init; }
    /// <summary>Gyro bias per axis is drawn once per seed from N(0, this²), rad/s.</summary>
    public double GyroBiasStd { get; init; }
    public double AccelBiasStd { get; init; }
    public double TemperatureC { get; set; } = 30;
    /// <summary>The chip pitched forward on the body by this many degrees (a mounting error: a level body reads this pitch).</summary>
    public double TiltDeg { get; init; }
}

public sealed class MotorWiringConfig
{
    public required string Name { get; init; }
    /// <summary>"pca9685" or "hardware" (the SoC's PWM).</summary>
    public required string PwmSource { get; init; }
    /// <summary>PCA9685 channel 0–15, or the hardware PWM channel 0–1.</summary>
    public required int PwmChannel { get; init; }
    public required int In1Pin { get; init; }
    public required int In2Pin { get; init; }
    /// <summary>Mounted mirror-image: IN1 high (forward electrically) turns the wheel backward.</summary>
    public bool Mirrored { get; init; }
}

public sealed class EncoderWiringConfig
{
    public required string Name { get; init; }
    /// <summary>What the shaft measures: "left-wheel", "right-wheel" (relative to the body), "cart" (pulley), "pole".</summary>
    public required string Measures { get; init; }
    public required int CountsPerRevolution { get; init; }
    public required int PinA { get; init; }
    public required int PinB { get; init; }
    /// <summary>Counts down when the measured shaft turns forward.</summary>
    public bool Mirrored { get; init; }
}

/// <summary>Relative ranges of domain randomisation: each factor is drawn uniformly from [1 − f, 1 + f].</summary>
public sealed class RandomizationConfig
{
    public double Mass { get; set; } = 0.1;
    public double Friction { get; set; } = 0.3;
    public double Motor { get; set; } = 0.1;

    /// <summary>Wide randomisation: body mass (and inertias) multiplier drawn from [low, high] instead of 1 ± mass, e.g. [0.9, 3].</summary>
    public double[]? MassScale { get; set; }

    /// <summary>Wide randomisation: motor torque-constant multiplier drawn from [low, high] instead of 1 ± motor, e.g. [0.35, 1.1].</summary>
    public double[]? TorqueScale { get; set; }

    /// <summary>Motor deadband duty drawn from [low, high] (absolute fraction of full PWM) instead of the motor's own.</summary>
    public double[]? DeadbandDuty { get; set; }

    /// <summary>IMU mounted tilted forward/back by an angle drawn within ±this many degrees (0: square).</summary>
    public double ImuTiltDeg { get; set; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true, UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow, RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(RobotPhysicsConfig))]
[JsonSerializable(typeof(RandomizationConfig))]
internal sealed partial class RobotPhysicsJsonContext : JsonSerializerContext;

/// <summary>A physics file that cannot be used; the message names the file, the field and the reason.</summary>
public sealed class RobotPhysicsConfigException(string message) : Exception(message);

public static class RobotPhysicsConfigLoader
{
    public static readonly string[] KnownRobots = ["balance-bot", "cartpole-rail"];

    /// <summary>The directory next to the executable holding <c>robots/*.physics.json</c>.</summary>
    public static string DefaultDirectory => Path.Combine(AppContext.BaseDirectory, "robots");

    /// <summary>Loads <c>{directory}/{robot}.physics.json</c>.</summary>
    public static RobotPhysicsConfig LoadRobot(string robot, string? directory = null)
    {
        if (Array.IndexOf(KnownRobots, robot) < 0)
            throw new RobotPhysicsConfigException($"unknown robot '{robot}': expected one of {string.Join(", ", KnownRobots)}");
        return Load(Path.Combine(directory ?? DefaultDirectory, robot + ".physics.json"));
    }

    public static RobotPhysicsConfig Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new RobotPhysicsConfigException($"{path}: cannot read: {ex.Message}");
        }
        return Parse(text, path);
    }

    public static RobotPhysicsConfig Parse(string json, string source)
    {
        RobotPhysicsConfig? config;
        try
        {
            config = JsonSerializer.Deserialize(json, RobotPhysicsJsonContext.Default.RobotPhysicsConfig);
        }
        catch (JsonException ex)
        {
            throw new RobotPhysicsConfigException($"{source}: {(ex.Path is null ? "" : ex.Path + ": ")}{ex.Message}");
        }
        if (config is null) throw new RobotPhysicsConfigException($"{source}: the file holds null");
        string? problem = Validate(config);
        if (problem is not null) throw new RobotPhysicsConfigException($"{source}: {problem}");
        return config;
    }

    // A [low, high] pair within [min, max]; null when absent or fine.
    private static string? Range(double[]? range, double min, double max)
    {
        if (range is null) return null;
        if (range.Length != 2) return $"must be [low, high], found {range.Length} numbers";
        if (!(range[0] >= min && range[0] <= range[1] && range[1] <= max))
            return $"[{range[0]}, {range[1]}] must satisfy {min} ≤ low ≤ high ≤ {max}";
        return null;
    }

    /// <summary>A physics file's "randomization" object on its own (e.g. given on a command line); throws <see cref="RobotPhysicsConfigException"/>.</summary>
    public static RandomizationConfig ParseRandomization(string json, string source)
    {
        RandomizationConfig? ranges;
        try
        {
            ranges = JsonSerializer.Deserialize(json, RobotPhysicsJsonContext.Default.RandomizationConfig);
        }
        catch (JsonException ex)
        {
            throw new RobotPhysicsConfigException($"{source}: {(ex.Path is null ? "" : ex.Path + ": ")}{ex.Message}");
        }
        return ranges ?? throw new RobotPhysicsConfigException($"{source}: null is not a randomization");
    }

    /// <summary>Null when the parameters make a robot; else the first problem as "field: reason".</summary>
    public static string? Validate(RobotPhysicsConfig c)
    {
        if (Array.IndexOf(KnownRobots, c.Robot) < 0) return $"robot: '{c.Robot}' is not one of {string.Join(", ", KnownRobots)}";
        if (!(c.PhysicsRateHz >= 1000 && c.PhysicsRateHz <= 100_000)) return $"physicsRateHz: {c.PhysicsRateHz} must be in [1000, 100000]";
        if (!(c.ControlRateHz > 0 && c.ControlRateHz <= c.PhysicsRateHz)) return $"controlRateHz: {c.ControlRateHz} must be in (0, physicsRateHz]";
        if (!(c.Gravity > 0)) return $"gravity: {c.Gravity} must be > 0";
        if (!(c.TiltLimitDeg > 0 && c.TiltLimitDeg < 90)) return $"tiltLimitDeg: {c.TiltLimitDeg} must be in (0, 90)";
        if (!(c.InitialTiltStdDeg >= 0 && c.InitialTiltStdDeg < c.TiltLimitDeg)) return $"initialTiltStdDeg: {c.InitialTiltStdDeg} must be in [0, tiltLimitDeg)";
        var m = c.Motor;
        if (!(m.BatteryVoltage > 0)) return "motor.batteryVoltage: must be > 0";
        if (!(m.WindingResistance > 0)) return "motor.windingResistance: must be > 0";
        if (!(m.TorqueConstant > 0)) return "motor.torqueConstant: must be > 0";
        if (!(m.GearRatio >= 1)) return "motor.gearRatio: must be ≥ 1";
        if (!(m.GearEfficiency > 0 && m.GearEfficiency <= 1)) return "motor.gearEfficiency: must be in (0, 1]";
        if (!(m.ViscousFriction >= 0) || !(m.CoulombFriction >= 0)) return "motor.viscousFriction/coulombFriction: must be ≥ 0";
        if (!(m.DeadbandDuty >= 0 && m.DeadbandDuty < 1)) return "motor.deadbandDuty: must be in [0, 1)";
        if (!(m.MaxCurrent > 0)) return "motor.maxCurrent: must be > 0";
        if (!(c.Randomization.Mass is >= 0 and < 1) || !(c.Randomization.Friction is >= 0 and < 1) || !(c.Randomization.Motor is >= 0 and < 1))
            return "randomization: every fraction must be in [0, 1)";
        if (Range(c.Randomization.MassScale, 0.05, 20) is string massProblem) return "randomization.massScale: " + massProblem;
        if (Range(c.Randomization.TorqueScale, 0.05, 20) is string torqueProblem) return "randomization.torqueScale: " + torqueProblem;
        if (Range(c.Randomization.DeadbandDuty, 0, 0.9) is string deadbandProblem) return "randomization.deadbandDuty: " + deadbandProblem;
        if (!(c.Randomization.ImuTiltDeg is >= 0 and <= 20)) return $"randomization.imuTiltDeg: {c.Randomization.ImuTiltDeg} must be in [0, 20]";

        if (c.Robot == "balance-bot")
        {
            if (c.Body is null) return "body: required for balance-bot";
            if (c.Wheels is null) return "wheels: required for balance-bot";
            if (c.Imu is null) return "imu: required for balance-bot";
            if (!(c.Body.Mass > 0) || !(c.Body.PitchInertia > 0) || !(c.Body.YawInertia > 0) || !(c.Body.ComHeight > 0)) return "body: mass, pitchInertia, yawInertia and comHeight must be > 0";
            if (!(c.Wheels.Radius > 0) || !(c.Wheels.Mass > 0) || !(c.Wheels.Inertia > 0) || !(c.Wheels.Track > 0) || !(c.Wheels.RollingFriction >= 0))
                return "wheels: radius, mass, inertia and track must be > 0, rollingFriction ≥ 0";
            if (c.Motors.Length != 2) return $"motors: balance-bot has 2 motors (left, right), found {c.Motors.Length}";
        }
        else
        {
            if (c.Cart is null) return "cart: required for cartpole-rail";
            if (c.Pole is null) return "pole: required for cartpole-rail";
            if (!(c.Cart.Mass > 0) || !(c.Cart.PulleyRadius > 0) || !(c.Cart.RailHalfLength > 0) || !(c.Cart.Friction >= 0)) return "cart: mass, pulleyRadius and railHalfLength must be > 0, friction ≥ 0";
            if (!(c.Pole.Mass > 0) || !(c.Pole.ComDistance > 0) || !(c.Pole.Inertia >= 0) || !(c.Pole.PivotFriction >= 0)) return "pole: mass and comDistance must be > 0, inertia and pivotFriction ≥ 0";
            if (c.Motors.Length != 1) return $"motors: cartpole-rail has 1 motor, found {c.Motors.Length}";
        }

        if (c.Imu is not null)
        {
            if (c.Imu.Address is not (0x68 or 0x69)) return $"imu.address: 0x{c.Imu.Address:X2} must be 0x68 or 0x69";
            if (ImuMounting.TryCreate(c.Imu.Forward, c.Imu.Up, out _) is { } mountingProblem) return "imu: " + mountingProblem;
            if (!(c.Imu.AccelNoiseStd >= 0) || !(c.Imu.GyroNoiseStd >= 0) || !(c.Imu.GyroBiasStd >= 0) || !(c.Imu.AccelBiasStd >= 0)) return "imu: noise and bias deviations must be ≥ 0";
            if (!(Math.Abs(c.Imu.TiltDeg) <= 20)) return $"imu.tiltDeg: {c.Imu.TiltDeg} must be in [-20, 20]";
        }
        bool needsPca = false;
        var usedPins = new HashSet<int>();
        for (int i = 0; i < c.Motors.Length; i++)
        {
            var w = c.Motors[i];
            if (w.PwmSource == "pca9685")
            {
                needsPca = true;
                if (w.PwmChannel is < 0 or > 15) return $"motors[{i}].pwmChannel: {w.PwmChannel} must be 0–15 on the PCA9685";
            }
            else if (w.PwmSource == "hardware")
            {
                if (w.PwmChannel is < 0 or > 1) return $"motors[{i}].pwmChannel: {w.PwmChannel} must be 0 or 1 for the hardware PWM";
            }
            else return $"motors[{i}].pwmSource: '{w.PwmSource}' must be \"pca9685\" or \"hardware\"";
            if (!usedPins.Add(w.In1Pin) || !usedPins.Add(w.In2Pin)) return $"motors[{i}]: GPIO {w.In1Pin}/{w.In2Pin} is used twice";
            if (w.In1Pin is < 0 or > 27 || w.In2Pin is < 0 or > 27) return $"motors[{i}]: direction pins must be GPIO 0–27";
        }
        if (needsPca && c.Pca9685Address is not (>= 0x03 and <= 0x77)) return "pca9685Address: a 7-bit I2C address (0x03–0x77) is required when a motor uses the PCA9685";
        string[] measures = c.Robot == "balance-bot" ? ["left-wheel", "right-wheel"] : ["cart", "pole"];
        if (c.Encoders.Length > 8) return "encoders: at most 8";
        for (int i = 0; i < c.Encoders.Length; i++)
        {
            var e = c.Encoders[i];
            if (Array.IndexOf(measures, e.Measures) < 0) return $"encoders[{i}].measures: '{e.Measures}' must be one of {string.Join(", ", measures)}";
            if (e.CountsPerRevolution < 4) return $"encoders[{i}].countsPerRevolution: {e.CountsPerRevolution} must be ≥ 4";
            if (!usedPins.Add(e.PinA) || !usedPins.Add(e.PinB)) return $"encoders[{i}]: GPIO {e.PinA}/{e.PinB} is used twice";
        }
        return null;
    }
}
