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
    [InlineData("robotpg run: Option '--config' is required (see robotpg run --help)", "run")]
    [InlineData("robotpg run: --duration must be a number (got 'abc') (see robotpg run --help)", "run", "--config", "x.json", "--duration", "abc")]
    [InlineData("robotpg: --duration must be a positive number of seconds (see robotpg --help)", "run", "--config", "x.json", "--duration", "-3")]
    [InlineData("robotpg: unknown command 'frobnicate' (commands: check-config, run, log, policy, timing, selftest, motors-off, probe) (see robotpg --help)", "frobnicate")]
    [InlineData("robotpg: unknown command 'bogus' (commands: check-config, run, log, policy, timing, selftest, motors-off, probe) (see robotpg --help)", "bogus")]
    [InlineData("robotpg: no command given (commands: check-config, run, log, policy, timing, selftest, motors-off, probe) (see robotpg --help)")]
    [InlineData("robotpg log: no command given (commands: info, export) (see robotpg log --help)", "log")]
    [InlineData("robotpg run: unknown option or argument '--bogus' (see robotpg run --help)", "run", "--config", "x.json", "--bogus")]
    [InlineData("robotpg selftest: --forwards must be a whole number (got 'x') (see robotpg selftest --help)", "selftest", "--forwards", "x")]
    [InlineData("robotpg policy info: unknown option or argument 'b' (see robotpg policy info --help)", "policy", "info", "a", "b")]
    public void Bad_arguments_are_one_line_and_exit_2(string expected, params string[] args)
    {
        var (code, output, err) = Run(args);
        Assert.Equal(2, code);
        Assert.Equal(expected + "\n", err);
        Assert.Equal("", output);
    }

    [Fact]
    public void Selftest_refuses_an_unknown_algorithm_before_running_any_check()
    {
        var (code, output, err) = Run("selftest", "--algorithm", "ppo", "--algorithm", "nope");
        Assert.Equal(2, code);
        Assert.Equal("robotpg selftest: --algorithm: unknown algorithm 'nope' (known: ppo, ppo-kl, npg, trpo, a2c, vpg, reinforce)\n", err);
        Assert.Equal("", output); // not one check ran
    }

    [Fact]
    public void Log_info_on_a_directory_names_its_newest_log_or_says_it_holds_none()
    {
        using var dir = new TempDirectory();
        var (code, _, err) = Run("log", "info", dir.Path);
        Assert.Equal(2, code);
        Assert.Equal($"{dir.Path}: is a directory and holds no trajectory log (*.rpglog)\n", err);

        File.WriteAllBytes(dir.File("bot-20260101T000000Z-0000.rpglog"), []);
        File.WriteAllBytes(dir.File("bot-20260102T000000Z-0000.rpglog"), []);
        (code, _, err) = Run("log", "export", dir.Path, "--csv", dir.File("x.csv"));
        Assert.Equal(2, code);
        Assert.Equal($"{dir.Path}: is a directory; name one of its 2 logs, e.g. {dir.File("bot-20260102T000000Z-0000.rpglog")}\n", err);
    }

    [Fact]
    public void Run_with_a_corrupt_policy_exits_2_as_robotpg_sim_eval_does()
    {
        using var dir = new TempDirectory();
        string policy = dir.File("corrupt.rpgp");
        File.WriteAllBytes(policy, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
        // The policy is read before any broker is contacted, so the sim config needs no simulator here.
        var (code, _, err) = Run("run", "--config", RepoPaths.FirmwareConfig("balance-bot.sim.json"), "--policy", policy, "--duration", "1");
        Assert.Equal(2, code);
        Assert.Single(err.TrimEnd('\n').Split('\n'));
        Assert.StartsWith($"robotpg: policy: checkpoint '{policy}': ", err);
    }

    [Fact]
    public void A_broker_of_the_wrong_form_is_explained_in_words_not_by_the_schema_regex()
    {
        using var dir = new TempDirectory();
        string file = dir.File("mqtts.json");
        File.WriteAllText(file, File.ReadAllText(RepoPaths.FirmwareConfig("balance-bot.sim.json"))
            .Replace("\"./robotpg.schema.json\"", "\"x\"").Replace("mqtt://127.0.0.1:1883", "ftp://x"));
        var (code, _, err) = Run("check-config", file);
        Assert.Equal(2, code);
        Assert.Equal($"{file}: $.bus.broker: \"ftp://x\" is not of the expected form: mqtt://host:port or mqtts://host:port\n", err);
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
        // What to do about it, not only the GPIO library's own words.
        Assert.StartsWith("robotpg: this machine has no GPIO/I2C for bus.kind \"pi\" (", err);
        Assert.EndsWith("); run it on the Raspberry Pi, or use a config with bus.kind \"sim\" against robotpg-sim serve\n", err);
    }
}
