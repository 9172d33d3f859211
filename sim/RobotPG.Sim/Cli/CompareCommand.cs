using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Environments;
using RobotPG.Learning.Training;
using RobotPG.Sim.Environments;
using RobotPG.Sim.Training;

namespace RobotPG.Sim.Cli;

/// <summary>
/// <c>robotpg-sim compare --env cartpole --algos reinforce,vpg,a2c,ppo,ppo-kl,npg,trpo --steps 100000 --out DIR</c>:
/// trains each algorithm with its preset on the same task and seed, evaluates the deterministic policy
/// every <c>--eval-every</c> steps, and writes compare.svg (every learning curve on one plot),
/// compare.csv (all curves) and summary.csv (steps and wall seconds to the threshold, ms per update,
/// final evaluation), and prints the summary table.
/// </summary>
public static class CompareCommand
{
    public const string SvgFileName = "compare.svg", CurvesFileName = "compare.csv", SummaryFileName = "summary.csv";
    private const int EvaluationEpisodes = 10;

    public static Command Create()
    {
        var env = new Option<string>("--env") { Description = $"Environment: {string.Join(", ", EnvironmentCatalog.Names)}.", Required = true };
        var algos = new Option<string>("--algos") { Description = $"Comma-separated algorithms: {string.Join(", ", AlgorithmRegistry.Names)}.", Required = true };
        var steps = new Option<string>("--steps") { Description = "Environment steps per algorithm (> 0).", DefaultValueFactory = _ => "100000" };
        var seed = new Option<string>("--seed") { Description = "Seed of every run.", DefaultValueFactory = _ => "1" };
        var evalEvery = new Option<string>("--eval-every") { Description = "Steps between deterministic evaluations (> 0).", DefaultValueFactory = _ => "8192" };
        var threshold = new Option<string?>("--threshold") { Description = "Evaluation return that counts as solved (default: 475 cartpole, -200 pendulum, 90 mountaincar)." };
        var output = new Option<string>("--out") { Description = "Directory for compare.svg, compare.csv and summary.csv.", Required = true };
        var command = new Command("compare", "Train several algorithms on one task and plot their learning curves together.");
        foreach (Option o in new Option[] { env, algos, steps, seed, evalEvery, threshold, output }) command.Options.Add(o);
        command.SetAction(parseResult => Run(parseResult.GetValue(env), parseResult.GetValue(algos), parseResult.GetValue(steps),
            parseResult.GetValue(seed), parseResult.GetValue(evalEvery), parseResult.GetValue(threshold), parseResult.GetValue(output),
            parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error));
        return command;
    }

    /// <summary>One algorithm's run: (steps, mean training return, deterministic eval or NaN) per iteration, and timings.</summary>
    public sealed record AlgorithmRun(string Algorithm, List<(long Steps, double MeanReturn, double Eval)> Curve, long StepsToThreshold,
        double SecondsToThreshold, double MillisecondsPerUpdate, double FinalEval, double WallSeconds);

    public static int Run(string? envName, string? algoList, string? stepsText, string? seedText, string? evalEveryText, string? thresholdText,
        string? outDir, TextWriter output, TextWriter error)
    {
        string directory;
        long steps, evalEvery;
        ulong seed;
        double threshold;
        string[] names;
        try
        {
            _ = CommandArguments.Environment(envName, 0); // compare runs the Gymnasium-style tasks only
            steps = CommandArguments.PositiveInt64(stepsText, "--steps");
            evalEvery = CommandArguments.PositiveInt64(evalEveryText, "--eval-every");
            seed = CommandArguments.Seed(seedText, "--seed");
            threshold = thresholdText is null ? DefaultThreshold(envName!) : CommandArguments.Numbers(thresholdText, 1, "--threshold")[0];
            names = (algoList ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (names.Length == 0) throw new UsageException("--algos needs at least one algorithm");
            foreach (string name in names)
                if (!AlgorithmRegistry.Names.Contains(name))
                    throw new UsageException($"unknown algorithm '{name}' (known: {string.Join(", ", AlgorithmRegistry.Names)})");
            directory = CommandArguments.WritableDirectory(outDir, "--out");
        }
        catch (UsageException e)
        {
            error.WriteLine($"robotpg-sim compare: {e.Message}");
            return CommandArguments.ExitUsage;
        }

        var runs = new List<AlgorithmRun>();
        foreach (string name in names)
        {
            output.WriteLine($"{name}: training {steps} steps on {envName} ...");
            AlgorithmRun run = Train(name, envName!, steps, seed, evalEvery, threshold);
            runs.Add(run);
            output.WriteLine($"{name}: eval {run.FinalEval:F1}, threshold {(run.StepsToThreshold > 0 ? $"reached at {run.StepsToThreshold} steps ({run.SecondsToThreshold:F1} s)" : "not reached")}, {run.MillisecondsPerUpdate:F1} ms/update, {run.WallSeconds:F1} s");
        }
        string summary = Summary(runs, threshold);
        try
        {
            File.WriteAllText(Path.Combine(directory, SvgFileName), Svg(runs, $"{envName}: mean return of the last 10 episodes, seed {seed}"));
            File.WriteAllText(Path.Combine(directory, CurvesFileName), Curves(runs));
            File.WriteAllText(Path.Combine(directory, SummaryFileName), summary);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"robotpg-sim compare: cannot write results into '{directory}': {e.Message}");
            return CommandArguments.ExitFailure;
        }
        output.Write(summary);
        foreach (string file in (string[])[SvgFileName, CurvesFileName, SummaryFileName])
            output.WriteLine($"wrote {Path.Combine(directory, file)}");
        return CommandArguments.ExitOk;
    }

    public static double DefaultThreshold(string env) => env switch
    {
        EnvironmentCatalog.CartPole => 475,
        EnvironmentCatalog.Pendulum => -200,
        _ => 90,
    };

    /// <summary>Trains one algorithm, evaluating every <paramref name="evalEvery"/> steps; time to threshold counts training only.</summary>
    public static AlgorithmRun Train(string name, string env, long steps, ulong seed, long evalEvery, double threshold)
    {
        IEnvironment probe = EnvironmentCatalog.Create(env);
        IPolicyGradientAlgorithm algorithm = AlgorithmRegistry.Create(name, new AlgorithmContext(probe.ObservationSize, probe.ActionSize, env, seed));
        var environments = new IEnvironment[algorithm.Rollout.EnvironmentCount];
        for (int e = 0; e < environments.Length; e++) environments[e] = EnvironmentCatalog.Create(env, seed + (ulong)e);
        var trainer = new Trainer(algorithm, environments, steps, seed);
        IEnvironment evaluation = EnvironmentCatalog.Create(env);
        var curve = new List<(long, double, double)>();
        var training = new Stopwatch();
        var wall = Stopwatch.StartNew();
        long nextEval = evalEvery, stepsToThreshold = 0;
        double secondsToThreshold = double.NaN, updateMs = 0, eval = double.NaN;
        while (!trainer.Finished)
        {
            training.Start();
            TrainingProgress p = trainer.RunIteration();
            training.Stop();
            updateMs += p.UpdateMilliseconds;
            eval = double.NaN;
            if (p.Steps >= nextEval || trainer.Finished)
            {
                nextEval += evalEvery;
                // Evaluation starts from seeds the training never reset with.
                eval = PolicyEvaluation.Run(algorithm.Agent, evaluation, EvaluationEpisodes, seed + 1_000_000);
                if (stepsToThreshold == 0 && eval >= threshold)
                {
                    stepsToThreshold = p.Steps;
                    secondsToThreshold = training.Elapsed.TotalSeconds;
                }
            }
            curve.Add((p.Steps, p.MeanReturn, eval));
        }
        return new AlgorithmRun(name, curve, stepsToThreshold, secondsToThreshold, updateMs / trainer.Iteration, eval, wall.Elapsed.TotalSeconds);
    }

    public static string Summary(IReadOnlyList<AlgorithmRun> runs, double threshold)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append(inv, $"algorithm,steps_to_{threshold:G4},seconds_to_{threshold:G4},ms_per_update,final_eval,wall_seconds\n");
        foreach (AlgorithmRun r in runs)
            sb.Append(inv, $"{r.Algorithm},{(r.StepsToThreshold > 0 ? r.StepsToThreshold.ToString(inv) : "")},{(double.IsFinite(r.SecondsToThreshold) ? r.SecondsToThreshold.ToString("F2", inv) : "")},{r.MillisecondsPerUpdate.ToString("F2", inv)},{r.FinalEval.ToString("F1", inv)},{r.WallSeconds.ToString("F1", inv)}\n");
        return sb.ToString();
    }

    public static string Curves(IReadOnlyList<AlgorithmRun> runs)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder("algorithm,steps,mean_return,eval_return\n");
        foreach (AlgorithmRun r in runs)
            foreach (var (steps, mean, eval) in r.Curve)
                sb.Append(inv, $"{r.Algorithm},{steps},{(double.IsFinite(mean) ? mean.ToString("G7", inv) : "")},{(double.IsFinite(eval) ? eval.ToString("G7", inv) : "")}\n");
        return sb.ToString();
    }

    private static readonly string[] Colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

    /// <summary>Mean training return against steps, one coloured polyline and legend entry per algorithm.</summary>
    public static string Svg(IReadOnlyList<AlgorithmRun> runs, string title)
    {
        var range = new StepsReturnRange();
        foreach (AlgorithmRun r in runs)
            foreach (var (steps, mean, _) in r.Curve) range.Include(steps, mean);
        // Wider than a single curve: the right margin holds the legend.
        var plot = new ReturnPlot(width: 760, height: 460, right: 150, range);
        double legendX = plot.PlotLeft + plot.PlotWidth;

        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        plot.WriteFrame(sb, title, titleX: plot.PlotLeft + plot.PlotWidth / 2);
        for (int k = 0; k < runs.Count; k++)
        {
            string color = Colors[k % Colors.Length];
            sb.Append(inv, $"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.8\" points=\"");
            foreach (var (steps, mean, _) in runs[k].Curve)
                if (double.IsFinite(mean)) sb.Append(inv, $"{plot.X(steps):F1},{plot.Y(mean):F1} ");
            sb.Append("\"/>\n");
            double ly = plot.PlotTop + 10 + 18 * k;
            sb.Append(inv, $"<line x1=\"{legendX + 12}\" y1=\"{ly:F1}\" x2=\"{legendX + 36}\" y2=\"{ly:F1}\" stroke=\"{color}\" stroke-width=\"3\"/><text x=\"{legendX + 42}\" y=\"{ly + 4:F1}\">{ReturnPlot.Escape(runs[k].Algorithm)}</text>\n");
        }
        sb.Append("</svg>\n");
        return sb.ToString();
    }
}
