using System.Globalization;
using System.Text.Json.Nodes;
using RobotPG.Controller.Configuration;
using RobotPG.Controller.Learning;
using RobotPG.Sim.Demo;
using RobotPG.Sim.Robots;
using RobotPG.Sim.Serving;

namespace RobotPG.Sim.Training;

/// <summary>What the robot-seconds benchmark measures and with which learner settings.</summary>
public sealed record RobotSecondsSettings
{
    public string Algorithm { get; init; } = "ppo";

    /// <summary>Transitions per update: at 50 Hz each 50 transitions are one second of robot time.</summary>
    public int BatchSteps { get; init; } = 1024;

    /// <summary>Policy learning rate; null: the algorithm's preset.</summary>
    public double? LearningRate { get; init; }

    /// <summary>learning.replayBatches of the robot's runs: each update trains on the last K batches (1: on-policy); the pre-training keeps 1.</summary>
    public int ReplayBatches { get; init; } = 1;

    /// <summary>learning.initialLogStd of the robot's runs (null: the network's 0); the pre-training keeps the preset.</summary>
    public double? InitialLogStd { get; init; }

    /// <summary>Largest control-step count a run may take before it counts as not reached.</summary>
    public long BudgetSteps { get; init; } = 60_000;

    /// <summary>Fine-tuning has recovered when the mean return of the last 10 episodes reaches this fraction of the pre-change one.</summary>
    public double RecoveryFraction { get; init; } = 0.9;

    /// <summary>The motors' deadband duty (fraction of full PWM) of the second changed body; nominal 0.03.</summary>
    public double ChangedDeadbandDuty { get; init; } = 0.15;

    /// <summary>
    /// Domain randomisation of the pre-training, drawn at every reset: null = the nominal body (the physics file's
    /// ±10 % mass and motor, ±30 % friction are not drawn); else these ranges (<see cref="RobotSecondsBenchmark.Wide"/>,
    /// or <see cref="RobotSecondsBenchmark.Symmetric"/>).
    /// </summary>
    public RandomizationConfig? PretrainRandomization { get; init; }

    /// <summary>Largest control-step count of the pre-training (it stops earlier once its last 10 episodes reach the cap).</summary>
    public long PretrainSteps { get; init; } = 300_000;
}

/// <summary>One run of one scenario.</summary>
/// <param name="Scenario">"scratch", "body" (2.5× mass, 0.4× torque), "deadband" (3 % → 15 %) or "imu-tilt" (the IMU mounted 6° off).</param>
/// <param name="Reached">Whether the goal was met within the budget.</param>
/// <param name="StepsToGoal">Control steps on the robot before the first window of <see cref="RobotSecondsBenchmark.GoalWindow"/>
/// consecutive episodes that meets the goal: the robot time the learning took (the budget when not reached).</param>
/// <param name="Steps">Control steps until that window's last episode ended: the learning plus the episodes that show it.</param>
/// <param name="Falls">Episodes that ended before the cap (the robot fell) during those steps.</param>
/// <param name="ReturnBefore">Scratch: the first update's mean return; fine-tuning: the pre-change (nominal) mean return.</param>
/// <param name="ReturnAfterChange">Fine-tuning: the pre-trained policy's mean return on the changed body (first update); NaN for scratch.</param>
/// <param name="ReturnReached">Mean return of the goal window (the last 10 episodes when not reached).</param>
public readonly record struct RobotSecondsRun(
    string Scenario, ulong Seed, bool Reached, long StepsToGoal, long Steps, long Falls, double ReturnBefore, double ReturnAfterChange, double ReturnReached)
{
    /// <summary>Robot time the learning took: <see cref="StepsToGoal"/> × the control period.</summary>
    public double SecondsToGoal => StepsToGoal / DemoRun.ControlRateHz;

    /// <summary>Robot time including the window that shows the goal: <see cref="Steps"/> × the control period.</summary>
    public double Seconds => Steps / DemoRun.ControlRateHz;
}

/// <summary>
/// Robot time to learn on the robot, measured in process (<see cref="InProcessTraining"/>: the controller's loop,
/// task, safety filter and on-device learner over the simulated balance-bot, no MQTT): robot seconds are control
/// steps × period. The goal is met by a window of 10 consecutive episodes — from scratch: all ten reach the cap
/// (10 s of balance); fine-tuning (a pre-trained policy moved to a changed body, domain randomisation at every reset
/// on): their mean return is back at 0.9× the pre-change one. The learning took the robot time before the first
/// such window; the window itself (at least 100 s from scratch) is what shows it, reported beside it. One rule for
/// every scenario, judged per episode, so neither a lucky first episode nor the learner's update boundaries count.
/// </summary>
public static class RobotSecondsBenchmark
{
    public static readonly string[] Scenarios = ["scratch", "body", "deadband", "imu-tilt"];

    /// <summary>The IMU mounting tilt of the "imu-tilt" change, degrees: twice the ±3° that <see cref="Wide"/> pre-trains over.</summary>
    public const double ChangedImuTiltDeg = 6;

    /// <summary>Consecutive episodes that must meet the goal together.</summary>
    public const int GoalWindow = 10;

    /// <summary>Control steps of the pre-change measurement: the pre-trained policy on the nominal robot, no learning (about 10 episodes).</summary>
    public const long PreChangeSteps = 5_000;

    /// <summary>
    /// Pre-training wide enough that the changes are a small step: body mass 0.9–3×, torque constant 0.35–1.1×,
    /// motor deadband 2–20 % duty, the IMU tilted within ±3°, friction ±30 %, resistance ±10 %.
    /// </summary>
    public static RandomizationConfig Wide => new()
    {
        Mass = 0.1, Friction = 0.3, Motor = 0.1, MassScale = [0.9, 3.0], TorqueScale = [0.35, 1.1], DeadbandDuty = [0.02, 0.2], ImuTiltDeg = 3,
    };

    /// <summary>Mass, motor torque constant and resistance within ±<paramref name="fraction"/>, friction ±30 %.</summary>
    public static RandomizationConfig Symmetric(double fraction) => new() { Mass = fraction, Friction = 0.3, Motor = fraction };

    /// <summary>The ranges in words (the table's footnote).</summary>
    public static string Describe(RandomizationConfig? r)
    {
        if (r is null) return "on the nominal body";
        var inv = CultureInfo.InvariantCulture;
        string mass = r.MassScale is [var ml, var mh] ? string.Create(inv, $"mass {ml}–{mh}×") : string.Create(inv, $"mass ±{r.Mass}");
        string torque = r.TorqueScale is [var tl, var th] ? string.Create(inv, $"torque {tl}–{th}×") : string.Create(inv, $"motor ±{r.Motor}");
        string deadband = r.DeadbandDuty is [var dl, var dh] ? string.Create(inv, $", deadband {dl * 100}–{dh * 100} %") : "";
        string tilt = r.ImuTiltDeg > 0 ? string.Create(inv, $", IMU tilt ±{r.ImuTiltDeg}°") : "";
        return $"randomised ({mass}, {torque}{deadband}{tilt}, friction ±{r.Friction.ToString(inv)})";
    }

    /// <summary>Runs one scenario for one seed in <paramref name="workDirectory"/> (created; checkpoints and configs go there).</summary>
    public static RobotSecondsRun Run(string scenario, ulong seed, RobotSecondsSettings settings, string physicsDirectory, string workDirectory)
    {
        ArgumentNullException.ThrowIfNull(settings);
        Directory.CreateDirectory(workDirectory);
        RobotPhysicsConfig nominal = RobotPhysicsConfigLoader.LoadRobot("balance-bot", physicsDirectory);
        if (scenario == "scratch")
            return Learn(scenario, seed, settings, nominal, randomize: false, checkpoint: null, Path.Combine(workDirectory, "scratch"), goalReturn: double.NaN, nominalReturn: double.NaN);

        // Pre-training in simulation with the preset learner (the policy the robot would arrive with).
        string pretrainDir = Path.Combine(workDirectory, "pretrain");
        Directory.CreateDirectory(pretrainDir);
        var pretrainConfig = DemoRun.ParseConfig(Json(seed, new RobotSecondsSettings { Algorithm = settings.Algorithm }, null), pretrainDir);
        RobotPhysicsConfig pretrainBody = settings.PretrainRandomization is { } ranges ? Randomized(physicsDirectory, ranges) : nominal;
        using (var pretrain = new InProcessTraining(pretrainConfig, pretrainBody, seed, randomizeOnReset: settings.PretrainRandomization is not null,
            pretrainDir, TextWriter.Null))
        {
            // On one body, until it balances; over randomised bodies the whole budget (ten good episodes can be ten easy bodies).
            pretrain.Run(settings.PretrainSteps, settings.PretrainRandomization is null ? t => t.Learner.MeanEpisodeLength >= DemoRun.MaxEpisodeSteps : null);
            pretrain.SaveCheckpoint();
        }
        string checkpoint = Path.Combine(pretrainDir, "checkpoints", LearnerCheckpoints.LatestName);

        // The pre-change return: the arriving policy on the nominal robot (randomised at every reset) before the change,
        // with no update in the window (the batch is larger than it).
        string nominalDir = Path.Combine(workDirectory, "nominal");
        Directory.CreateDirectory(nominalDir);
        double nominalReturn;
        var nominalConfig = DemoRun.ParseConfig(Json(seed, settings with { BatchSteps = (int)PreChangeSteps * 2 }, checkpoint), nominalDir);
        using (var before = new InProcessTraining(nominalConfig, nominal, seed + 2000, randomizeOnReset: true, nominalDir, TextWriter.Null))
        {
            before.Run(PreChangeSteps);
            nominalReturn = before.Learner.MeanReturn;
        }
        RobotPhysicsConfig changed = Changed(scenario, physicsDirectory, settings);
        return Learn(scenario, seed, settings, changed, randomize: true, checkpoint, Path.Combine(workDirectory, scenario),
            settings.RecoveryFraction * nominalReturn, nominalReturn);
    }

    /// <summary>The changed body of a fine-tuning scenario.</summary>
    public static RobotPhysicsConfig Changed(string scenario, string physicsDirectory, RobotSecondsSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        string path = Path.Combine(physicsDirectory, "balance-bot.physics.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        switch (scenario)
        {
            case "body":
                json["body"]!["mass"] = json["body"]!["mass"]!.GetValue<double>() * 2.5;
                json["motor"]!["torqueConstant"] = json["motor"]!["torqueConstant"]!.GetValue<double>() * 0.4;
                break;
            case "deadband":
                json["motor"]!["deadbandDuty"] = settings.ChangedDeadbandDuty;
                break;
            case "imu-tilt":
                json["imu"]!["tiltDeg"] = ChangedImuTiltDeg;
                break;
            default:
                throw new ArgumentException($"unknown scenario '{scenario}' (one of {string.Join(", ", Scenarios)})", nameof(scenario));
        }
        return RobotPhysicsConfigLoader.Parse(json.ToJsonString(), path);
    }

    private static RobotPhysicsConfig Randomized(string physicsDirectory, RandomizationConfig ranges)
    {
        RobotPhysicsConfig nominal = RobotPhysicsConfigLoader.LoadRobot("balance-bot", physicsDirectory);
        nominal.Randomization = ranges;
        string? problem = RobotPhysicsConfigLoader.Validate(nominal);
        return problem is null ? nominal : throw new ArgumentException($"pre-training randomisation: {problem}", nameof(ranges));
    }

    private static JsonObject Json(ulong seed, RobotSecondsSettings settings, string? checkpoint)
    {
        var json = DemoRun.ConfigJson(settings.Algorithm, seed, SimClockMode.Lockstep, port: 1883, checkpoint);
        var learning = json["learning"]!.AsObject();
        learning["batchSteps"] = settings.BatchSteps;
        learning["checkpointEveryEpisodes"] = 0;
        if (settings.LearningRate is double lr) learning["learningRate"] = lr;
        if (settings.InitialLogStd is double logStd) learning["initialLogStd"] = logStd;
        if (settings.ReplayBatches != 1) learning["replayBatches"] = settings.ReplayBatches;
        json["telemetry"]!["enabled"] = false;
        return json;
    }

    private static RobotSecondsRun Learn(string scenario, ulong seed, RobotSecondsSettings settings, RobotPhysicsConfig physics, bool randomize,
        string? checkpoint, string directory, double goalReturn, double nominalReturn)
    {
        Directory.CreateDirectory(directory);
        RobotConfig config = DemoRun.ParseConfig(Json(seed, settings, checkpoint), directory);
        // The robot's own seed differs from the pre-training one: other resets, other randomised bodies.
        using var training = new InProcessTraining(config, physics, seed + 1000, randomize, directory, TextWriter.Null);
        var goal = new GoalWindowTracker(scratch: double.IsNaN(goalReturn), goalReturn);
        double first = double.NaN;
        training.Run(settings.BudgetSteps, t =>
        {
            while (t.Events.TryTakeEpisode(out var episode) && !goal.Reached) goal.Add(episode.Return, episode.Length);
            if (double.IsNaN(first)) first = t.Learner.MeanReturn;
            return goal.Reached;
        });
        while (!goal.Reached && training.Events.TryTakeEpisode(out var e)) goal.Add(e.Return, e.Length);
        bool scratchRun = double.IsNaN(goalReturn);
        return new RobotSecondsRun(scenario, seed, goal.Reached, goal.Reached ? goal.StepsBeforeWindow : training.Steps,
            goal.Reached ? goal.StepsThroughWindow : training.Steps, goal.Falls,
            scratchRun ? first : nominalReturn, scratchRun ? double.NaN : first, goal.WindowMeanReturn);
    }

    /// <summary>The table: one row per scenario with median, min and max robot seconds and falls over the seeds.</summary>
    public static string Table(IReadOnlyList<RobotSecondsRun> runs, RobotSecondsSettings settings)
    {
        ArgumentNullException.ThrowIfNull(runs);
        ArgumentNullException.ThrowIfNull(settings);
        var text = new System.Text.StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        text.AppendLine(inv, $"| scenario | seeds | reached | robot s to goal, median | min | max | with the {GoalWindow} episodes showing it, median | falls median | return before → after change → goal window (medians) |");
        text.AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (string scenario in Scenarios)
        {
            var rows = runs.Where(r => r.Scenario == scenario).ToArray();
            if (rows.Length == 0) continue;
            double[] seconds = [.. rows.Select(r => r.Reached ? r.SecondsToGoal : double.PositiveInfinity).Order()];
            double[] shown = [.. rows.Select(r => r.Reached ? r.Seconds : double.PositiveInfinity).Order()];
            double[] falls = [.. rows.Select(r => (double)r.Falls).Order()];
            string seeds = string.Join(" ", rows.Select(r => r.Seed.ToString(inv)));
            text.AppendLine(inv,
                $"| {scenario} | {seeds} | {rows.Count(r => r.Reached)}/{rows.Length} | {Shown(Median(seconds))} | {Shown(seconds[0])} | {Shown(seconds[^1])} | {Shown(Median(shown))} | {Median(falls):F0} | " +
                $"{Return(Median(rows.Select(r => r.ReturnBefore)))} → {Return(Median(rows.Select(r => r.ReturnAfterChange)))} → {Return(Median(rows.Select(r => r.ReturnReached)))} |");
        }
        text.AppendLine(inv, $"(batch {settings.BatchSteps} transitions = {settings.BatchSteps / DemoRun.ControlRateHz:F1} robot s per update, {settings.Algorithm}, learning rate {(settings.LearningRate is double lr ? lr.ToString(inv) : "preset")}{(settings.InitialLogStd is double ls ? $", initial log std {ls.ToString(inv)}" : "")}{(settings.ReplayBatches > 1 ? $", replay of the last {settings.ReplayBatches} batches" : "")}, pre-training {Describe(settings.PretrainRandomization)}; ∞ = not reached in {settings.BudgetSteps / DemoRun.ControlRateHz:F0} s)");
        return text.ToString();
    }

    public static double Median(IEnumerable<double> values)
    {
        double[] sorted = [.. values.Order()];
        if (sorted.Length == 0) return double.NaN;
        int m = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
    }

    // Scratch runs have no return after a change: "–".
    private static string Return(double value) => double.IsNaN(value) ? "–" : value.ToString("F1", CultureInfo.InvariantCulture);

    private static string Shown(double seconds) => double.IsPositiveInfinity(seconds) ? "∞" : seconds.ToString("F1", CultureInfo.InvariantCulture);
}

/// <summary>
/// Finds, episode by episode, the first window of <see cref="RobotSecondsBenchmark.GoalWindow"/> consecutive episodes that
/// meets the goal (from scratch: every one at the cap; else a mean return of at least the goal) and the robot time
/// before it and through it (episode lengths summed: the robot's steps are its episodes' steps).
/// </summary>
public sealed class GoalWindowTracker(bool scratch, double goalReturn)
{
    private readonly Queue<(double Return, int Length)> _window = new();
    private double _windowReturn;
    private int _windowCapped;

    public bool Reached { get; private set; }

    /// <summary>Steps of the episodes before the current window.</summary>
    public long StepsBeforeWindow { get; private set; }

    /// <summary>Steps through the current window's last episode.</summary>
    public long StepsThroughWindow { get; private set; }

    /// <summary>Episodes that ended before the cap (the robot fell).</summary>
    public long Falls { get; private set; }

    /// <summary>Mean return of the current window (NaN before the first episode).</summary>
    public double WindowMeanReturn => _window.Count == 0 ? double.NaN : _windowReturn / _window.Count;

    /// <summary>One finished episode; ignored once the goal was reached.</summary>
    public void Add(double episodeReturn, int length)
    {
        if (Reached) return;
        bool capped = length >= DemoRun.MaxEpisodeSteps;
        if (!capped) Falls++;
        _window.Enqueue((episodeReturn, length));
        _windowReturn += episodeReturn;
        if (capped) _windowCapped++;
        StepsThroughWindow += length;
        if (_window.Count > RobotSecondsBenchmark.GoalWindow)
        {
            var (r, l) = _window.Dequeue();
            _windowReturn -= r;
            if (l >= DemoRun.MaxEpisodeSteps) _windowCapped--;
            StepsBeforeWindow += l;
        }
        if (_window.Count == RobotSecondsBenchmark.GoalWindow)
            Reached = scratch ? _windowCapped == RobotSecondsBenchmark.GoalWindow : WindowMeanReturn >= goalReturn;
    }
}
