using System.Text.Json.Nodes;
using RobotPG.Sim.Robots;

namespace RobotPG.Sim.Tests.Robots;

/// <summary>The shipped physics files, optionally edited (JSON paths like "imu.gyroBiasStd").</summary>
internal static class PhysicsTestConfigs
{
    public static RobotPhysicsConfig Load(string robot, params (string Path, double Value)[] edits)
    {
        string path = Path.Combine(RobotPhysicsConfigLoader.DefaultDirectory, robot + ".physics.json");
        var root = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        foreach (var (editPath, value) in edits)
        {
            var parts = editPath.Split('.');
            JsonObject node = root;
            for (int i = 0; i < parts.Length - 1; i++) node = node[parts[i]]!.AsObject();
            node[parts[^1]] = value;
        }
        return RobotPhysicsConfigLoader.Parse(root.ToJsonString(), path);
    }

    /// <summary>The balance-bot with a perfect IMU (no noise, no bias).</summary>
    public static RobotPhysicsConfig QuietBalanceBot() => Load("balance-bot",
        ("imu.accelNoiseStd", 0), ("imu.gyroNoiseStd", 0), ("imu.gyroBiasStd", 0), ("imu.accelBiasStd", 0));

    /// <summary>Frictionless, current-unlimited motors without deadband: the setting of the closed-form checks.</summary>
    public static BalanceBotParameters IdealBalanceBot(double viscous = 0)
    {
        var config = Load("balance-bot");
        var motor = config.Motor.ToModel() with { CoulombFriction = 0, ViscousFriction = viscous, DeadbandDuty = 0, MaxCurrent = 1e9 };
        return new BalanceBotParameters(config.Gravity, config.Body!.Mass, config.Body.PitchInertia, config.Body.YawInertia, config.Body.ComHeight,
            config.Wheels!.Radius, config.Wheels.Mass, config.Wheels.Inertia, config.Wheels.Track, 0.0, motor);
    }
}
