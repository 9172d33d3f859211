using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using RobotPG.Controller.Configuration;
using RobotPG.Sim.Robots;

namespace RobotPG.Integration.Tests;

/// <summary>
/// The learning configuration of the on-device tests: the shipped balance-bot sim config with a
/// learning section, a lower control rate and a shorter episode cap, so that balancing is reachable
/// within a CI budget (see <see cref="ControlRateHz"/> and <see cref="MaxEpisodeSteps"/>).
/// </summary>
internal static class OnDeviceSetup
{
    /// <summary>50 Hz: a 20 ms period is ample for a robot whose fall time constant is ~0.1 s, and a quarter of the steps per simulated second of 200 Hz.</summary>
    public const double ControlRateHz = 50;

    /// <summary>10 s of balance at 50 Hz: the "≥ 10 s of balance" is the episode cap.</summary>
    public const int MaxEpisodeSteps = 500;

    public static string RepoRoot([CallerFilePath] string here = "")
    {
        var dir = new DirectoryInfo(Path.GetDirectoryName(here)!);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "RobotPG.sln")))
            dir = dir.Parent;
        return dir!.FullName;
    }

    public static string PhysicsDirectory => Path.Combine(RepoRoot(), "firmware-config", "robots");

    /// <summary>The config JSON (as a node, for tests to adjust) with the learning section.</summary>
    public static JsonObject ConfigJson(string algorithm, string workDirectory, int port = 1883, int batchSteps = 1024)
    {
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(RepoRoot(), "firmware-config", "balance-bot.sim.json")))!.AsObject();
        config.Remove("$schema");
        config["controlRateHz"] = ControlRateHz;
        config["task"]!["maxEpisodeSteps"] = MaxEpisodeSteps;
        config["bus"]!["broker"] = $"mqtt://127.0.0.1:{port}";
        config["log"]!["directory"] = Path.Combine(workDirectory, "logs");
        config["telemetry"]!["rateHz"] = 2;
        config["learning"] = new JsonObject
        {
            ["algorithm"] = algorithm,
            ["batchSteps"] = batchSteps,
            ["checkpointDirectory"] = Path.Combine(workDirectory, "checkpoints"),
            ["checkpointEveryUpdates"] = 5,
            ["checkpointEveryEpisodes"] = 0,
            ["resetHoldSeconds"] = 0,
        };
        return config;
    }

    public static RobotConfig Parse(JsonObject json, string workDirectory)
    {
        var loaded = ConfigLoader.Parse(Path.Combine(workDirectory, "robot.json"), json.ToJsonString(), workDirectory);
        if (!loaded.Ok) throw new InvalidOperationException(string.Join("; ", loaded.Errors.Select(e => e.ToString())));
        return loaded.Config!;
    }

    public static RobotPhysicsConfig Physics(double massFactor = 1, double torqueFactor = 1)
    {
        string path = Path.Combine(PhysicsDirectory, "balance-bot.physics.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        json["body"]!["mass"] = json["body"]!["mass"]!.GetValue<double>() * massFactor;
        json["motor"]!["torqueConstant"] = json["motor"]!["torqueConstant"]!.GetValue<double>() * torqueFactor;
        return RobotPhysicsConfigLoader.Parse(json.ToJsonString(), path);
    }

    /// <summary>A physics directory holding a balance-bot with the given factors (for the sim server).</summary>
    public static string PhysicsDirectoryWith(string workDirectory, double massFactor, double torqueFactor)
    {
        string dir = Path.Combine(workDirectory, "robots");
        Directory.CreateDirectory(dir);
        string path = Path.Combine(PhysicsDirectory, "balance-bot.physics.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        json["body"]!["mass"] = json["body"]!["mass"]!.GetValue<double>() * massFactor;
        json["motor"]!["torqueConstant"] = json["motor"]!["torqueConstant"]!.GetValue<double>() * torqueFactor;
        File.WriteAllText(Path.Combine(dir, "balance-bot.physics.json"), json.ToJsonString());
        return dir;
    }
}
