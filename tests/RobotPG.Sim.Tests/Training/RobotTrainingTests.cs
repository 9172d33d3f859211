using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.RegularExpressions;
using RobotPG.Sim.Cli;
using RobotPG.Sim.Tests.Cli;
using Xunit;

namespace RobotPG.Sim.Tests.Training;

// The robots as training environments, through the executable's own command line.
public class RobotTrainingTests
{
    private static string FirmwareConfig(string name, [CallerFilePath] string here = "")
    {
        var dir = new DirectoryInfo(Path.GetDirectoryName(here)!);
        while (!File.Exists(Path.Combine(dir!.FullName, "RobotPG.sln"))) dir = dir.Parent;
        return Path.Combine(dir.FullName, "firmware-config", name);
    }

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = SimCli.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    private static JsonElement FinalLine(string stdout) =>
        JsonDocument.Parse(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]).RootElement;

    [Fact]
    public void Balance_bot_trains_for_exactly_the_steps_asked_and_eval_with_the_reported_seed_gives_the_same_return()
    {
        string dir = CliTestRun.TempDirectory();
        string config = FirmwareConfig("balance-bot.sim.json");
        var (code, output, err) = Run("train", "--env", "balance-bot", "--config", config, "--steps", "2100", "--seed", "5", "--out", dir, "--json");
        Assert.True(code == 0, err);
        JsonElement final = FinalLine(output);
        Assert.True(final.GetProperty("final").GetBoolean());
        Assert.Equal(2100, final.GetProperty("steps").GetInt64()); // control steps, not rounded to batches
        Assert.Equal(1_000_005UL, final.GetProperty("evalSeed").GetUInt64());
        Assert.Equal(Path.Combine(dir, "policy.rpgp"), final.GetProperty("files")[0].GetString());
        Assert.True(File.Exists(Path.Combine(dir, "learning_curve.svg")));

        var (evalCode, evalOut, evalErr) = Run("eval", "--env", "balance-bot", "--config", config, "--policy", Path.Combine(dir, "policy.rpgp"), "--seed", "1000005");
        Assert.True(evalCode == 0, evalErr);
        double mean = double.Parse(Regex.Match(evalOut, @"mean deterministic return over 10 episodes: (-?[0-9.]+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(Math.Round(final.GetProperty("evalReturn").GetDouble(), 2), mean);
        Assert.True(mean > 0, evalOut); // each upright step earns up to 1
    }

    [Fact]
    public void Cartpole_rail_is_reset_by_the_simulator_after_each_fall_so_training_sees_many_episodes()
    {
        // The cart-pole has no IMU, so the learner has no upright rule; without the simulator's reset the
        // first fallen pole would stay down and the run would hold one episode.
        string dir = CliTestRun.TempDirectory();
        var (code, output, err) = Run("train", "--env", "cartpole-rail", "--config", FirmwareConfig("cartpole-rail.sim.json"), "--steps", "3000",
            "--out", dir, "--json", "--randomize");
        Assert.True(code == 0, err);
        JsonElement final = FinalLine(output);
        Assert.True(final.GetProperty("episodes").GetInt64() >= 5, output);
        Assert.True(File.Exists(Path.Combine(dir, "policy.rpgp")));
    }

    [Theory]
    [InlineData("robotpg-sim train: --env balance-bot is the robot a controller config describes: give it with --config (e.g. firmware-config/balance-bot.sim.json)",
        "train", "--env", "balance-bot", "--out", "OUT")]
    [InlineData("robotpg-sim train: --config 'CARTPOLE' describes a cartpole-rail robot, not --env balance-bot",
        "train", "--env", "balance-bot", "--config", "CARTPOLE", "--out", "OUT")]
    [InlineData("robotpg-sim train: --env balance-bot trains with the robot's own learner: --algo must be one of ppo, ppo-kl, npg, trpo, a2c, vpg, reinforce (got 'fd')",
        "train", "--env", "balance-bot", "--config", "BALANCE", "--algo", "fd", "--out", "OUT")]
    [InlineData("robotpg-sim train: --config, --physics and --randomize describe a robot (--env balance-bot or cartpole-rail), not 'pendulum'",
        "train", "--env", "pendulum", "--config", "BALANCE", "--out", "OUT")]
    [InlineData("robotpg-sim train: --physics 'CARTPOLE_PHYSICS' simulates a cartpole-rail, not --env balance-bot",
        "train", "--env", "balance-bot", "--config", "BALANCE", "--physics", "CARTPOLE_PHYSICS", "--out", "OUT")]
    public void Robot_environment_mistakes_are_one_line_and_exit_2(string expected, params string[] args)
    {
        string dir = CliTestRun.TempDirectory();
        string cartpolePhysics = Path.Combine(Path.GetDirectoryName(FirmwareConfig("x"))!, "robots", "cartpole-rail.physics.json");
        string Fill(string s) => s.Replace("CARTPOLE_PHYSICS", cartpolePhysics).Replace("CARTPOLE", FirmwareConfig("cartpole-rail.sim.json"))
            .Replace("BALANCE", FirmwareConfig("balance-bot.sim.json")).Replace("OUT", dir);
        var (code, output, err) = Run([.. args.Select(Fill)]);
        Assert.Equal(2, code);
        Assert.Equal(Fill(expected) + "\n", err);
        Assert.Equal("", output);
    }

    [Fact]
    public void Rollout_says_a_robot_is_for_train_and_eval()
    {
        string csv = Path.Combine(CliTestRun.TempDirectory(), "a.csv");
        File.WriteAllText(csv, "0,0\n");
        var (code, _, err) = Run("rollout", "--env", "balance-bot", "--init-state", "0,0", "--actions", csv);
        Assert.Equal(2, code);
        Assert.Equal("robotpg-sim rollout: 'balance-bot' is a robot: it trains and evaluates with train/eval --config; this verb runs on pendulum, cartpole, mountaincar, point-mass\n", err);
    }
}
