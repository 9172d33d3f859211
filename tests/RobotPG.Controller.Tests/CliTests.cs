using RobotPG.Controller.Cli;

namespace RobotPG.Controller.Tests;

public sealed class CliTests
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = RobotPgCli.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    [Theory]
    [InlineData("run")]                                  // --config missing
    [InlineData("run", "--config", "x.json", "--duration", "abc")]
    [InlineData("run", "--config", "x.json", "--duration", "-3")]
    [InlineData("frobnicate")]
    [InlineData("check-config")]
    [InlineData("log", "info")]
    [InlineData("policy", "info", "a", "b")]
    public void Bad_arguments_are_one_line_and_exit_2(params string[] args)
    {
        var (code, _, err) = Run(args);
        Assert.Equal(2, code);
        Assert.Single(err.TrimEnd('\n').Split('\n'));
        Assert.StartsWith("robotpg: ", err);
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("run", "--help")]
    [InlineData("check-config", "--help")]
    [InlineData("log", "--help")]
    [InlineData("log", "info", "--help")]
    [InlineData("log", "export", "--help")]
    [InlineData("policy", "info", "--help")]
    public void Every_command_has_help(params string[] args)
    {
        var (code, output, _) = Run(args);
        Assert.Equal(0, code);
        Assert.Contains("Usage:", output);
    }

    [Fact]
    public void Run_with_a_bad_config_exits_2_before_touching_anything()
    {
        using var dir = new TempDirectory();
        string file = dir.File("bad.json");
        File.WriteAllText(file, File.ReadAllText(RepoPaths.FirmwareConfig("balance-bot.json")).Replace("\"address\": 104", "\"address\": 200"));
        var (code, _, err) = Run("run", "--config", file);
        Assert.Equal(2, code);
        Assert.Equal($"{file}: $.imu.address: 200 is above the maximum 119\n", err);
    }

    [Fact]
    public void Check_config_prints_ok_for_a_good_file()
    {
        string file = RepoPaths.FirmwareConfig("balance-bot.json");
        var (code, output, _) = Run("check-config", file);
        Assert.Equal(0, code);
        Assert.Equal($"{file}: ok\n", output);
    }

    [Fact]
    public void Run_on_a_machine_without_the_robots_chips_fails_with_one_line()
    {
        // These machines have no /dev/i2c-* (FACTS.md): the real-Pi path must fail cleanly.
        using var dir = new TempDirectory();
        string file = dir.File("pi.json");
        string json = File.ReadAllText(RepoPaths.FirmwareConfig("balance-bot.json"))
            .Replace("\"/var/lib/robotpg/logs\"", "\"logs\"")
            .Replace("\"enabled\": true", "\"enabled\": false");
        File.WriteAllText(file, json);
        var (code, _, err) = Run("run", "--config", file, "--duration", "1");
        Assert.Equal(1, code);
        Assert.Single(err.TrimEnd('\n').Split('\n'));
        Assert.StartsWith("robotpg: ", err);
    }
}
