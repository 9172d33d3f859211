using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using RobotPG.Controller.Cli;

namespace RobotPG.Controller.SelfTest;

/// <summary>
/// <c>robotpg selftest</c>: the checks of <see cref="SelfTestSuite"/> (policy forward, one update of
/// each on-device algorithm, drivers against register fakes, log round trip), then the control loop's
/// timing over a standing, motorless robot (<see cref="SelftestCommand.Run"/>). One line per check;
/// exit 0 when all passed, 1 naming the first failure, 2 for bad arguments. Needs no hardware.
/// </summary>
public static class SelfTestCommand
{
    public static Command Create()
    {
        var forwards = new Option<int>("--forwards") { Description = "Policy forwards to time.", DefaultValueFactory = _ => 10_000 };
        var algorithms = new Option<string[]>("--algorithm")
        {
            Description = $"Algorithm to update (repeatable; default: {string.Join(", ", SelfTestOptions.OnDeviceAlgorithms)}).",
            AllowMultipleArgumentsPerToken = true,
        };
        var rate = new Option<double>("--rate") { Description = "Control-loop check: rate, Hz.", DefaultValueFactory = _ => 1000 };
        var duration = new Option<double>("--duration") { Description = "Control-loop check: seconds to run (0 skips it).", DefaultValueFactory = _ => 2 };
        var command = new Command("selftest", "Check this machine without hardware: policy forward, one update of each on-device algorithm, drivers against register fakes, log round trip, control-loop timing.");
        command.Options.Add(forwards);
        command.Options.Add(algorithms);
        command.Options.Add(rate);
        command.Options.Add(duration);
        command.SetAction(parseResult =>
        {
            string[]? names = parseResult.GetValue(algorithms);
            var options = new SelfTestOptions
            {
                Forwards = parseResult.GetValue(forwards),
                Algorithms = names is { Length: > 0 } ? names : SelfTestOptions.OnDeviceAlgorithms,
            };
            return Run(options, parseResult.GetValue(rate), parseResult.GetValue(duration),
                parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error);
        });
        return command;
    }

    public static int Run(SelfTestOptions options, double loopRateHz, double loopSeconds, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Validate() is string problem)
        {
            error.WriteLine($"robotpg selftest: {problem}");
            return RobotPgCli.ExitUsage;
        }
        if (!(loopSeconds >= 0))
        {
            error.WriteLine("robotpg selftest: --duration must be ≥ 0 seconds");
            return RobotPgCli.ExitUsage;
        }
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"robotpg selftest on {RuntimeInformation.RuntimeIdentifier}, {Environment.ProcessorCount} cores, {RuntimeInformation.FrameworkDescription}"));
        SelfTestReport report = SelfTestSuite.Run(options, output);
        int checks = report.Checks.Count;
        bool loopFailed = false;
        if (loopSeconds > 0)
        {
            checks++;
            loopFailed = SelftestCommand.Run(loopRateHz, loopSeconds, output, error) != RobotPgCli.ExitOk;
            if (loopFailed) output.WriteLine("FAIL control loop: see the line above");
        }
        if (report.FirstFailure is { } failure)
        {
            int failed = report.Checks.Count - CountPassed(report) + (loopFailed ? 1 : 0);
            error.WriteLine($"robotpg selftest: {failed} of {checks} checks failed; first: {failure.Name}: {failure.Detail}");
            return RobotPgCli.ExitFailure;
        }
        if (loopFailed)
        {
            error.WriteLine($"robotpg selftest: 1 of {checks} checks failed; first: control loop");
            return RobotPgCli.ExitFailure;
        }
        output.WriteLine($"selftest: all {checks} checks passed");
        return RobotPgCli.ExitOk;
    }

    private static int CountPassed(SelfTestReport report)
    {
        int passed = 0;
        foreach (SelfTestCheck check in report.Checks)
            if (check.Passed) passed++;
        return passed;
    }
}
