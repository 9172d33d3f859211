using System.CommandLine;
using System.Diagnostics;
using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Checkpoints;
using RobotPG.Learning.Environments;
using RobotPG.Learning.Training;
using RobotPG.Sim.Environments;
using RobotPG.Sim.Training;

namespace RobotPG.Sim.Cli;

/// <summary>
/// <c>robotpg-sim train --env pendulum --algo ppo --steps 200000 --seed 1 --out runs/pendulum [--json]</c>:
/// trains in-process, shows progress, writes policy.rpgp (with normaliser statistics),
/// learning_curve.csv and learning_curve.svg into --out, and ends with a deterministic evaluation.
/// </summary>
public static class TrainCommand
{
    public const string CheckpointFileName = "policy.rpgp", CurveCsvFileName = "learning_curve.csv", CurveSvgFileName = "learning_curve.svg";
    public const int EvaluationEpisodes = 10;

    public static Command Create()
    {
        var env = new Option<string>("--env") { Description = $"Environment: {string.Join(", ", EnvironmentCatalog.Names)}.", Required = true };
        var algo = new Option<string>("--algo") { Description = $"Algorithm: {string.Join(", ", AlgorithmRegistry.Names)}.", DefaultValueFactory = _ => AlgorithmRegistry.Ppo };
        var steps = new Option<string>("--steps") { Description = "Environment steps to train for (> 0).", DefaultValueFactory = _ => "200000" };
        var seed = new Option<string>("--seed") { Description = "Seed of everything random in the run.", DefaultValueFactory = _ => "1" };
        var output = new Option<string>("--out") { Description = "Directory for policy.rpgp, learning_curve.csv and learning_curve.svg.", Required = true };
        var json = new Option<bool>("--json") { Description = "One JSON object per update on stdout, then a final one with eval_return." };

        var command = new Command("train", "Train a policy in-process on a simulated environment as fast as the CPU allows.");
        command.Options.Add(env);
        command.Options.Add(algo);
        command.Options.Add(steps);
        command.Options.Add(seed);
        command.Options.Add(output);
        command.Options.Add(json);
        command.SetAction(parseResult => Run(
            parseResult.GetValue(env), parseResult.GetValue(algo), parseResult.GetValue(steps), parseResult.GetValue(seed),
            parseResult.GetValue(output), ProgressDisplay.StyleFor(parseResult.GetValue(json)),
            parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error));
        return command;
    }

    public static int Run(string? envName, string? algoName, string? stepsText, string? seedText, string? outDir, ProgressStyle style,
        TextWriter output, TextWriter error)
    {
        string directory;
        long steps;
        ulong seed;
        IPolicyGradientAlgorithm algorithm;
        try
        {
            CommandArguments.CheckEnvironment(envName);
            steps = CommandArguments.PositiveInt64(stepsText, "--steps");
            seed = CommandArguments.Seed(seedText, "--seed");
            IEnvironment probe = EnvironmentCatalog.Create(envName!);
            var context = new AlgorithmContext(probe.ObservationSize, probe.ActionSize, envName!, seed);
            if (algoName is null || !AlgorithmRegistry.TryCreate(algoName, context, out algorithm))
                throw new UsageException($"unknown algorithm '{algoName}' (known: {string.Join(", ", AlgorithmRegistry.Names)})");
            directory = CommandArguments.WritableDirectory(outDir, "--out");
        }
        catch (UsageException e)
        {
            error.WriteLine($"robotpg-sim train: {e.Message}");
            return CommandArguments.ExitUsage;
        }

        var wall = Stopwatch.StartNew();
        var environments = new IEnvironment[algorithm.Rollout.EnvironmentCount];
        for (int e = 0; e < environments.Length; e++) environments[e] = EnvironmentCatalog.Create(envName!, seed + (ulong)e);
        var trainer = new Trainer(algorithm, environments, steps, seed);
        var display = new ProgressDisplay(output, style, trainer.Iterations);
        var curve = new LearningCurve();
        TrainingProgress last = default;
        while (!trainer.Finished)
        {
            last = trainer.RunIteration();
            curve.Add(last);
            display.Report(last);
        }

        // Evaluation episodes start from seeds the training never reset with.
        double evalReturn = PolicyEvaluation.Run(algorithm.Agent, EnvironmentCatalog.Create(envName!), EvaluationEpisodes, seed + 1_000_000);
        try
        {
            TrainingState state = algorithm.Agent.ToTrainingState($"{envName}/{algorithm.Name}");
            state.StepCount = trainer.Steps;
            state.EpisodeCount = trainer.Episodes;
            state.UpdateCount = trainer.Iteration;
            CheckpointFile.Save(Path.Combine(directory, CheckpointFileName), state);
            File.WriteAllText(Path.Combine(directory, CurveCsvFileName), curve.ToCsv());
            File.WriteAllText(Path.Combine(directory, CurveSvgFileName), curve.ToSvg($"{algorithm.Name} on {envName}, seed {seed}"));
        }
        catch (Exception e) when (e is CheckpointException or IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"robotpg-sim train: cannot write results into '{directory}': {e.Message}");
            return CommandArguments.ExitFailure;
        }
        display.Final(last, evalReturn, wall.Elapsed.TotalSeconds);
        return CommandArguments.ExitOk;
    }
}
