using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using RobotPG.Learning.Algorithms;
using RobotPG.Sim.Robots;
using RobotPG.Sim.Training;

namespace RobotPG.Sim.Cli;

/// <summary>
/// <c>robotpg-sim robot-seconds --seeds 5 [--first-seed 1] [--scenarios scratch,body,deadband] [--batch 256]
/// [--learning-rate 0.001|preset] [--initial-log-std s] [--replay-batches K] [--pretrain-randomization none|wide|f] [--pretrain-steps n] [--budget-steps 60000] [--out dir]</c>: the robot time the on-device learner needs to
/// balance from scratch and to recover after a body change (<see cref="RobotSecondsBenchmark"/>), one line per run,
/// then the table of medians, minima and maxima over the seeds.
/// </summary>
public static class RobotSecondsCommand
{
    public static Command Create()
    {
        var seeds = new Option<string>("--seeds") { Description = "Number of seeds (runs per scenario).", DefaultValueFactory = _ => "5" };
        var firstSeed = new Option<string>("--first-seed") { Description = "The first seed; the others follow it.", DefaultValueFactory = _ => "1" };
        var scenarios = new Option<string>("--scenarios")
        {
            Description = "Comma-separated: scratch (learn to balance from an untrained policy), body (pre-trained, then 2.5× mass and 0.4× motor torque), deadband (pre-trained, then motor deadband 0.03 → 0.15 duty).",
            DefaultValueFactory = _ => string.Join(",", RobotSecondsBenchmark.Scenarios),
        };
        // Defaults: the fastest settings measured (README); --batch 1024 --learning-rate preset is the stock on-device learner,
        // --pretrain-randomization none the pre-training on the nominal body only.
        var batch = new Option<string>("--batch") { Description = "Transitions per update on the robot (≥ 64).", DefaultValueFactory = _ => "256" };
        var lr = new Option<string?>("--learning-rate") { Description = "Policy learning rate on the robot ('preset': the algorithm's own).", DefaultValueFactory = _ => "0.001" };
        var initialLogStd = new Option<string?>("--initial-log-std") { Description = "learning.initialLogStd of the robot's learner (a fresh policy's action-noise log std; default: 0)." };
        var replay = new Option<string>("--replay-batches") { Description = "learning.replayBatches of the robot's learner: each update trains on the last K batches, importance-weighted (1: on-policy; at most 8).", DefaultValueFactory = _ => "1" };
        var budget = new Option<string>("--budget-steps") { Description = "Control steps a run may take before it counts as not reached.", DefaultValueFactory = _ => "60000" };
        var pretrainRandomization = new Option<string?>("--pretrain-randomization")
        {
            Description = "Pre-training's domain randomisation at every reset: 'none' (the nominal body), 'wide' (mass 0.9–3×, torque 0.35–1.1×, deadband 2–20 %, IMU tilt ±3°), a fraction f (mass and motor constants within ±f) or a physics file's randomization object as JSON, e.g. '{\"massScale\":[0.9,3]}'.",
            DefaultValueFactory = _ => "wide",
        };
        var pretrainSteps = new Option<string>("--pretrain-steps") { Description = "Control steps of the pre-training (on the nominal body it stops once its last 10 episodes reach the cap).", DefaultValueFactory = _ => "300000" };
        var output = new Option<string?>("--out") { Description = "Directory for the runs' checkpoints and configs (default: a new temporary directory, deleted at the end)." };
        var command = new Command("robot-seconds", "Measure the robot time (control steps × period) the on-device learner needs, in process, over several seeds.");
        foreach (Option option in (Option[])[seeds, firstSeed, scenarios, batch, lr, initialLogStd, replay, budget, pretrainRandomization, pretrainSteps, output]) command.Options.Add(option);
        command.SetAction(p => Run(p.GetValue(seeds), p.GetValue(firstSeed), p.GetValue(scenarios), p.GetValue(batch), p.GetValue(lr), p.GetValue(initialLogStd), p.GetValue(replay), p.GetValue(budget),
            p.GetValue(pretrainRandomization), p.GetValue(pretrainSteps), p.GetValue(output), p.InvocationConfiguration.Output, p.InvocationConfiguration.Error));
        return command;
    }

    public static int Run(string? seedsText, string? firstSeedText, string? scenariosText, string? batchText, string? lrText, string? initialLogStdText, string? replayText, string? budgetText,
        string? pretrainRandomizationText, string? pretrainStepsText, string? outDir, TextWriter output, TextWriter error)
    {
        RobotSecondsSettings settings;
        int seedCount;
        ulong firstSeed;
        string[] scenarios;
        string directory;
        bool temporary = outDir is null;
        try
        {
            seedCount = (int)Math.Min(CommandArguments.PositiveInt64(seedsText, "--seeds"), 100);
            firstSeed = CommandArguments.Seed(firstSeedText, "--first-seed");
            scenarios = (scenariosText ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (scenarios.Length == 0 || !scenarios.All(RobotSecondsBenchmark.Scenarios.Contains))
                throw new UsageException($"--scenarios: '{scenariosText}' must list some of {string.Join(", ", RobotSecondsBenchmark.Scenarios)}");
            long batch = CommandArguments.PositiveInt64(batchText, "--batch");
            if (batch is < 64 or > 65_536) throw new UsageException($"--batch: {batch} must be in 64..65536");
            settings = new RobotSecondsSettings
            {
                BatchSteps = (int)batch,
                LearningRate = lrText is null or "preset" ? null : CommandArguments.PositiveDouble(lrText, "--learning-rate"),
                InitialLogStd = InitialLogStd(initialLogStdText),
                ReplayBatches = ReplayBatches(replayText),
                BudgetSteps = CommandArguments.PositiveInt64(budgetText, "--budget-steps"),
                PretrainRandomization = PretrainRanges(pretrainRandomizationText),
                PretrainSteps = CommandArguments.PositiveInt64(pretrainStepsText, "--pretrain-steps"),
            };
            directory = temporary
                ? Directory.CreateTempSubdirectory("robotpg-robot-seconds-").FullName
                : CommandArguments.WritableDirectory(outDir, "--out");
        }
        catch (UsageException e)
        {
            error.WriteLine($"robotpg-sim robot-seconds: {e.Message}");
            return CommandArguments.ExitUsage;
        }

        var inv = CultureInfo.InvariantCulture;
        var runs = new List<RobotSecondsRun>();
        try
        {
            foreach (string scenario in scenarios)
            {
                for (int k = 0; k < seedCount; k++)
                {
                    ulong seed = firstSeed + (ulong)k;
                    var wall = Stopwatch.StartNew();
                    RobotSecondsRun r = RobotSecondsBenchmark.Run(scenario, seed, settings, RobotPhysicsConfigLoader.DefaultDirectory,
                        Path.Combine(directory, $"{scenario}-{seed}"));
                    runs.Add(r);
                    output.WriteLine(string.Create(inv,
                        $"{scenario} seed {seed}: {(r.Reached ? "reached" : "NOT reached")} after {r.StepsToGoal} steps = {r.SecondsToGoal:F1} robot s ({r.Seconds:F1} s with the {RobotSecondsBenchmark.GoalWindow} episodes showing it), {r.Falls} falls; return {r.ReturnBefore:F1} → {r.ReturnAfterChange:F1} → {r.ReturnReached:F1} ({wall.Elapsed.TotalSeconds:F1} s wall)"));
                    output.Flush();
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"robotpg-sim robot-seconds: cannot write into '{directory}': {e.Message}");
            return CommandArguments.ExitFailure;
        }
        finally
        {
            if (temporary)
            {
                try
                {
                    Directory.Delete(directory, recursive: true);
                }
                catch (IOException)
                {
                    // Left for the temp cleaner.
                }
            }
        }
        output.WriteLine();
        output.Write(RobotSecondsBenchmark.Table(runs, settings));
        return CommandArguments.ExitOk;
    }

    private static int ReplayBatches(string? text)
    {
        long k = CommandArguments.PositiveInt64(text, "--replay-batches");
        return k <= PpoHyperparameters.MaxReplayBatches ? (int)k
            : throw new UsageException($"--replay-batches: {k} must be in 1..{PpoHyperparameters.MaxReplayBatches}");
    }

    private static double? InitialLogStd(string? text)
    {
        if (text is null) return null;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !(value is >= -5 and <= 1))
            throw new UsageException($"--initial-log-std: '{text}' must be a number in [-5, 1]");
        return value;
    }

    private static RandomizationConfig? PretrainRanges(string? text)
    {
        if (text is null or "none") return null;
        if (text == "wide") return RobotSecondsBenchmark.Wide;
        if (text.StartsWith('{'))
        {
            try
            {
                var ranges = RobotPhysicsConfigLoader.ParseRandomization(text, "--pretrain-randomization");
                var body = RobotPhysicsConfigLoader.LoadRobot("balance-bot");
                body.Randomization = ranges;
                return RobotPhysicsConfigLoader.Validate(body) is string problem ? throw new UsageException($"--pretrain-randomization: {problem}") : ranges;
            }
            catch (RobotPhysicsConfigException e)
            {
                throw new UsageException(e.Message);
            }
        }
        double f = CommandArguments.PositiveDouble(text, "--pretrain-randomization");
        if (f >= 1) throw new UsageException($"--pretrain-randomization: '{text}' must be none, wide or a fraction below 1");
        return RobotSecondsBenchmark.Symmetric(f);
    }
}
