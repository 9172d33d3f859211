using System.CommandLine;

namespace RobotPG.Sim.Tests.Cli;

internal static class CliTestRun
{
    /// <summary>Parses and invokes a verb as the executable would, capturing stdout and stderr.</summary>
    public static (int exit, string stdout, string stderr) Invoke(Command command, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var root = new RootCommand("test root");
        root.Subcommands.Add(command);
        int exit = root.Parse([command.Name, .. args]).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }

    public static string TempDirectory()
    {
        string dir = Path.Combine(Path.GetTempPath(), "robotpg-sim-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }
}
