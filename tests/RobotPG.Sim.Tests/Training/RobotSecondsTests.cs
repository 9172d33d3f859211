using RobotPG.Controller.Learning;
using RobotPG.Sim.Cli;
using RobotPG.Sim.Demo;
using RobotPG.Sim.Serving;
using RobotPG.Sim.Robots;
using RobotPG.Sim.Tests.Cli;
using RobotPG.Sim.Training;
using Xunit;

namespace RobotPG.Sim.Tests.Training;

public class RobotSecondsTests
{
    [Fact]
    public void A_pretrained_policy_moved_to_a_heavier_weaker_body_falls_and_fine_tuning_recovers_its_return()
    {
        // The controller's loop, task, safety filter and on-device learner stepped in lockstep with the simulated
        // balance-bot (no MQTT), batches of 256 at lr 1e-3; seed 1 recovers in a few hundred robot s, the budget allows 800.
        var settings = new RobotSecondsSettings { BatchSteps = 256, LearningRate = 1e-3, BudgetSteps = 40_000 };
        string dir = CliTestRun.TempDirectory();
        RobotSecondsRun run = RobotSecondsBenchmark.Run("body", 1, settings, RobotPhysicsConfigLoader.DefaultDirectory, dir);

        Assert.True(run.Reached, $"no recovery within {settings.BudgetSteps} steps: {run}");
        Assert.True(run.ReturnBefore > 400, $"pre-training did not balance: {run}");        // 500-step cap, reward ≤ 1 a step
        Assert.True(run.ReturnAfterChange < 0.5 * run.ReturnBefore, $"the change did not hurt: {run}");
        Assert.True(run.ReturnReached >= 0.9 * run.ReturnBefore, $"{run}");
        Assert.True(run.Falls > 0);
    }

    [Fact]
    public void In_process_training_starts_from_the_configs_policy_checkpoint_as_the_controller_does()
    {
        // A policy saved by one run (seed 1) and a config naming it with another seed: the robot must start from
        // the saved parameters, not from its own initialisation (the fine-tuning scenarios once relearned from scratch).
        string dir = CliTestRun.TempDirectory();
        var physics = RobotPhysicsConfigLoader.LoadRobot("balance-bot");
        string savedDir = Path.Combine(dir, "saved"), robotDir = Path.Combine(dir, "robot"), freshDir = Path.Combine(dir, "fresh");
        foreach (string d in (string[])[savedDir, robotDir, freshDir]) Directory.CreateDirectory(d);
        float[] saved;
        using (var first = new InProcessTraining(DemoRun.ParseConfig(DemoRun.ConfigJson("ppo", 1, SimClockMode.Lockstep, 1883, null), savedDir), physics, 1, false, savedDir, TextWriter.Null))
        {
            saved = first.Learner.Agent.Policy.Parameters.ToArray();
            first.SaveCheckpoint();
        }
        string checkpoint = Path.Combine(savedDir, "checkpoints", LearnerCheckpoints.LatestName);
        using var robot = new InProcessTraining(DemoRun.ParseConfig(DemoRun.ConfigJson("ppo", 2, SimClockMode.Lockstep, 1883, checkpoint), robotDir), physics, 2, false, robotDir, TextWriter.Null);
        using var fresh = new InProcessTraining(DemoRun.ParseConfig(DemoRun.ConfigJson("ppo", 2, SimClockMode.Lockstep, 1883, null), freshDir), physics, 2, false, freshDir, TextWriter.Null);
        Assert.False(fresh.Learner.Agent.Policy.Parameters.SequenceEqual(saved)); // seed 2 alone initialises otherwise
        Assert.True(robot.Learner.Agent.Policy.Parameters.SequenceEqual(saved));
    }

    [Fact]
    public void The_table_gives_median_min_and_max_over_seeds_and_counts_an_unreached_run_as_infinite()
    {
        // A window of ten 10 s episodes shows each goal: 100 s more than the learning took.
        RobotSecondsRun R(ulong seed, bool reached, double seconds, long falls) =>
            new("body", seed, reached, (long)(seconds * 50), (long)((seconds + 100) * 50), falls, 450, 10, 420);
        var settings = new RobotSecondsSettings { BatchSteps = 256 };
        string table = RobotSecondsBenchmark.Table([R(1, true, 40, 9), R(2, true, 70, 3), R(3, false, 1200, 50), R(4, true, 50, 5), R(5, true, 30, 7)], settings);
        string row = table.Split('\n').Single(l => l.StartsWith("| body", StringComparison.Ordinal));
        // Sorted seconds 30, 40, 50, 70, ∞: median 50, min 30, max ∞; with the window 150; falls median 7.
        Assert.Equal("| body | 1 2 3 4 5 | 4/5 | 50.0 | 30.0 | ∞ | 150.0 | 7 | 450.0 → 10.0 → 420.0 |", row.TrimEnd('\r'));
        Assert.Contains("batch 256 transitions = 5.1 robot s per update", table);
        Assert.DoesNotContain("replay", table);
        Assert.Contains("ppo, learning rate preset, replay of the last 4 batches, pre-training",
            RobotSecondsBenchmark.Table([R(1, true, 40, 9)], settings with { ReplayBatches = 4 }));
    }

    [Fact]
    public void From_scratch_the_goal_is_ten_capped_episodes_in_a_row_and_the_learning_took_the_time_before_them()
    {
        var goal = new GoalWindowTracker(scratch: true, double.NaN);
        goal.Add(20, 100);                                   // a fall
        for (int i = 0; i < 9; i++) goal.Add(500, 500);      // nine at the cap: not ten
        Assert.False(goal.Reached);
        goal.Add(150, 200);                                  // a fall breaks the run
        for (int i = 0; i < 9; i++) goal.Add(500, 500);
        Assert.False(goal.Reached);                          // the window still holds the fall
        goal.Add(500, 500);
        Assert.True(goal.Reached);
        Assert.Equal(100 + 9 * 500 + 200, goal.StepsBeforeWindow);
        Assert.Equal(100 + 9 * 500 + 200 + 10 * 500, goal.StepsThroughWindow);
        Assert.Equal(2, goal.Falls);
        Assert.Equal(500, goal.WindowMeanReturn);
        goal.Add(3, 10);                                     // after the goal nothing moves
        Assert.Equal(2, goal.Falls);
    }

    [Fact]
    public void Fine_tuning_needs_a_full_window_whose_mean_return_meets_the_goal_not_one_good_episode()
    {
        var goal = new GoalWindowTracker(scratch: false, goalReturn: 400);
        goal.Add(490, 500);                                  // one good first episode is not ten
        Assert.False(goal.Reached);
        for (int i = 0; i < 8; i++) goal.Add(490, 500);
        goal.Add(50, 60);                                    // mean (9·490 + 50)/10 = 446 ≥ 400, with a fall in it
        Assert.True(goal.Reached);
        Assert.Equal(0, goal.StepsBeforeWindow);             // the arriving policy needed no learning
        Assert.Equal(9 * 500 + 60, goal.StepsThroughWindow);
        Assert.Equal(446, goal.WindowMeanReturn, 9);

        var slow = new GoalWindowTracker(scratch: false, goalReturn: 400);
        for (int i = 0; i < 3; i++) slow.Add(100, 120);
        for (int i = 0; i < 8; i++) slow.Add(480, 500);      // window: 2·100 + 8·480 = 404 ≥ 400, after dropping one 100
        Assert.True(slow.Reached);
        Assert.Equal(120, slow.StepsBeforeWindow);
        Assert.Equal(3, slow.Falls);                         // the 120-step episodes
    }

    [Theory]
    [InlineData("--batch", "10", "--batch: 10 must be in 64..65536")]
    [InlineData("--scenarios", "body,walk", "--scenarios: 'body,walk' must list some of scratch, body, deadband, imu-tilt")]
    [InlineData("--pretrain-randomization", "1.5", "--pretrain-randomization: '1.5' must be none, wide or a fraction below 1")]
    [InlineData("--pretrain-randomization", "{\"torqueScale\":[0.4,0.3]}", "--pretrain-randomization: randomization.torqueScale: [0.4, 0.3] must satisfy 0.05 ≤ low ≤ high ≤ 20")]
    [InlineData("--pretrain-steps", "0", "--pretrain-steps must be > 0 (got 0)")]
    [InlineData("--replay-batches", "9", "--replay-batches: 9 must be in 1..8")]
    [InlineData("--replay-batches", "0", "--replay-batches must be > 0 (got 0)")]
    public void Bad_arguments_are_one_line_and_exit_code_2(string option, string value, string message)
    {
        var (exit, stdout, stderr) = CliTestRun.Invoke(RobotSecondsCommand.Create(), option, value);
        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        Assert.Equal($"robotpg-sim robot-seconds: {message}", stderr.TrimEnd('\n', '\r'));
    }
}
