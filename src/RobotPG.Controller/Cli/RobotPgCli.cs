using System.CommandLine;

namespace RobotPG.Controller.Cli;

/// <summary>The <c>robotpg</c> command line: each verb in its own file; parse errors are one line and exit code 2.</summary>
public static class RobotPgCli
{
    public const int ExitOk = 0;
    public const int ExitFailure = 1;
    public const int ExitUsage = 2;

    /// <summary>The loop stopped the motors on a fault that does not clear by itself: systemd restarts the controller.</summary>
    public const int ExitFault = 3;

    public static RootCommand Build()
    {
        var root = new RootCommand("robotpg: the RobotPG robot controller (fixed-rate policy loop, safety supervisor, trajectory log, telemetry).");
        root.Subcommands.Add(CheckConfigCommand.Create());
        root.Subcommands.Add(RunCommand.Create());
        root.Subcommands.Add(LogCommand.Create());
        root.Subcommands.Add(PolicyCommand.Create());
        root.Subcommands.Add(LoopTimingCommand.Create());
        root.Subcommands.Add(SelfTestCommand.Create());
        root.Subcommands.Add(MotorsOffCommand.Create());
        root.Subcommands.Add(ProbeCommand.Create());
        return root;
    }

    public static int Run(string[] args) => Run(args, Console.Out, Console.Error);

    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var root = Build();
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            error.WriteLine(UsageErrors.Describe(parsed, "robotpg"));
            return ExitUsage;
        }
        var configuration = new InvocationConfiguration { Output = output, Error = error };
        return parsed.Invoke(configuration);
    }
}
