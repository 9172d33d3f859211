using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using RobotPG.Controller.Configuration;
using RobotPG.Controller.Learning;
using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Checkpoints;
using RobotPG.Learning.Environments;
using RobotPG.Learning.Training;
using RobotPG.Sim.Environments;
using RobotPG.Sim.Robots;
using RobotPG.Sim.Training;

namespace RobotPG.Sim.Cli;

/// <summary>
/// <c>robotpg-sim train --env pendulum --algo ppo --steps 200000 --seed 1 --out runs/pendulum [--json]</c>:
/// trains in-process, shows progress, writes learning_curve.csv and learning_curve.svg into --out and two
/// checkpoints (with normaliser statistics): policy.rpgp, the best policy seen — every few updates the
/// deterministic policy is evaluated on episodes of its own seeds and the best kept (<see cref="BestPolicyKeeper"/>)
/// — and policy.final.rpgp, the parameters of the last update. It ends with a deterministic evaluation of both.
/// <c>--algo fd|regression</c> (note 002's black-box gradients on a linear Gaussian policy) take their
/// own path and write policy.linear.json (<see cref="LinearPolicyFile"/>) instead of policy.rpgp.
/// </summary>
public static class TrainCommand
{
    public const string CheckpointFileName = "policy.rpgp", FinalCheckpointFileName = "policy.final.rpgp", LinearPolicyFileName = "policy.linear.json",
        CurveCsvFileName = "learning_curve.csv", CurveSvgFileName = "learning_curve.svg";
    public const int EvaluationEpisodes = 10;

    /// <summary>Offset of the evaluation seed from the run seed: evaluation starts from states the training never reset with.</summary>
    public const ulong EvaluationSeedOffset = 1_000_000;

    /// <summary>
    /// Offset of the seed of the evaluations that choose the best policy: distinct from the final evaluation's,
    /// so the reported best return is measured on episodes the choice never saw.
    /// </summary>
    public const ulong SelectionSeedOffset = 2_000_000;

    /// <summary>Episodes of each selection evaluation, and about how many selection evaluations a run makes.</summary>
    public const int SelectionEpisodes = 5, SelectionsPerRun = 40;

    public static IReadOnlyList<string> AlgorithmNames { get; } = [.. AlgorithmRegistry.Names, .. PolicySearchAlgorithms.Names];

    public static Command Create()
    {
        var env = new Option<string>("--env") { Description = $"Environment: {string.Join(", ", RobotTraining.AllEnvironmentNames)} (the last two are robots: give --config).", Required = true };
        var robotConfig = new Option<string?>("--config") { Description = "balance-bot, cartpole-rail: the robot's controller config; training uses its wiring, control rate, task, policy sizes and learning settings." };
        var physics = new Option<string?>("--physics") { Description = "balance-bot, cartpole-rail: the simulator's physics file (default: robots/<env>.physics.json next to robotpg-sim)." };
        var randomize = new Option<bool>("--randomize") { Description = "balance-bot, cartpole-rail: domain randomisation, new masses, friction and motor constants at every reset (the physics file's ranges)." };
        var algo = new Option<string>("--algo") { Description = $"Algorithm: {string.Join(", ", AlgorithmNames)}.", DefaultValueFactory = _ => AlgorithmRegistry.Ppo };
        var steps = new Option<string>("--steps") { Description = "Environment steps to train for (> 0).", DefaultValueFactory = _ => "200000" };
        var seed = new Option<string>("--seed") { Description = "Seed of everything random in the run.", DefaultValueFactory = _ => "1" };
        var output = new Option<string?>("--out") { Description = "Directory for policy.rpgp (policy.linear.json for fd/regression), learning_curve.csv and learning_curve.svg (default runs/ENV-ALGO-seedN)." };
        var json = new Option<bool>("--json") { Description = "One JSON object per update on stdout, then a final one with evalReturn, evalSeed and the files written." };
        var weighting = new Option<string?>("--return-weighting")
        {
            Description = "reinforce/vpg: weight of each step's log-likelihood gradient: 'whole' = the whole trajectory's return, 'reward-to-go' = the return from that step on (default).",
        };
        var discount = new Option<bool>("--discount-weighting")
        {
            Description = "reinforce/vpg with reward-to-go: also multiply step k's weight by γ^(k−1) (the discounted gradient).",
        };
        var baseline = new Option<string?>("--baseline")
        {
            Description = "reinforce/vpg: what is subtracted from the weights: none; mean (mean return); optimal-scalar or optimal-per-parameter (the variance-minimising constant b = Σ(∇logP)²R / Σ(∇logP)², one number or one per parameter; whole-trajectory returns); time (mean reward-to-go at each time index; reinforce's default); value (fitted V(s); vpg's default).",
        };
        var delta = new Option<string?>("--delta")
        {
            Description = $"fd: forward-difference step δ (default {PolicySearchAlgorithms.DefaultFiniteDifferenceDelta}); regression: standard deviation of each random perturbation (default {PolicySearchAlgorithms.DefaultRegressionDelta}).",
        };
        var perturbations = new Option<string?>("--perturbations")
        {
            Description = "regression: number m of random perturbations per gradient estimate, ≥ the number of policy mean parameters (default 2 × that number).",
        };
        var stepSize = new Option<string?>("--step-size")
        {
            Description = $"fd/regression: α of θ ← θ + α∇U (default {PolicySearchAlgorithms.DefaultStepSize}; each step is limited to length {PolicySearchAlgorithms.MaxStepNorm}).",
        };

        var command = new Command("train", "Train a policy in-process on a simulated environment as fast as the CPU allows.");
        foreach (Option option in (Option[])[env, algo, steps, seed, output, json, robotConfig, physics, randomize, weighting, discount, baseline, delta, perturbations, stepSize])
            command.Options.Add(option);
        command.SetAction(parseResult => Run(
            parseResult.GetValue(env), parseResult.GetValue(algo), parseResult.GetValue(steps), parseResult.GetValue(seed),
            parseResult.GetValue(output), ProgressDisplay.StyleFor(parseResult.GetValue(json)),
            parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error,
            new TrainOptions(parseResult.GetValue(weighting), parseResult.GetValue(discount), parseResult.GetValue(baseline),
                parseResult.GetValue(delta), parseResult.GetValue(perturbations), parseResult.GetValue(stepSize)),
            new RobotEnvironmentOptions(parseResult.GetValue(robotConfig), parseResult.GetValue(physics), parseResult.GetValue(randomize))));
        return command;
    }

    public static int Run(string? envName, string? algoName, string? stepsText, string? seedText, string? outDir, ProgressStyle style,
        TextWriter output, TextWriter error, TrainOptions? options = null, RobotEnvironmentOptions? robot = null)
    {
        options ??= TrainOptions.None;
        robot ??= RobotEnvironmentOptions.None;
        outDir ??= DefaultDirectory(envName, algoName, seedText);
        if (RobotTraining.Contains(envName))
            return RunRobot(envName!, algoName, stepsText, seedText, outDir, style, output, error, options, robot);
        string directory;
        long steps;
        ulong seed;
        IPolicyGradientAlgorithm? algorithm = null;
        PolicySearchTraining? search = null;
        try
        {
            CommandArguments.CheckEnvironment(envName);
            if (robot.Any) throw new UsageException($"--config, --physics and --randomize describe a robot (--env {string.Join(" or ", RobotTraining.Names)}), not '{envName}'");
            steps = CommandArguments.PositiveInt64(stepsText, "--steps");
            seed = CommandArguments.Seed(seedText, "--seed");
            if (algoName is null || !AlgorithmNames.Contains(algoName))
                throw new UsageException($"unknown algorithm '{algoName}' (known: {string.Join(", ", AlgorithmNames)})");
            options.CheckApplicable(algoName);
            IEnvironment probe = EnvironmentCatalog.Create(envName!, seed);
            if (PolicySearchAlgorithms.Contains(algoName))
            {
                int meanParameters = probe.ActionSize * (probe.ObservationSize + 1);
                search = new PolicySearchTraining(probe, options.PolicySearch(algoName, meanParameters, seed), steps);
            }
            else
            {
                var context = new AlgorithmContext(probe.ObservationSize, probe.ActionSize, envName!, seed);
                algorithm = algoName is EstimatorAlgorithms.Reinforce or EstimatorAlgorithms.Vpg
                    ? EstimatorAlgorithms.Create(algoName, options.ApplyTo(EstimatorPresets.For(algoName, envName!)!), context)
                    : AlgorithmRegistry.Create(algoName, context);
            }
            directory = CommandArguments.WritableDirectory(outDir, "--out");
        }
        catch (UsageException e)
        {
            error.WriteLine($"robotpg-sim train: {e.Message}");
            return CommandArguments.ExitUsage;
        }
        return search is not null
            ? RunPolicySearch(search, envName!, algoName!, seed, directory, style, output, error)
            : RunTrainer(algorithm!, envName!, steps, seed, directory, style, output, error);
    }

    /// <summary>A robot: the controller's loop, task and on-device learner over the in-process simulator (<see cref="RobotTraining"/>).</summary>
    private static int RunRobot(string envName, string? algoName, string? stepsText, string? seedText, string? outDir, ProgressStyle style,
        TextWriter output, TextWriter error, TrainOptions options, RobotEnvironmentOptions robot)
    {
        string directory, work;
        long steps;
        ulong seed;
        RobotConfig config;
        RobotPhysicsConfig physics;
        try
        {
            steps = CommandArguments.PositiveInt64(stepsText, "--steps");
            seed = CommandArguments.Seed(seedText, "--seed");
            if (algoName is null || !OnDeviceAlgorithms.Names.Contains(algoName))
                throw new UsageException($"--env {envName} trains with the robot's own learner: --algo must be one of {string.Join(", ", OnDeviceAlgorithms.Names)} (got '{algoName}')");
            if (options != TrainOptions.None)
                throw new UsageException($"--return-weighting, --discount-weighting, --baseline, --delta, --perturbations and --step-size apply to the Gymnasium-style environments, not --env {envName}");
            directory = CommandArguments.WritableDirectory(outDir, "--out");
            work = Path.Combine(directory, ".learner-checkpoints");
            config = RobotTraining.TrainingConfig(envName, robot.Config, algoName, seed, work);
            physics = RobotTraining.Physics(envName, robot.Physics);
            if (!(config.ControlRateHz <= physics.PhysicsRateHz))
                throw new UsageException($"--config's controlRateHz {config.ControlRateHz} is above the physics rate {physics.PhysicsRateHz} Hz");
        }
        catch (UsageException e)
        {
            error.WriteLine($"robotpg-sim train: {e.Message}");
            return CommandArguments.ExitUsage;
        }

        var wall = Stopwatch.StartNew();
        int batch = config.Learning!.BatchSteps ?? new LearningOptions().BatchSteps;
        var display = new ProgressDisplay(output, style, (int)Math.Max(1, steps / batch));
        if (style != ProgressStyle.Json)
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"training {envName} ({algoName}, {config.ControlRateHz} Hz, {(robot.Randomize ? "randomised at every reset" : "nominal physics")}) for {steps} control steps ({steps / config.ControlRateHz:F0} simulated s), an update every {batch} steps in an episode"));
        var curve = new LearningCurve();
        TrainingProgress last = default;
        string checkpoint = Path.Combine(directory, CheckpointFileName);
        double evalReturn;
        try
        {
            RobotTraining.Train(config, physics, robot.Randomize, steps, seed, directory, checkpoint, output, p =>
            {
                last = p;
                curve.Add(p);
                display.Report(p);
            });
            RobotTraining.RemoveWorkDirectory(work);
            evalReturn = RobotTraining.Evaluate(config, physics, checkpoint, EvaluationEpisodes, seed + EvaluationSeedOffset);
            WriteCurve(curve, directory, $"{algoName} on {envName}, seed {seed}");
        }
        catch (Exception e) when (e is CheckpointException or IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            error.WriteLine($"robotpg-sim train: {e.Message}");
            return CommandArguments.ExitFailure;
        }
        last = last with { Steps = steps };
        display.Final(last, evalReturn, wall.Elapsed.TotalSeconds, EvaluationEpisodes, seed + EvaluationSeedOffset, Written(directory, CheckpointFileName));
        return CommandArguments.ExitOk;
    }

    private static int RunTrainer(IPolicyGradientAlgorithm algorithm, string envName, long steps, ulong seed, string directory, ProgressStyle style,
        TextWriter output, TextWriter error)
    {
        var wall = Stopwatch.StartNew();
        var environments = new IEnvironment[algorithm.Rollout.EnvironmentCount];
        for (int e = 0; e < environments.Length; e++) environments[e] = EnvironmentCatalog.Create(envName, seed + (ulong)e);
        var trainer = new Trainer(algorithm, environments, steps, seed);
        var display = new ProgressDisplay(output, style, trainer.Iterations);
        // Training runs whole batches (CleanRL's num_iterations = steps // batch): say so when --steps is not a multiple.
        if (trainer.TotalSteps != steps && style != ProgressStyle.Json)
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"training {trainer.TotalSteps} steps: {trainer.Iterations} updates of {algorithm.Rollout.BatchSize} steps (--steps {steps} rounded down to whole batches)"));
        var curve = new LearningCurve();
        var keeper = new BestPolicyKeeper(algorithm.Agent);
        IEnvironment selection = EnvironmentCatalog.Create(envName);
        int selectEvery = Math.Max(1, trainer.Iterations / SelectionsPerRun);
        TrainingProgress last = default;
        while (!trainer.Finished)
        {
            last = trainer.RunIteration();
            curve.Add(last);
            display.Report(last);
            // The same episodes (same seed) judge every candidate, so the comparison is between policies, not starts.
            if (last.Iteration % selectEvery == 0 || trainer.Finished)
                keeper.Offer(algorithm.Agent, PolicyEvaluation.Run(algorithm.Agent, selection, SelectionEpisodes, seed + SelectionSeedOffset), trainer.Steps);
        }

        double finalReturn = PolicyEvaluation.Run(algorithm.Agent, EnvironmentCatalog.Create(envName), EvaluationEpisodes, seed + EvaluationSeedOffset);
        double bestReturn = PolicyEvaluation.Run(keeper.Best, EnvironmentCatalog.Create(envName), EvaluationEpisodes, seed + EvaluationSeedOffset);
        try
        {
            string tag = $"{envName}/{algorithm.Name}";
            TrainingState state = algorithm.Agent.ToTrainingState(tag);
            state.StepCount = trainer.Steps;
            state.EpisodeCount = trainer.Episodes;
            state.UpdateCount = trainer.Iteration;
            CheckpointFile.Save(Path.Combine(directory, FinalCheckpointFileName), state);
            TrainingState best = keeper.ToTrainingState(tag);
            best.StepCount = keeper.BestSteps;
            CheckpointFile.Save(Path.Combine(directory, CheckpointFileName), best);
            WriteCurve(curve, directory, $"{algorithm.Name} on {envName}, seed {seed}");
        }
        catch (Exception e) when (e is CheckpointException or IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"robotpg-sim train: cannot write results into '{directory}': {e.Message}");
            return CommandArguments.ExitFailure;
        }
        display.Final(last, bestReturn, wall.Elapsed.TotalSeconds, EvaluationEpisodes, seed + EvaluationSeedOffset,
            [Path.Combine(directory, CheckpointFileName), Path.Combine(directory, FinalCheckpointFileName), .. Written(directory, CheckpointFileName)[1..]],
            new FinalPolicies(finalReturn, keeper.BestSteps, CheckpointFileName, FinalCheckpointFileName));
        return CommandArguments.ExitOk;
    }

    private static int RunPolicySearch(PolicySearchTraining search, string envName, string algoName, ulong seed, string directory, ProgressStyle style,
        TextWriter output, TextWriter error)
    {
        var wall = Stopwatch.StartNew();
        var curve = new LearningCurve();
        ProgressDisplay? display = null;
        TrainingProgress last = default;
        while (!search.Finished)
        {
            last = search.RunIteration();
            // The number of updates is known only once one update has shown what it costs.
            display ??= new ProgressDisplay(output, style, last.Iterations);
            curve.Add(last);
            display.Report(last);
        }

        double evalReturn = LinearPolicyEvaluation.Run(search.Policy, EnvironmentCatalog.Create(envName), EvaluationEpisodes, seed + EvaluationSeedOffset);
        try
        {
            LinearPolicyFile.Save(Path.Combine(directory, LinearPolicyFileName),
                LinearPolicyFile.ToDocument(search.Policy, $"{envName}/{algoName}", search.Steps, search.Episodes, search.Iteration));
            WriteCurve(curve, directory, $"{algoName} on {envName}, seed {seed}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            // ArgumentException: a diverged (non-finite) parameter has no JSON number.
            error.WriteLine($"robotpg-sim train: cannot write results into '{directory}': {e.Message}");
            return CommandArguments.ExitFailure;
        }
        display!.Final(last, evalReturn, wall.Elapsed.TotalSeconds, EvaluationEpisodes, seed + EvaluationSeedOffset, Written(directory, LinearPolicyFileName));
        return CommandArguments.ExitOk;
    }

    /// <summary>Where a run without <c>--out</c> writes: <c>runs/ENV-ALGO-seedN</c> under the working directory (ALGO left out when not given).</summary>
    public static string DefaultDirectory(string? envName, string? algoName, string? seedText) =>
        Path.Combine("runs", $"{envName}{(algoName is null ? "" : "-" + algoName)}-seed{seedText ?? "0"}");

    /// <summary>Full paths of what a run writes: the policy, then the learning curve.</summary>
    public static string[] Written(string directory, string policyFileName) =>
        [Path.Combine(directory, policyFileName), Path.Combine(directory, CurveCsvFileName), Path.Combine(directory, CurveSvgFileName)];

    private static void WriteCurve(LearningCurve curve, string directory, string title)
    {
        File.WriteAllText(Path.Combine(directory, CurveCsvFileName), curve.ToCsv());
        File.WriteAllText(Path.Combine(directory, CurveSvgFileName), curve.ToSvg(title));
    }
}
