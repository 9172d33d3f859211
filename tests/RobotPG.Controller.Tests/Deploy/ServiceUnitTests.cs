using System.Diagnostics;
using RobotPG.Controller.Cli;
using RobotPG.Controller.Configuration;
using RobotPG.Controller.Hosting;

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

    private static (int Code, string Out, string Err) RunRobotpg(string[] args, string? dryRunRoot)
    {
        // The controller's apphost is copied next to the tests (a referenced executable project).
        string apphost = Path.Combine(AppContext.BaseDirectory, "robotpg");
        var start = new ProcessStartInfo(apphost) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args) start.ArgumentList.Add(a);
        if (dryRunRoot is not null) start.Environment[DryRun.EnvironmentVariable] = dryRunRoot;
        start.Environment.Remove("NOTIFY_SOCKET");
        using var process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"robotpg {string.Join(' ', args)} did not exit within 2 minutes");
        }
        return (process.ExitCode, output.Result, error.Result);
    }

    /// <summary>
    /// The deploy rehearsal (the x64 twin of the arm64 check in CI): the unit's ExecStart, as written, with
    /// the shipped config, in a dry run against register fakes, reaches its control steps, logs every one
    /// of them to disk and exits 0; the unit's ExecStopPost then leaves every configured output off.
    /// </summary>
    [Fact]
    public void Shipped_unit_with_shipped_config_reaches_its_first_control_step_and_its_stop_turns_every_motor_off_in_a_dry_run()
    {
        using var root = new TempDirectory();
        var commands = UnitCommands().ToList();
        var config = ConfigLoader.Load(RepoPaths.FirmwareConfig("balance-bot.json")).Config!;

        var (key, start) = commands.Single(c => c.Key == "ExecStart");
        var (code, output, error) = RunRobotpg(start, root.Path);
        Assert.True(code == 0, $"{key} exited {code}: {error}{output}");
        Assert.Equal("", error);
        Assert.Contains($"robotpg: dry run: first control step reached; {DryRun.Periods} periods against register fakes, no pin touched", output);
        Assert.Contains("on dry run (register fakes, no pin touched) of Pi: I2C bus 1, 2 motor(s), 2 encoder(s)", output);
        // The shipped config's absolute state paths, under the dry run's root: one log record per period, on disk.
        string logs = Path.Join(root.Path, config.Log.Directory);
        string log = Assert.Single(Directory.GetFiles(logs, "*.rpglog"));
        var (infoCode, info, infoError) = RunRobotpg(["log", "info", log], null);
        Assert.True(infoCode == 0, infoError);
        Assert.Contains($"records: {DryRun.Periods}\n", info);
        Assert.Contains($"robotpg: learning: no checkpoint in {Path.Join(root.Path, config.Learning!.CheckpointDirectory!)} to resume from; starting fresh", output);

        var (stopKey, stop) = commands.Single(c => c.Key == "ExecStopPost");
        (code, output, error) = RunRobotpg(stop, root.Path);
        Assert.True(code == 0, $"{stopKey} exited {code}: {error}{output}");
        Assert.Equal("", error);
        Assert.Contains("robotpg motors-off: dry run: motor 'left': PCA9685 channel 0 duty 0, GPIO 5 low, GPIO 6 low", output);
        Assert.Contains("robotpg motors-off: dry run: motor 'right': PCA9685 channel 1 duty 0, GPIO 20 low, GPIO 21 low", output);
    }
}
