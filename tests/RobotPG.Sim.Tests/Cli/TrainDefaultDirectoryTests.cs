using RobotPG.Sim.Cli;
using Xunit;

namespace RobotPG.Sim.Tests.Cli;

/// <summary><c>robotpg-sim train</c> without <c>--out</c>: a usable run, written under runs/ENV-ALGO-seedN.</summary>
public sealed class TrainDefaultDirectoryTests
{
    [Fact]
    public void Without_out_the_run_goes_to_runs_env_algo_seed()
    {
        Assert.Equal(Path.Combine("runs", "cartpole-reinforce-seed1"), TrainCommand.DefaultDirectory("cartpole", "reinforce", "1"));
        Assert.Equal(Path.Combine("runs", "balance-bot-seed7"), TrainCommand.DefaultDirectory("balance-bot", null, "7"));
    }

    /// <summary>The documented command has no --out: it must not stop at "--out is required" before checking what it was given.</summary>
    [Fact]
    public void A_train_command_without_out_is_not_refused_for_it()
    {
        var (exit, _, stderr) = CliTestRun.Invoke(TrainCommand.Create(), "--algo", "reinforce", "--env", "cartpole", "--steps", "zero", "--seed", "1");
        Assert.Equal(2, exit);
        Assert.DoesNotContain("--out", stderr);
        Assert.Contains("--steps", stderr);
    }
}
