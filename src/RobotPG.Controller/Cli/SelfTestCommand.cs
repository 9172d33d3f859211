using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using RobotPG.Controller.SelfTest;

namespace RobotPG.Controller.Cli;

/// <summary>
/// <c>robotpg selftest</c>: the checks of <see cref="SelfTestSuite"/> — policy forward, one update of
/// each on-device algorithm, drivers against register fakes, log round trip — one line each, with
/// figures. Exit 0 when all passed, 1 naming the first failure, 2 for bad arguments. Needs no
/// hardware; the loop's own timing is <c>robotpg timing</c>.
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
        var command = new Command("selftest", "Check this machine without hardware: policy forward, one update of each on-device algorithm, drivers against register fakes, trajectory-log round trip.");
        command.Options.Add(forwards);
        command.Options.Add(algorithms);
        command.SetAction(parseResult =>
        {
            string[]? names = parseResult.GetValue(algorithms);
            var options = new SelfTestOptions
            {
                Forwards = parseResult.GetValue(forwards),
                Algorithms = names is { Length: > 0 } ? names : SelfTestOptions.OnDeviceAlgorithms,
            };
            return Run(options, parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error);
        });
        return command;
    }

    public static int Run(SelfTestOptions options, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Validate() is string problem)
        {
            error.WriteLine($"robotpg selftest: {problem}");
            return RobotPgCli.ExitUsage;
        }
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"robotpg selftest on {RuntimeInformation.RuntimeIdentifier}, {Environment.ProcessorCount} cores, {RuntimeInformation.FrameworkDescription}"));
        SelfTestReport report = SelfTestSuite.Run(options, output);
        if (report.FirstFailure is { } failure)
        {
            error.WriteLine($"robotpg selftest: {report.FailedCount} of {report.Checks.Count} checks failed; first: {failure.Name}: {failure.Detail}");
            return RobotPgCli.ExitFailure;
        }
        output.WriteLine($"selftest: all {report.Checks.Count} checks passed");
        return RobotPgCli.ExitOk;
    }
}
