using RobotPG.Sim.Cli;
using Xunit;

namespace RobotPG.Sim.Tests.Cli;

// An option given to an algorithm it does not apply to, or a bad value: exit 2 and one line on stderr naming it.
public class TrainOptionErrorTests
{
    [Theory]
    [InlineData("ppo", "--baseline applies only to --algo reinforce or vpg, not 'ppo'", "--baseline", "mean")]
    [InlineData("a2c", "--return-weighting applies only to --algo reinforce or vpg, not 'a2c'", "--return-weighting", "whole")]
    [InlineData("trpo", "--discount-weighting applies only to --algo reinforce or vpg", "--discount-weighting")]
    [InlineData("fd", "--baseline applies only to --algo reinforce or vpg, not 'fd'", "--baseline", "none")]
    [InlineData("reinforce", "--baseline must be one of none, mean, optimal-scalar, optimal-per-parameter, time, value (got 'median')", "--baseline", "median")]
    [InlineData("vpg", "--return-weighting must be one of whole, reward-to-go (got 'sideways')", "--return-weighting", "sideways")]
    [InlineData("reinforce", "--baseline optimal-scalar weights whole-trajectory returns", "--baseline", "optimal-scalar", "--return-weighting", "reward-to-go")]
    [InlineData("reinforce", "--discount-weighting does not combine with --baseline optimal-per-parameter", "--baseline", "optimal-per-parameter", "--discount-weighting")]
    [InlineData("reinforce", "it does not combine with --return-weighting whole", "--return-weighting", "whole", "--discount-weighting")]
    [InlineData("ppo", "--delta applies only to --algo fd or regression, not 'ppo'", "--delta", "0.1")]
    [InlineData("reinforce", "--step-size applies only to --algo fd or regression", "--step-size", "0.1")]
    [InlineData("vpg", "--perturbations applies only to --algo fd or regression", "--perturbations", "8")]
    [InlineData("fd", "--perturbations applies only to --algo regression", "--perturbations", "8")]
    [InlineData("regression", "--perturbations must be ≥ 3, the number of policy mean parameters", "--perturbations", "2")]
    [InlineData("regression", "--perturbations must be ≤ 10000", "--perturbations", "20000")]
    [InlineData("regression", "--perturbations must be > 0", "--perturbations", "0")]
    [InlineData("fd", "--delta must be > 0 (got 0)", "--delta", "0")]
    [InlineData("fd", "--delta must be a finite number (got 'tiny')", "--delta", "tiny")]
    [InlineData("regression", "--delta must be a finite number (got 'NaN')", "--delta", "NaN")]
    [InlineData("fd", "--step-size must be > 0 (got -1)", "--step-size", "-1")]
    [InlineData("sac", "unknown algorithm 'sac' (known: ppo, reinforce, vpg, a2c, off-policy, ppo-kl, npg, trpo, fd, regression)")]
    public void RefusedWithOneLineAndExit2(string algo, string fragment, params string[] options)
    {
        var (exit, stdout, stderr) = CliTestRun.Invoke(TrainCommand.Create(),
            ["--env", "point-mass", "--algo", algo, "--steps", "1000", "--out", CliTestRun.TempDirectory(), .. options]);
        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        string[] lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("robotpg-sim train: ", lines[0]);
        Assert.Contains(fragment, lines[0]);
    }
}
