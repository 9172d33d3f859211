using System.CommandLine;
using RobotPG.Controller.Configuration;

namespace RobotPG.Controller.Cli;

/// <summary><c>robotpg check-config FILE</c>: schema and rules, every error one line, exit 2 on any.</summary>
public static class CheckConfigCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("file") { Description = "Robot config (JSON) to check." };
        var command = new Command("check-config", "Validate a robot config against the schema and the rules across fields; touches no hardware.");
        command.Arguments.Add(file);
        command.SetAction(parseResult =>
        {
            var result = ConfigLoader.Load(parseResult.GetValue(file)!);
            return Report(result, parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error);
        });
        return command;
    }

    /// <summary>Prints each error as <c>file: $.path: reason</c>; returns 0 when the config is good, else 2.</summary>
    public static int Report(ConfigLoadResult result, TextWriter output, TextWriter error)
    {
        if (result.Ok)
        {
            output.WriteLine($"{result.File}: ok");
            return RobotPgCli.ExitOk;
        }
        foreach (var e in result.Errors)
            error.WriteLine(e.Format(result.File));
        return RobotPgCli.ExitUsage;
    }
}
