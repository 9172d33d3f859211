using System.Text.Json;
using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Environments;
using RobotPG.Learning.Training;
using RobotPG.Numerics;
using RobotPG.Sim.Cli;
using RobotPG.Sim.Environments;
using RobotPG.Sim.Tests.Cli;
using Xunit;

namespace RobotPG.Sim.Tests.Training;

public class TrainCommandTests
{
    // Two PPO iterations of the pendulum preset (8 envs × 256 steps each): quick, but real training.
    private const string ShortSteps = "4096";

    private static (string dir, string stdout) TrainShort(params string[] extra)
    {
        string dir = CliTestRun.TempDirectory();
        var (exit, stdout, stderr) = CliTestRun.Invoke(TrainCommand.Create(),
            ["--env", "pendulum", "--algo", "ppo", "--steps", ShortSteps, "--seed", "7", "--out", dir, .. extra]);
        Assert.True(exit == 0, stderr);
        Assert.Equal("", stderr);
        return (dir, stdout);
    }

    [Fact]
    public void JsonLinesCarryTheFieldsAndEndWithTheFinalEvaluation()
    {
        (_, string stdout) = TrainShort("--json");
        string[] lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length); // 2 updates + final
        string[] required = ["steps", "episodes", "meanReturn", "approxKl", "clipFraction", "explainedVariance", "entropy", "updateMs", "sps"];
        for (int i = 0; i < lines.Length; i++)
        {
            using JsonDocument doc = JsonDocument.Parse(lines[i]);
            foreach (string field in required) Assert.True(doc.RootElement.TryGetProperty(field, out _), $"line {i} lacks {field}: {lines[i]}");
            Assert.Equal(2048 * Math.Min(i + 1, 2), doc.RootElement.GetProperty("steps").GetInt64());
        }
        using JsonDocument last = JsonDocument.Parse(lines[^1]);
        Assert.True(last.RootElement.GetProperty("final").GetBoolean());
        double eval = last.RootElement.GetProperty("evalReturn").GetDouble();
        Assert.InRange(eval, -16.3 * 200, 0); // a Pendulum-v1 episode's return lies in [−3254.7, 0]
        using JsonDocument first = JsonDocument.Parse(lines[0]);
        Assert.False(first.RootElement.TryGetProperty("final", out _));
    }

    [Fact]
    public void WritesCheckpointCsvAndSvg()
    {
        (string dir, string stdout) = TrainShort();
        Assert.Contains("deterministic eval return", stdout); // redirected output: plain lines
        Assert.DoesNotContain("\u001b[", stdout);

        string[] csv = File.ReadAllLines(Path.Combine(dir, TrainCommand.CurveCsvFileName));
        Assert.Equal(3, csv.Length);
        Assert.StartsWith("iteration,steps,episodes,mean_return", csv[0]);
        Assert.StartsWith("2,4096,", csv[2]);

        string svg = File.ReadAllText(Path.Combine(dir, TrainCommand.CurveSvgFileName));
        Assert.StartsWith("<svg xmlns=\"http://www.w3.org/2000/svg\"", svg);
        Assert.Contains("<polyline", svg);
        Assert.EndsWith("</svg>\n", svg);
        Assert.True(File.Exists(Path.Combine(dir, TrainCommand.CheckpointFileName)));
    }

    [Fact]
    public void ReloadedPolicyActsIdenticallyIncludingTheNormaliser()
    {
        // Train in-process (cartpole's preset normalises observations), save, reload, compare actions on raw observations.
        var algorithm = AlgorithmRegistry.Create("ppo", new AlgorithmContext(4, 1, "cartpole", 11));
        Assert.NotNull(algorithm.Agent.ObservationStatistics);
        var envs = new IEnvironment[algorithm.Rollout.EnvironmentCount];
        for (int e = 0; e < envs.Length; e++) envs[e] = EnvironmentCatalog.Create("cartpole", 11 + (ulong)e);
        var trainer = new Trainer(algorithm, envs, 4096, 11);
        while (!trainer.Finished) trainer.RunIteration();

        string path = Path.Combine(CliTestRun.TempDirectory(), "policy.rpgp");
        RobotPG.Learning.Checkpoints.CheckpointFile.Save(path, algorithm.Agent.ToTrainingState("cartpole/ppo"));
        ActorCritic reloaded = ActorCritic.Load(path);

        // The statistics moved far from their prior (mean 0, var 1): cart-pole states stay within a few tenths.
        Assert.NotNull(reloaded.ObservationStatistics);
        Assert.True(reloaded.ObservationStatistics!.Variance[2] < 0.5, $"θ variance {reloaded.ObservationStatistics.Variance[2]}");
        Assert.Equal(algorithm.Agent.ObservationStatistics!.Mean.ToArray(), reloaded.ObservationStatistics.Mean.ToArray());

        // Without the statistics the same parameters act differently: the normaliser is what makes the copy exact.
        var bare = new ActorCritic(4, 1, [64, 64], [64, 64], 1, 0, normalizeObservations: false);
        algorithm.Agent.Policy.Parameters.CopyTo(bare.Policy.Parameters);

        var prng = new Prng(5);
        float[] obs = new float[4], a = new float[1], b = new float[1], c = new float[1];
        int differs = 0;
        for (int i = 0; i < 200; i++)
        {
            for (int j = 0; j < 4; j++) obs[j] = (float)prng.NextUniform(-0.2, 0.2);
            algorithm.Agent.ActDeterministic(obs, a);
            reloaded.ActDeterministic(obs, b);
            bare.ActDeterministic(obs, c);
            Assert.Equal(a[0], b[0]);
            if (Math.Abs(a[0] - c[0]) > 1e-4f) differs++;
        }
        Assert.True(differs > 150, $"only {differs}/200 actions depend on the normaliser");
        Assert.Equal(
            PolicyEvaluation.Run(algorithm.Agent, EnvironmentCatalog.Create("cartpole"), 3, 42),
            PolicyEvaluation.Run(reloaded, EnvironmentCatalog.Create("cartpole"), 3, 42));
    }

    [Fact]
    public void EvalCommandPrintsTheSameReturnAsTheTrainingRun()
    {
        (string dir, string stdout) = TrainShort("--json");
        using JsonDocument last = JsonDocument.Parse(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]);
        double trained = last.RootElement.GetProperty("evalReturn").GetDouble();

        // train evaluates 10 episodes from seed + 1000000 = 1000007.
        var (exit, evalOut, stderr) = CliTestRun.Invoke(EvalCommand.Create(),
            "--policy", Path.Combine(dir, TrainCommand.CheckpointFileName), "--env", "pendulum", "--episodes", "10", "--seed", "1000007");
        Assert.Equal(0, exit);
        Assert.Equal("", stderr);
        string[] lines = evalOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(11, lines.Length);
        Assert.Contains($"{trained:F2}", lines[^1]);
    }

    [Fact]
    public void EvalRefusesAPolicyOfAnotherEnvironment()
    {
        (string dir, _) = TrainShort();
        var (exit, _, stderr) = CliTestRun.Invoke(EvalCommand.Create(),
            "--policy", Path.Combine(dir, TrainCommand.CheckpointFileName), "--env", "cartpole");
        Assert.Equal(2, exit);
        Assert.Contains("takes 3 observations", stderr);
    }

    [Fact]
    public void ReinforceOnCartpoleSavesTheBestPolicyNotTheCollapsedFinalOne()
    {
        // Seed 5 reaches 500 early and has collapsed (final return 338.7) by 300k; a few seconds.
        string dir = CliTestRun.TempDirectory();
        var (exit, stdout, stderr) = CliTestRun.Invoke(TrainCommand.Create(),
            "--env", "cartpole", "--algo", "reinforce", "--steps", "300000", "--seed", "5", "--out", dir, "--json");
        Assert.True(exit == 0, stderr);
        using JsonDocument last = JsonDocument.Parse(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]);
        JsonElement root = last.RootElement;
        double best = root.GetProperty("evalReturn").GetDouble(), final = root.GetProperty("finalEvalReturn").GetDouble();
        Assert.Equal(TrainCommand.CheckpointFileName, root.GetProperty("bestFile").GetString());
        Assert.Equal(TrainCommand.FinalCheckpointFileName, root.GetProperty("finalFile").GetString());
        Assert.True(best >= 475, $"best {best}");
        Assert.True(final < 475, $"final {final}: the run no longer collapses, so this test no longer tests keep-best");
        Assert.InRange(root.GetProperty("bestSteps").GetInt64(), 1, 299_008 - 1);

        // Each file holds what the report says: its evaluation on the report's seeds gives the reported return.
        ulong evalSeed = 5 + TrainCommand.EvaluationSeedOffset;
        Assert.Equal(best, PolicyEvaluation.Run(ActorCritic.Load(Path.Combine(dir, TrainCommand.CheckpointFileName)),
            EnvironmentCatalog.Create("cartpole"), TrainCommand.EvaluationEpisodes, evalSeed));
        Assert.Equal(final, PolicyEvaluation.Run(ActorCritic.Load(Path.Combine(dir, TrainCommand.FinalCheckpointFileName)),
            EnvironmentCatalog.Create("cartpole"), TrainCommand.EvaluationEpisodes, evalSeed));
    }

    [Fact]
    public void PlainOutputSaysWhichPolicyWasSavedWhere()
    {
        (_, string stdout) = TrainShort();
        string done = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Single(l => l.StartsWith("done: ", StringComparison.Ordinal));
        Assert.Matches(@"deterministic eval return -?\d+\.\d\d \(.*\) of the best policy \(step \d+, saved as policy.rpgp\); the final policy returns -?\d+\.\d\d \(saved as policy.final.rpgp\)$", done);
    }
}
