using RobotPG.Controller.Cli;
using RobotPG.Controller.SelfTest;

namespace RobotPG.Controller.Tests.SelfTest;

public sealed class SelfTestSuiteTests
{
    private static readonly string[] OnDevice = ["ppo", "ppo-kl", "npg", "trpo", "a2c", "vpg", "reinforce"];

    [Fact]
    public void Every_check_passes_on_this_machine_and_reports_its_figure()
    {
        var progress = new StringWriter();
        SelfTestReport report = SelfTestSuite.Run(new SelfTestOptions { Forwards = 2000 }, progress);

        Assert.True(report.Passed, report.FirstFailure is { } f ? $"{f.Name}: {f.Detail}" : "no checks ran");
        string[] expected = ["policy forward", .. OnDevice.Select(a => "update " + a), "driver MPU-6050", "driver PCA9685", "log round trip"];
        Assert.Equal(expected, report.Checks.Select(c => c.Name));
        foreach (SelfTestCheck check in report.Checks)
        {
            // A timing is a real measurement: positive and finite (a check that skipped its work reports NaN).
            Assert.True(check.Figure > 0 && double.IsFinite(check.Figure), $"{check.Name}: figure {check.Figure}");
            Assert.Contains("ok   " + check.Name + ": ", progress.ToString());
        }
        Assert.Contains("µs per forward", report.Find("policy forward")!.Detail);
        foreach (string algorithm in OnDevice)
            Assert.Contains("ms per update", report.Find("update " + algorithm)!.Detail);
        Assert.Contains("700 complete records read back bit-exact", report.Find("log round trip")!.Detail);
    }

    [Fact]
    public void A_failing_check_is_named_and_the_other_checks_still_run()
    {
        // Fault: the log round trip's temporary directory is a regular file, so it cannot make its folder.
        using var dir = new TempDirectory();
        string file = dir.File("not-a-directory");
        File.WriteAllText(file, "x");
        SelfTestReport report = SelfTestSuite.Run(new SelfTestOptions { Forwards = 10, Algorithms = ["reinforce"], TemporaryDirectory = file });

        Assert.False(report.Passed);
        SelfTestCheck failure = report.FirstFailure!;
        Assert.Equal("log round trip", failure.Name);
        Assert.Contains(file, failure.Detail);
        Assert.True(double.IsNaN(failure.Figure));
        Assert.Equal(1, report.FailedCount);
        Assert.True(report.Find("update reinforce")!.Passed);
        Assert.True(report.Find("driver PCA9685")!.Passed);
    }

    [Fact]
    public void The_command_exits_1_with_one_line_naming_the_failed_check()
    {
        using var dir = new TempDirectory();
        string file = dir.File("not-a-directory");
        File.WriteAllText(file, "x");
        var output = new StringWriter();
        var error = new StringWriter();
        int code = SelfTestCommand.Run(new SelfTestOptions { Forwards = 10, Algorithms = ["reinforce"], TemporaryDirectory = file }, output, error);

        Assert.Equal(1, code);
        string line = Assert.Single(error.ToString().TrimEnd('\n').Split('\n'));
        Assert.StartsWith("robotpg selftest: 1 of 5 checks failed; first: log round trip:", line);
        Assert.Contains("FAIL log round trip:", output.ToString());
    }

    [Fact]
    public void An_unknown_algorithm_is_refused_before_any_check_runs()
    {
        var e = Assert.Throws<ArgumentException>(() => SelfTestSuite.Run(new SelfTestOptions { Forwards = 10, Algorithms = ["no-such-algorithm"] }));
        Assert.StartsWith("--algorithm: unknown algorithm 'no-such-algorithm' (known: ppo, ppo-kl, npg, trpo, a2c, vpg, reinforce)", e.Message);
    }

    [Theory]
    [InlineData("--forwards", "0")]
    [InlineData("--forwards", "many")]
    public void Bad_selftest_arguments_exit_2(string option, string value)
    {
        var error = new StringWriter();
        Assert.Equal(2, RobotPgCli.Run(["selftest", option, value], new StringWriter(), error));
        Assert.Single(error.ToString().TrimEnd('\n').Split('\n'));
    }
}
