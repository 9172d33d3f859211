using System.CommandLine;
using System.Globalization;
using RobotPG.Learning.Checkpoints;

namespace RobotPG.Controller.Cli;

/// <summary><c>robotpg policy info P</c>: what a checkpoint holds, without loading it into a robot.</summary>
public static class PolicyCommand
{
    public static Command Create()
    {
        var command = new Command("policy", "Inspect policy checkpoints.");
        var file = new Argument<string>("file") { Description = "Checkpoint file." };
        var info = new Command("info", "Sizes, counters and normaliser of a checkpoint (CRC checked).");
        info.Arguments.Add(file);
        info.SetAction(parseResult => Info(parseResult.GetValue(file)!, parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error));
        command.Subcommands.Add(info);
        return command;
    }

    public static int Info(string path, TextWriter output, TextWriter error)
    {
        CheckpointInfo info;
        try
        {
            info = CheckpointFile.ReadInfo(path);
        }
        catch (CheckpointException e)
        {
            // A missing or corrupt file is bad input, as in robotpg-sim eval: exit 2.
            error.WriteLine(e.Message.Split('\n')[0]);
            return RobotPgCli.ExitUsage;
        }
        var inv = CultureInfo.InvariantCulture;
        output.WriteLine($"file: {path}");
        output.WriteLine($"tag: {info.Tag}");
        output.WriteLine(string.Create(inv, $"steps: {info.StepCount}, episodes: {info.EpisodeCount}, updates: {info.UpdateCount}"));
        output.WriteLine(string.Create(inv, $"policy: {info.PolicyObservationSize} → [{string.Join(", ", info.PolicyHiddenSizes ?? [])}] → {info.PolicyActionSize}"));
        output.WriteLine(info.ValueHiddenSizes is null
            ? "value network: none"
            : string.Create(inv, $"value network: {info.ValueObservationSize} → [{string.Join(", ", info.ValueHiddenSizes)}] → 1"));
        output.WriteLine(info.ObservationNormalizerSize > 0
            ? string.Create(inv, $"observation normaliser: {info.ObservationNormalizerSize} values")
            : "observation normaliser: none");
        return RobotPgCli.ExitOk;
    }
}
