using RobotPG.Sim.Cli;
using Xunit;

namespace RobotPG.Sim.Tests.Cli;

// Every bad argument: exit code 2 and exactly one line on stderr that names the problem.
public class CommandErrorTests
{
    private static void AssertUsageError((int exit, string stdout, string stderr) r, string expectedFragment)
    {
        Assert.Equal(2, r.exit);
        string[] lines = r.stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.Contains(expectedFragment, lines[0]);
    }

    [Theory]
    [InlineData("acrobot", "ppo", "1000", "unknown environment 'acrobot'")]
    [InlineData("pendulum", "sac", "1000", "unknown algorithm 'sac'")]
    [InlineData("pendulum", "ppo", "0", "--steps must be > 0")]
    [InlineData("pendulum", "ppo", "-5", "--steps must be > 0")]
    [InlineData("pendulum", "ppo", "lots", "--steps must be a whole number")]
    public void TrainRefusesBadArguments(string env, string algo, string steps, string fragment)
    {
        string dir = CliTestRun.TempDirectory();
        AssertUsageError(CliTestRun.Invoke(TrainCommand.Create(), "--env", env, "--algo", algo, "--steps", steps, "--out", dir), fragment);
    }

    [Fact]
    public void TrainRefusesAnUnwritableOutputDirectory()
    {
        // A regular file where a directory is needed cannot be created even by root.
        string dir = CliTestRun.TempDirectory();
        string file = Path.Combine(dir, "not-a-dir");
        File.WriteAllText(file, "x");
        AssertUsageError(CliTestRun.Invoke(TrainCommand.Create(), "--env", "pendulum", "--steps", "100", "--out", Path.Combine(file, "run")),
            "is not a writable directory");
    }

    [Fact]
    public void TrainRefusesABadSeed() =>
        AssertUsageError(CliTestRun.Invoke(TrainCommand.Create(), "--env", "pendulum", "--seed", "-1", "--out", CliTestRun.TempDirectory()),
            "--seed must be a non-negative whole number");

    [Fact]
    public void EvalRefusesAMissingCheckpoint() =>
        AssertUsageError(CliTestRun.Invoke(EvalCommand.Create(), "--policy", "/nonexistent/policy.rpgp", "--env", "pendulum"),
            "/nonexistent/policy.rpgp");

    [Fact]
    public void EvalRefusesACorruptCheckpoint()
    {
        string path = Path.Combine(CliTestRun.TempDirectory(), "policy.rpgp");
        File.WriteAllBytes(path, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
        AssertUsageError(CliTestRun.Invoke(EvalCommand.Create(), "--policy", path, "--env", "pendulum"), path);
    }

    [Theory]
    [InlineData("acrobot", "10", "unknown environment")]
    [InlineData("pendulum", "0", "--episodes must be > 0")]
    public void EvalRefusesBadArguments(string env, string episodes, string fragment) =>
        AssertUsageError(CliTestRun.Invoke(EvalCommand.Create(), "--policy", "x.rpgp", "--env", env, "--episodes", episodes), fragment);

    [Theory]
    [InlineData("0.5", "--init-state (theta,theta_dot) needs 2 comma-separated numbers")]
    [InlineData("0.5,abc", "'abc' is not a finite number")]
    [InlineData("0.5,-1,2", "needs 2 comma-separated numbers")]
    public void RolloutRefusesABadInitialState(string state, string fragment)
    {
        string csv = Path.Combine(CliTestRun.TempDirectory(), "actions.csv");
        File.WriteAllText(csv, "1.0\n");
        AssertUsageError(CliTestRun.Invoke(RolloutCommand.Create(), "--env", "pendulum", "--init-state", state, "--actions", csv), fragment);
    }

    [Theory]
    [InlineData("1.0\n0.5,0.2\n", ":2: expected 1 value(s) per line, got 2")]
    [InlineData("1.0\nfast\n", ":2: 'fast' is not a finite number")]
    [InlineData("# nothing\n\n", "holds no actions")]
    [InlineData("NaN\n", ":1: 'NaN' is not a finite number")]
    public void RolloutRefusesMalformedCsv(string content, string fragment)
    {
        string csv = Path.Combine(CliTestRun.TempDirectory(), "actions.csv");
        File.WriteAllText(csv, content);
        AssertUsageError(CliTestRun.Invoke(RolloutCommand.Create(), "--env", "pendulum", "--init-state", "0.5,-1.0", "--actions", csv), fragment);
    }

    [Fact]
    public void RolloutRefusesAMissingCsv() =>
        AssertUsageError(CliTestRun.Invoke(RolloutCommand.Create(), "--env", "pendulum", "--init-state", "0.5,-1.0", "--actions", "/nonexistent/a.csv"),
            "cannot be read");
}
