using System.CommandLine;
using System.Globalization;
using System.Text;
using RobotPG.Learning.Environments;
using RobotPG.Sim.Environments;
using RobotPG.Sim.Training;

namespace RobotPG.Sim.Cli;

/// <summary>
/// <c>robotpg-sim rollout --env pendulum --init-state 0.5,-1.0 --actions actions.csv</c>: replays a
/// fixed action sequence from a physical state (the environment's own variables in its own order) and
/// prints CSV rows step, observation…, reward, terminated, truncated; row 0 is the initial observation.
/// Stops early when the episode ends.
/// </summary>
public static class RolloutCommand
{
    public static Command Create()
    {
        var env = new Option<string>("--env") { Description = "Environment.", Required = true };
        var initState = new Option<string>("--init-state")
        {
            Description = "Physical state, comma-separated: pendulum theta,theta_dot; cartpole x,x_dot,theta,theta_dot; mountaincar position,velocity.",
            Required = true,
        };
        var actions = new Option<string>("--actions") { Description = "CSV file, one action per line ('#' comments allowed).", Required = true };
        var command = new Command("rollout", "Replay an action sequence from a given state and print the transitions as CSV.");
        command.Options.Add(env);
        command.Options.Add(initState);
        command.Options.Add(actions);
        command.SetAction(parseResult => Run(parseResult.GetValue(env), parseResult.GetValue(initState), parseResult.GetValue(actions),
            parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error));
        return command;
    }

    public static int Run(string? envName, string? initState, string? actionsPath, TextWriter output, TextWriter error)
    {
        IEnvironment environment;
        double[] state;
        float[][] actions;
        try
        {
            environment = CommandArguments.Environment(envName, 0);
            IReadOnlyList<string> names = EnvironmentCatalog.StateNames(envName!);
            state = CommandArguments.Numbers(initState, environment.StateSize, $"--init-state ({string.Join(",", names)})");
            actions = CommandArguments.ActionsCsv(actionsPath, environment.ActionSize);
        }
        catch (UsageException e)
        {
            error.WriteLine($"robotpg-sim rollout: {e.Message}");
            return CommandArguments.ExitUsage;
        }

        var inv = CultureInfo.InvariantCulture;
        var observation = new float[environment.ObservationSize];
        var sb = new StringBuilder("step");
        for (int j = 0; j < observation.Length; j++) sb.Append(inv, $",obs{j}");
        sb.Append(",reward,terminated,truncated");
        output.WriteLine(sb.ToString());

        environment.ResetTo(state, observation);
        output.WriteLine(Row(0, observation, "", "", ""));
        for (int t = 0; t < actions.Length; t++)
        {
            StepResult r = environment.Step(actions[t], observation);
            output.WriteLine(Row(t + 1, observation, r.Reward.ToString("R", inv), r.Terminated ? "true" : "false", r.Truncated ? "true" : "false"));
            if (r.Done) break;
        }
        return CommandArguments.ExitOk;
    }

    private static string Row(int step, ReadOnlySpan<float> observation, string reward, string terminated, string truncated)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append(inv, $"{step}");
        foreach (float v in observation) sb.Append(',').Append(v.ToString("R", inv));
        sb.Append(',').Append(reward).Append(',').Append(terminated).Append(',').Append(truncated);
        return sb.ToString();
    }
}
