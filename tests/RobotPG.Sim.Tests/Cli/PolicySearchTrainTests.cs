using System.Globalization;
using System.Text.Json;
using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Environments;
using RobotPG.Learning.Estimators;
using RobotPG.Sim.Cli;
using RobotPG.Sim.Environments;
using RobotPG.Sim.Training;
using Xunit;
using Xunit.Abstractions;

namespace RobotPG.Sim.Tests.Cli;

/// <summary>
/// <c>train --algo fd|regression</c> on the point-mass LQR task, run in-process. The reference is the
/// finite-horizon LQR optimum by the Riccati recursion (double precision, independent of the code under
/// test) on the very start states the verb evaluates from: no policy can beat −mean s₀ᵀP₀s₀ there.
/// </summary>
public class PolicySearchTrainTests(ITestOutputHelper output)
{
    private const ulong Seed = 3;
    private const long Steps = 200_000;

    /// <summary>Mean optimal return over the evaluation episodes of train (seed + 1000000 first, then continuing resets).</summary>
    private static double OptimalEvaluationReturn(ulong seed, int episodes)
    {
        double dt = PointMass.Dt, q1 = PointMass.PositionCost, q2 = PointMass.VelocityCost, r = PointMass.ForceCost;
        double p11 = 0, p12 = 0, p22 = 0;
        for (int t = PointMass.MaxEpisodeSteps - 1; t >= 0; t--)
        {
            // P ← Q + AᵀPA − AᵀPB (R + BᵀPB)⁻¹ BᵀPA with A = [[1, dt], [0, 1]], B = [0, dt]ᵀ.
            double a11 = p11, a12 = p11 * dt + p12, a22 = p11 * dt * dt + 2 * p12 * dt + p22;
            double bpb = dt * dt * p22, bpa1 = dt * p12, bpa2 = dt * (p12 * dt + p22);
            double inv = 1 / (r + bpb);
            p11 = q1 + a11 - bpa1 * bpa1 * inv;
            p12 = a12 - bpa1 * bpa2 * inv;
            p22 = q2 + a22 - bpa2 * bpa2 * inv;
        }
        var env = new PointMass();
        float[] obs = new float[2];
        double total = 0;
        for (int k = 0; k < episodes; k++)
        {
            if (k == 0) env.Reset(obs, seed);
            else env.Reset(obs);
            double x = obs[0], v = obs[1];
            total -= p11 * x * x + 2 * p12 * x * v + p22 * v * v;
        }
        return total / episodes;
    }

    /// <summary>Return of μ = W s + b written out here (not through the policy class) from the file's numbers.</summary>
    private static double ReturnOfFile(LinearPolicyDocument d, ulong seed, int episodes)
    {
        var env = new PointMass();
        float[] obs = new float[2];
        double total = 0;
        for (int k = 0; k < episodes; k++)
        {
            if (k == 0) env.Reset(obs, seed);
            else env.Reset(obs);
            StepResult step;
            do
            {
                // The order of LinearGaussianPolicy.Mean (b first), so the float action is bit-identical.
                double u = d.Bias[0];
                u += d.Weights[0][0] * obs[0];
                u += d.Weights[0][1] * obs[1];
                step = env.Step([(float)u], obs);
                total += step.Reward;
            } while (!step.Done);
        }
        return total / episodes;
    }

    private static (string dir, string[] lines) Train(string algo, long steps, params string[] extra)
    {
        string dir = CliTestRun.TempDirectory();
        var (exit, stdout, stderr) = CliTestRun.Invoke(TrainCommand.Create(),
            ["--env", "point-mass", "--algo", algo, "--steps", steps.ToString(CultureInfo.InvariantCulture),
             "--seed", Seed.ToString(CultureInfo.InvariantCulture), "--out", dir, "--json", .. extra]);
        Assert.True(exit == 0, stderr);
        Assert.Equal("", stderr);
        return (dir, stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Theory]
    [InlineData("fd")]
    [InlineData("regression")]
    public void ReachesTheLqrThresholdWithTheOutputsOfTheOtherAlgorithms(string algo)
    {
        (string dir, string[] lines) = Train(algo, Steps);
        ulong evalSeed = Seed + TrainCommand.EvaluationSeedOffset;
        double optimum = OptimalEvaluationReturn(evalSeed, TrainCommand.EvaluationEpisodes);

        using JsonDocument final = JsonDocument.Parse(lines[^1]);
        JsonElement f = final.RootElement;
        Assert.True(f.GetProperty("final").GetBoolean());
        double eval = f.GetProperty("evalReturn").GetDouble();
        output.WriteLine($"{algo}: eval {eval:F4}, LQR optimum {optimum:F4}, {lines.Length - 1} updates");
        // The threshold of PointMassTests: within 1 % of the LQR optimum (here on the evaluation states).
        Assert.True(eval >= optimum * 1.01, $"eval_return {eval:F4} < 1.01 × optimum {optimum:F4}");
        Assert.True(eval <= optimum + 1e-9, "a policy beat the LQR optimum: the reference or the task is wrong");

        long previousSteps = 0;
        for (int i = 0; i < lines.Length; i++)
        {
            using JsonDocument doc = JsonDocument.Parse(lines[i]);
            JsonElement e = doc.RootElement;
            long s = e.GetProperty("steps").GetInt64();
            Assert.True(s > previousSteps || i == lines.Length - 1, $"line {i}: steps did not grow");
            Assert.True(s <= Steps, $"line {i}: {s} steps exceed the budget");
            previousSteps = s;
            // Episodes of 50 steps: every roll-out counted in steps is a finished episode.
            Assert.Equal(s / PointMass.MaxEpisodeSteps, e.GetProperty("episodes").GetInt64());
            Assert.True(double.IsFinite(e.GetProperty("meanReturn").GetDouble()));
            Assert.True(e.GetProperty("updateMs").GetDouble() >= 0);
            Assert.True(e.GetProperty("sps").GetDouble() > 0);
            Assert.Equal(JsonValueKind.Null, e.GetProperty("approxKl").ValueKind);
            Assert.Equal(JsonValueKind.Null, e.GetProperty("valueLoss").ValueKind);
        }
        Assert.True(Steps - previousSteps < previousSteps / (lines.Length - 1), "the run stopped more than one update short of the budget");

        string[] csv = File.ReadAllLines(Path.Combine(dir, TrainCommand.CurveCsvFileName));
        Assert.Equal(lines.Length, csv.Length); // header + one row per update; the JSON has the same count plus the final line
        Assert.StartsWith("iteration,steps,episodes,mean_return", csv[0]);
        string svg = File.ReadAllText(Path.Combine(dir, TrainCommand.CurveSvgFileName));
        Assert.StartsWith("<svg xmlns=\"http://www.w3.org/2000/svg\"", svg);
        Assert.Contains("<polyline", svg);
        Assert.False(File.Exists(Path.Combine(dir, TrainCommand.CheckpointFileName)));

        // The policy file reproduces eval_return exactly when its numbers are used by hand.
        string path = Path.Combine(dir, TrainCommand.LinearPolicyFileName);
        (LinearGaussianPolicy loaded, LinearPolicyDocument document) = LinearPolicyFile.Load(path);
        Assert.Equal($"point-mass/{algo}", document.Tag);
        Assert.Equal(lines.Length - 1, document.Updates);
        Assert.Equal(previousSteps, document.Steps);
        Assert.Equal(eval, ReturnOfFile(document, evalSeed, TrainCommand.EvaluationEpisodes));
        Assert.Equal(eval, LinearPolicyEvaluation.Run(loaded, EnvironmentCatalog.Create("point-mass"), TrainCommand.EvaluationEpisodes, evalSeed));
    }

    /// <summary>The search <c>train</c> should have built for the options, run for the same number of updates.</summary>
    private static double[] DirectSearch(PolicySearchSettings settings, long updates)
    {
        var policy = new LinearGaussianPolicy(2, 1);
        var search = new FiniteDifferencePolicySearch(policy, new PointMass(Seed), settings);
        for (long i = 0; i < updates; i++) search.Update();
        return policy.Parameters.ToArray();
    }

    private static double[] Parameters(string dir) =>
        LinearPolicyFile.Load(Path.Combine(dir, TrainCommand.LinearPolicyFileName)).policy.Parameters.ToArray();

    [Theory]
    [InlineData("fd", "--delta", "0.05")]
    [InlineData("fd", "--step-size", "0.2")]
    [InlineData("regression", "--delta", "0.1")]
    [InlineData("regression", "--perturbations", "3")]
    [InlineData("regression", "--step-size", "0.2")]
    public void EachOptionReachesTheSearch(string algo, string option, string value)
    {
        // The whole run: early steps are cut to ‖Δθ‖ ≤ 1 whatever α is, so α shows only near the optimum.
        (string dir, string[] lines) = Train(algo, Steps, option, value);
        (string defaultDir, _) = Train(algo, Steps);
        double v = double.Parse(value, CultureInfo.InvariantCulture);
        bool regression = algo == "regression";
        double delta = option == "--delta" ? v : regression ? PolicySearchAlgorithms.DefaultRegressionDelta : PolicySearchAlgorithms.DefaultFiniteDifferenceDelta;
        int m = option == "--perturbations" ? (int)v : 6; // default m = 2n, n = 3 mean parameters (W is 1×2, b)
        double alpha = option == "--step-size" ? v : PolicySearchAlgorithms.DefaultStepSize;
        var settings = new PolicySearchSettings(regression ? PolicySearchGradient.Regression : PolicySearchGradient.FiniteDifference,
            alpha, delta, m, delta, PolicySearchAlgorithms.UtilityEpisodes, Seed, PolicySearchAlgorithms.MaxStepNorm);

        double[] trained = Parameters(dir);
        Assert.Equal(DirectSearch(settings, lines.Length - 1), trained);
        Assert.NotEqual(Parameters(defaultDir), trained);
    }

    [Fact]
    public void AnUpdateAllocatesNothing()
    {
        var training = new PolicySearchTraining(new PointMass(1),
            PolicySearchAlgorithms.Settings("regression", 3, 1, null, null, null), 1_000_000);
        training.RunIteration();
        training.RunIteration();
        long before = GC.GetAllocatedBytesForCurrentThread();
        training.RunIteration();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void LoadRejectsAMalformedFile()
    {
        string path = Path.Combine(CliTestRun.TempDirectory(), "policy.linear.json");
        File.WriteAllText(path, """{"format":"robotpg-linear-gaussian-policy","version":1,"tag":"x","observationSize":2,"actionSize":1,"weights":[[1]],"bias":[0],"logStd":[0],"steps":0,"episodes":0,"updates":0}""");
        var e = Assert.Throws<InvalidDataException>(() => LinearPolicyFile.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("weights must be 1 rows of 2 numbers", e.Message);
    }
}

public class PolicySearchPlainOutputTests
{
    [Fact]
    public void RedirectedOutputGetsPlainLinesWithoutNaN()
    {
        string dir = CliTestRun.TempDirectory();
        var (exit, stdout, stderr) = CliTestRun.Invoke(TrainCommand.Create(), "--env", "point-mass", "--algo", "fd", "--steps", "16000", "--out", dir);
        Assert.True(exit == 0, stderr);
        string[] lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        // 16000 steps at 1600 per update (4 utility evaluations × 8 episodes × 50 steps): 10 updates, one line each, "done", the 3 files written.
        Assert.Equal(14, lines.Length);
        Assert.StartsWith("steps 16000/16000  episodes 320  mean return ", lines[^5]);
        Assert.Contains("kl -", lines[^5]);
        Assert.StartsWith("done: 16000 steps, 320 episodes", lines[^4]);
        Assert.Contains("deterministic eval return", lines[^4]);
        Assert.Equal($"wrote {Path.Combine(dir, "policy.linear.json")}", lines[^3]);
        Assert.DoesNotContain("NaN", stdout);
    }
}
