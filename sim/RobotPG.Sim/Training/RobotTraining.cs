using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using RobotPG.Controller.Configuration;
using RobotPG.Controller.Control;
using RobotPG.Controller.Learning;
using RobotPG.Controller.Tasks;
using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Checkpoints;
using RobotPG.Learning.Training;
using RobotPG.Sim.Demo;
using RobotPG.Sim.Environments;
using RobotPG.Sim.Robots;

namespace RobotPG.Sim.Training;

/// <summary>Where a robot environment comes from: the robot's controller config and the simulator's physics.</summary>
/// <param name="Config"><c>--config</c>: the robot's controller config (wiring, rate, task, policy sizes, learning).</param>
/// <param name="Physics"><c>--physics</c>: a physics file; null = robots/&lt;env&gt;.physics.json next to the executable.</param>
/// <param name="Randomize"><c>--randomize</c>: new masses, friction and motor constants at every reset (the physics file's ranges).</param>
public sealed record RobotEnvironmentOptions(string? Config = null, string? Physics = null, bool Randomize = false)
{
    public static RobotEnvironmentOptions None { get; } = new();

    public bool Any => Config is not null || Physics is not null || Randomize;
}

/// <summary>
/// The robots as training environments: <c>balance-bot</c> and <c>cartpole-rail</c> are trained through
/// the controller's own loop, task (observation, reward, termination), safety filter and on-device
/// learner over the in-process simulator (<see cref="InProcessTraining"/>), so the checkpoint written
/// here is the file <c>robotpg run --policy</c> loads on the robot, with the same observation scaling.
/// </summary>
public static class RobotTraining
{
    public const string BalanceBot = "balance-bot", CartpoleRail = "cartpole-rail";

    public static IReadOnlyList<string> Names { get; } = [BalanceBot, CartpoleRail];

    public static bool Contains(string? name) => name is BalanceBot or CartpoleRail;

    /// <summary>Every name <c>train</c> and <c>eval</c> accept: the Gymnasium-style tasks, then the robots.</summary>
    public static IReadOnlyList<string> AllEnvironmentNames { get; } = [.. EnvironmentCatalog.Names, .. Names];

    public static string TaskName(TaskKind kind) => kind == TaskKind.BalanceBot ? BalanceBot : CartpoleRail;

    /// <summary>
    /// The robot's config as training runs it: its own wiring, rate, task and policy sizes, learning with
    /// <paramref name="algorithm"/> (its learning section's other settings kept), checkpoints into
    /// <paramref name="checkpointDirectory"/>, and the simulator's reset rule (it stands the robot up itself).
    /// </summary>
    public static RobotConfig TrainingConfig(string env, string? configPath, string algorithm, ulong seed, string checkpointDirectory)
    {
        (string text, string directory) = ReadConfig(env, configPath);
        JsonObject json;
        try
        {
            json = JsonNode.Parse(text)!.AsObject();
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException)
        {
            throw new UsageException($"{configPath}: not a JSON object: {e.Message}");
        }
        if (json["policy"] is JsonObject policy)
        {
            policy["seed"] = seed;
            policy.Remove("checkpoint"); // training starts from a fresh policy
        }
        var learning = json["learning"] is JsonObject given ? (JsonObject)given.DeepClone() : new JsonObject();
        learning["algorithm"] = algorithm;
        learning["checkpointDirectory"] = checkpointDirectory;
        learning["resetHoldSeconds"] = 0;
        learning["resetUprightDeg"] = 15;
        learning["resetStillRadPerS"] = 3;
        json["learning"] = learning;
        var loaded = ConfigLoader.Parse(configPath!, json.ToJsonString(), directory);
        if (!loaded.Ok) throw new UsageException(loaded.Errors[0].Format(configPath!));
        return loaded.Config!;
    }

    /// <summary>The robot's config as it is (for evaluation: the policy sizes and the task).</summary>
    public static RobotConfig Config(string env, string? configPath)
    {
        (string text, string directory) = ReadConfig(env, configPath);
        var loaded = ConfigLoader.Parse(configPath!, text, directory);
        if (!loaded.Ok) throw new UsageException(loaded.Errors[0].Format(configPath!));
        return loaded.Config!;
    }

    private static (string Text, string Directory) ReadConfig(string env, string? configPath)
    {
        if (string.IsNullOrWhiteSpace(configPath))
            throw new UsageException($"--env {env} is the robot a controller config describes: give it with --config (e.g. firmware-config/{env}.sim.json)");
        string text;
        try
        {
            text = File.ReadAllText(configPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new UsageException($"--config '{configPath}' cannot be read: {e.Message}");
        }
        string directory = Path.GetDirectoryName(Path.GetFullPath(configPath)) ?? ".";
        var loaded = ConfigLoader.Parse(configPath, text, directory);
        if (!loaded.Ok) throw new UsageException(loaded.Errors[0].Format(configPath));
        string kind = TaskName(loaded.Config!.Task.Kind);
        if (kind != env) throw new UsageException($"--config '{configPath}' describes a {kind} robot, not --env {env}");
        return (text, directory);
    }

    /// <summary>The physics the robot is simulated with; its robot must be <paramref name="env"/>.</summary>
    public static RobotPhysicsConfig Physics(string env, string? physicsPath)
    {
        RobotPhysicsConfig physics;
        try
        {
            physics = physicsPath is null ? RobotPhysicsConfigLoader.LoadRobot(env) : RobotPhysicsConfigLoader.Load(physicsPath);
        }
        catch (RobotPhysicsConfigException e)
        {
            throw new UsageException($"--physics: {e.Message}");
        }
        if (physics.Robot != env) throw new UsageException($"--physics '{physicsPath}' simulates a {physics.Robot}, not --env {env}");
        return physics;
    }

    /// <summary>
    /// Trains for exactly <paramref name="steps"/> control steps and leaves the learner's checkpoint at
    /// <paramref name="checkpointPath"/>; <paramref name="onUpdate"/> sees each update's progress.
    /// </summary>
    public static void Train(RobotConfig config, RobotPhysicsConfig physics, bool randomize, long steps, ulong seed, string workDirectory,
        string checkpointPath, TextWriter output, Action<TrainingProgress> onUpdate)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(onUpdate);
        int batch = config.Learning!.BatchSteps ?? new LearningOptions().BatchSteps;
        int iterations = (int)Math.Max(1, steps / batch);
        var wall = Stopwatch.StartNew();
        using (var training = new InProcessTraining(config, physics, seed, randomize, workDirectory, output))
        {
            void Drain(InProcessTraining t)
            {
                while (t.Events.TryTakeUpdate(out LearnerUpdate u))
                {
                    onUpdate(new TrainingProgress(t.Steps, steps, (int)u.Episodes, (int)u.Update, iterations, u.MeanReturn,
                        new UpdateDiagnostics(u.PolicyLoss, u.ValueLoss, u.Entropy, u.ApproxKl, u.ClipFraction, u.ExplainedVariance, float.NaN, 0),
                        u.DurationMs, t.Steps / Math.Max(1e-9, wall.Elapsed.TotalSeconds)));
                }
            }
            training.Run(steps, t =>
            {
                Drain(t);
                return false;
            });
            Drain(training);
            training.SaveCheckpoint();
        }
        File.Copy(Path.Combine(config.Learning.CheckpointDirectory!, LearnerCheckpoints.LatestName), checkpointPath, overwrite: true);
    }

    /// <summary>
    /// Mean return of the checkpoint's deterministic policy (mean action) over <paramref name="episodes"/>
    /// episodes of the controller's loop on the nominal simulated robot, the first reset seeded by <paramref name="seed"/>.
    /// </summary>
    public static double Evaluate(RobotConfig config, RobotPhysicsConfig physics, string checkpoint, int episodes, ulong seed, double[]? returns = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        using var environment = new BalanceBotEnvironment(config, physics, seed, randomizeOnReset: false);
        IControlTask task = ControlTasks.Create(config);
        var policy = ControlPolicy.Load(checkpoint, task.ObservationSize, task.ActionSize, config.Policy.HiddenSizes, deterministic: true);
        var loop = new ControlLoop(environment.Io, task, new PolicyExchange(policy), new SafetySupervisor(config.Safety, config.ControlRateHz, task.ActionSize),
            config.ControlRateHz, config.Task.MaxEpisodeSteps, config.Policy.Seed, episodeReset: new SimulatorReset(environment.ResetRobot));
        long period = (long)Math.Round(Stopwatch.Frequency / config.ControlRateHz);
        // Each episode ends within its step limit; a few steps more for the reset between episodes.
        long maxSteps = (long)episodes * (config.Task.MaxEpisodeSteps + 8);
        double sum = 0;
        long seen = 0;
        for (long i = 0; i < maxSteps && seen < episodes; i++)
        {
            loop.Step(i * period);
            if (loop.Counters.Episodes != seen)
            {
                double r = loop.Counters.LastEpisodeReturn;
                if (returns is not null) returns[seen] = r;
                sum += r;
                seen++;
            }
        }
        if (seen < episodes)
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"only {seen} of {episodes} evaluation episodes ended within {maxSteps} steps (safety: {loop.Safety.Cause})"));
        return sum / episodes;
    }

    /// <summary>Deletes the learner's working checkpoints once the policy file has been copied out.</summary>
    public static void RemoveWorkDirectory(string directory)
    {
        try
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left behind: harmless, and the policy file is already in place.
        }
    }
}
