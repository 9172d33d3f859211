using RobotPG.Controller.Cli;
using RobotPG.Controller.Configuration;

namespace RobotPG.Controller.Tests.Deploy;

/// <summary>The shipped systemd unit's command lines, fed the shipped robot config, pass everything that runs before the robot is touched.</summary>
public sealed class ServiceUnitTests
{
    private const string InstalledConfig = "/etc/robotpg/robot.json";

    /// <summary>ExecStart/ExecStopPost lines of the unit, prefix characters (-@:+!) removed, the config path replaced by the shipped one.</summary>
    public static IEnumerable<(string Key, string[] Args)> UnitCommands()
    {
        string shipped = RepoPaths.FirmwareConfig("balance-bot.json");
        foreach (string line in File.ReadLines(RepoPaths.FirmwareConfig("robotpg.service")))
        {
            int eq = line.IndexOf('=');
            if (eq < 0 || line[..eq] is not ("ExecStart" or "ExecStopPost")) continue;
            string command = line[(eq + 1)..].TrimStart('-', '@', ':', '+', '!');
            string[] words = command.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            yield return (line[..eq], words.Skip(1).Select(w => w == InstalledConfig ? shipped : w).ToArray());
        }
    }

    [Fact]
    public void Shipped_unit_with_shipped_config_passes_run_preflight()
    {
        var commands = UnitCommands().ToList();
        Assert.Contains(commands, c => c.Key == "ExecStart" && c.Args[0] == "run");
        Assert.Contains(commands, c => c.Key == "ExecStopPost" && c.Args[0] == "motors-off");
        foreach (var (key, args) in commands)
        {
            int at = Array.IndexOf(args, "--config");
            Assert.True(at >= 0, $"{key} has no --config");
            var loaded = ConfigLoader.Load(args[at + 1]);
            Assert.True(loaded.Ok, $"{key}: shipped config does not load");
            if (args[0] == "run")
                Assert.Null(RunCommand.Preflight(loaded.Config!, args[at + 1], resume: args.Contains("--resume")));
        }
    }
}
