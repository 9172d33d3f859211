using System.CommandLine;
using RobotPG.Controller.Cli;

namespace RobotPG.Sim.Cli;

/// <summary>The <c>robotpg-sim</c> command line: each verb in its own file; parse errors are one line and exit code 2.</summary>
public static class SimCli
{
    public static RootCommand Build()
    {
        var root = new RootCommand("RobotPG simulator: train policies in-process, serve a simulated robot over MQTT, run the demo.");
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(RolloutCommand.Create());
        root.Subcommands.Add(CompareCommand.Create());
        root.Subcommands.Add(ServeCommand.Create());
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(DashboardCommand.Create());
        root.Subcommands.Add(RobotSecondsCommand.Create());
        root.Subcommands.Add(KeyCommand.Create());
        root.Subcommands.Add(PolicyCommand.Create());
        root.Subcommands.Add(CommandCommand.Create());
        root.Subcommands.Add(FleetCommand.Create());
        root.Subcommands.Add(FleetCommand.CreateLearner());
        root.Subcommands.Add(FleetCommand.CreateLoad());
        return root;
    }

    public static int Run(string[] args) => Run(args, Console.Out, Console.Error);

    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var parsed = Build().Parse(args);
        if (parsed.Errors.Count > 0)
        {
            error.WriteLine(UsageErrors.Describe(parsed, "robotpg-sim"));
            return RobotPgCli.ExitUsage;
        }
        return parsed.Invoke(new InvocationConfiguration { Output = output, Error = error });
    }
}
