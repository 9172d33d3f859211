using System.Diagnostics;
using RobotPG.Controller.Learning;

namespace RobotPG.Controller.Tests.SelfTest;

/// <summary><c>robotpg selftest</c> and <c>robotpg motors-off</c> as a person (or systemd) runs them: a separate process, exit code and output.</summary>
public sealed class SelfTestProcessTests
{
    private static (int Code, string Out, string Err) RunRobotpg(params string[] args)
    {
        // The controller's apphost is copied next to the tests (a referenced executable project).
        string apphost = Path.Combine(AppContext.BaseDirectory, "robotpg");
        Assert.True(File.Exists(apphost), $"{apphost} was not built");
        var start = new ProcessStartInfo(apphost) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"robotpg {string.Join(' ', args)} did not exit within 3 minutes");
        }
        return (process.ExitCode, output.Result, error.Result);
    }

    [Fact]
    public void Selftest_as_a_process_passes_every_check_and_exits_0()
    {
        var (code, output, error) = RunRobotpg("selftest", "--forwards", "2000");

        Assert.True(code == 0, $"exit {code}: {error}\n{output}");
        Assert.Equal("", error);
        string[] checks = ["policy forward", .. OnDeviceAlgorithms.Names.Select(a => "update " + a), "driver MPU-6050", "driver PCA9685", "log round trip"];
        foreach (string check in checks)
            Assert.Contains("ok   " + check + ": ", output);
        Assert.Contains($"selftest: all {checks.Length} checks passed", output);
    }

    [Fact]
    public void Motors_off_on_a_machine_without_gpio_fails_with_one_line()
    {
        // On a machine with GPIO (a Pi) this would drive real pins: the no-GPIO path is what dev machines and CI have.
        if (Directory.Exists("/dev") && Directory.GetFiles("/dev", "gpiochip*").Length > 0) return;
        var (code, output, error) = RunRobotpg("motors-off", "--config", RepoPaths.FirmwareConfig("balance-bot.json"));

        Assert.Equal(1, code);
        string line = Assert.Single(error.TrimEnd('\n').Split('\n'));
        Assert.StartsWith("robotpg motors-off: no GPIO on this machine", line);
        Assert.Equal("", output);
    }
}
