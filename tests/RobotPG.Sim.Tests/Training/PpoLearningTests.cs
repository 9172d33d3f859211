using System.Text.Json;
using RobotPG.Sim.Cli;
using RobotPG.Sim.Tests.Cli;
using Xunit;

namespace RobotPG.Sim.Tests.Training;

// Seeded end-to-end learning through `robotpg-sim train --json` with the tuned presets (PpoPresets).
// eval_return is the mean return of the deterministic policy over 10 evaluation episodes.
[Trait("Category", "Learning")]
[Trait("Category", "Slow")]
public class PpoLearningTests
{
    private static (double evalReturn, string[] lines) Train(string env, long steps, ulong seed)
    {
        string dir = CliTestRun.TempDirectory();
        var (exit, stdout, stderr) = CliTestRun.Invoke(TrainCommand.Create(),
            "--env", env, "--algo", "ppo", "--steps", steps.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--seed", seed.ToString(System.Globalization.CultureInfo.InvariantCulture), "--out", dir, "--json");
        Assert.True(exit == 0, stderr);
        string[] lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        using JsonDocument last = JsonDocument.Parse(lines[^1]);
        Assert.True(last.RootElement.GetProperty("final").GetBoolean());
        Assert.True(last.RootElement.GetProperty("steps").GetInt64() <= steps);
        return (last.RootElement.GetProperty("evalReturn").GetDouble(), lines);
    }

    [Fact]
    public void PendulumReachesMinus200Within200kSteps()
    {
        (double eval, _) = Train("pendulum", 200_000, 1);
        Assert.True(eval >= -200, $"pendulum eval_return {eval:F1} < −200");
    }

    [Fact]
    public void CartPoleReaches475Within100kSteps()
    {
        (double eval, _) = Train("cartpole", 100_000, 1);
        Assert.True(eval >= 475, $"cartpole eval_return {eval:F1} < 475");
    }

    [Fact]
    public void SameSeedGivesIdenticalRuns()
    {
        // Everything but the timings must match line for line.
        (_, string[] a) = Train("pendulum", 6144, 3);
        (_, string[] b) = Train("pendulum", 6144, 3);
        Assert.Equal(a.Length, b.Length);
        for (int i = 0; i < a.Length; i++) Assert.Equal(WithoutTimings(a[i]), WithoutTimings(b[i]));
        (_, string[] c) = Train("pendulum", 6144, 4);
        Assert.NotEqual(WithoutTimings(a[^1]), WithoutTimings(c[^1]));
    }

    private static string WithoutTimings(string line)
    {
        using JsonDocument doc = JsonDocument.Parse(line);
        var kept = new List<string>();
        foreach (JsonProperty p in doc.RootElement.EnumerateObject())
            if (p.Name is not ("updateMs" or "sps" or "wallSeconds" or "files")) kept.Add(p.ToString()); // files: each run writes into its own directory
        return string.Join(";", kept);
    }
}
