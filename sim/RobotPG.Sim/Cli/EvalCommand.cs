using System.CommandLine;
using System.Globalization;
using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Checkpoints;
using RobotPG.Learning.Environments;
using RobotPG.Learning.Training;
using RobotPG.Sim.Training;

namespace RobotPG.Sim.Cli;

/// <summary>
/// <c>robotpg-sim eval --policy runs/pendulum/policy.rpgp --env pendulum --episodes 10</c>: runs the
/// checkpoint's deterministic policy (mean action, saved normaliser statistics) and prints each
/// episode's return and their mean.
/// </summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var policy = new Option<string>("--policy") { Description = "Checkpoint written by train (policy.rpgp).", Required = true };
        var env = new Option<string>("--env") { Description = $"Environment to evaluate on: {string.Join(", ", RobotTraining.AllEnvironmentNames)}.", Required = true };
        var robotConfig = new Option<string?>("--config") { Description = "balance-bot, cartpole-rail: the robot's controller config (as given to train)." };
        var physics = new Option<string?>("--physics") { Description = "balance-bot, cartpole-rail: the simulator's physics file (default: robots/<env>.physics.json next to robotpg-sim)." };
        var episodes = new Option<string>("--episodes") { Description = "Number of episodes (> 0).", DefaultValueFactory = _ => "10" };
        var seed = new Option<string>("--seed") { Description = "Seed of the first reset.", DefaultValueFactory = _ => "0" };
        var command = new Command("eval", "Print the deterministic return of a trained policy.");
        command.Options.Add(policy);
        command.Options.Add(env);
        command.Options.Add(episodes);
        command.Options.Add(seed);
        command.Options.Add(robotConfig);
        command.Options.Add(physics);
        command.SetAction(parseResult => Run(parseResult.GetValue(policy), parseResult.GetValue(env), parseResult.GetValue(episodes),
            parseResult.GetValue(seed), parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error,
            new RobotEnvironmentOptions(parseResult.GetValue(robotConfig), parseResult.GetValue(physics))));
        return command;
    }

    public static int Run(string? policyPath, string? envName, string? episodesText, string? seedText, TextWriter output, TextWriter error,
        RobotEnvironmentOptions? robot = null)
    {
        robot ??= RobotEnvironmentOptions.None;
        if (RobotTraining.Contains(envName))
            return RunRobot(policyPath, envName!, episodesText, seedText, output, error, robot);
        ActorCritic agent;
        IEnvironment environment;
        int episodes;
        ulong seed;
        try
        {
            long n = CommandArguments.PositiveInt64(episodesText, "--episodes");
            if (n > 1_000_000) throw new UsageException($"--episodes must be ≤ 1000000 (got {n})");
            episodes = (int)n;
            seed = CommandArguments.Seed(seedText, "--seed");
            if (robot.Any) throw new UsageException($"--config and --physics describe a robot (--env {string.Join(" or ", RobotTraining.Names)}), not '{envName}'");
            environment = CommandArguments.Environment(envName, seed);
            if (string.IsNullOrWhiteSpace(policyPath)) throw new UsageException("--policy needs a checkpoint file");
            try
            {
                agent = ActorCritic.Load(policyPath);
            }
            catch (CheckpointException e)
            {
                throw new UsageException(e.Message);
            }
            if (agent.ObservationSize != environment.ObservationSize || agent.ActionSize != environment.ActionSize)
                throw new UsageException($"policy '{policyPath}' takes {agent.ObservationSize} observations and gives {agent.ActionSize} actions; " +
                    $"{envName} has {environment.ObservationSize} and {environment.ActionSize}");
        }
        catch (UsageException e)
        {
            error.WriteLine($"robotpg-sim eval: {e.Message}");
            return CommandArguments.ExitUsage;
        }

        var returns = new double[episodes];
        double mean = PolicyEvaluation.Run(agent, environment, episodes, seed, returns);
        var inv = CultureInfo.InvariantCulture;
        for (int k = 0; k < episodes; k++) output.WriteLine(string.Create(inv, $"episode {k + 1}: return {returns[k]:F2}"));
        output.WriteLine(string.Create(inv, $"mean deterministic return over {episodes} episodes: {mean:F2}"));
        return CommandArguments.ExitOk;
    }

    /// <summary>A robot: the controller's loop with the checkpoint's mean action on the nominal simulated robot.</summary>
    private static int RunRobot(string? policyPath, string envName, string? episodesText, string? seedText, TextWriter output, TextWriter error,
        RobotEnvironmentOptions robot)
    {
        var returns = Array.Empty<double>();
        double mean;
        try
        {
            long n = CommandArguments.PositiveInt64(episodesText, "--episodes");
            if (n > 10_000) throw new UsageException($"--episodes must be ≤ 10000 for a robot (got {n})");
            ulong seed = CommandArguments.Seed(seedText, "--seed");
            if (string.IsNullOrWhiteSpace(policyPath)) throw new UsageException("--policy needs a checkpoint file");
            var config = RobotTraining.Config(envName, robot.Config);
            var physics = RobotTraining.Physics(envName, robot.Physics);
            returns = new double[n];
            try
            {
                mean = RobotTraining.Evaluate(config, physics, policyPath, (int)n, seed, returns);
            }
            catch (CheckpointException e)
            {
                throw new UsageException(e.Message);
            }
        }
        catch (UsageException e)
        {
            error.WriteLine($"robotpg-sim eval: {e.Message}");
            return CommandArguments.ExitUsage;
        }
        catch (InvalidOperationException e)
        {
            error.WriteLine($"robotpg-sim eval: {e.Message}");
            return CommandArguments.ExitFailure;
        }
        var inv = CultureInfo.InvariantCulture;
        for (int k = 0; k < returns.Length; k++) output.WriteLine(string.Create(inv, $"episode {k + 1}: return {returns[k]:F2}"));
        output.WriteLine(string.Create(inv, $"mean deterministic return over {returns.Length} episodes: {mean:F2}"));
        return CommandArguments.ExitOk;
    }
}
