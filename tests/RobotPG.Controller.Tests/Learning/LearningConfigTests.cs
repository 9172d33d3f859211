using System.Text.Json.Nodes;
using RobotPG.Controller.Configuration;
using RobotPG.Controller.Control;
using RobotPG.Controller.Learning;
using RobotPG.Controller.Tasks;
using RobotPG.Learning.Networks;
using RobotPG.Learning.Normalization;
using Xunit;

namespace RobotPG.Controller.Tests.Learning;

/// <summary>The config's learning section: accepted with its defaults, bad values named with their path, mapped onto the learner.</summary>
public sealed class LearningConfigTests
{
    private static JsonObject Config(JsonObject learning)
    {
        var c = JsonNode.Parse(File.ReadAllText(RepoPaths.FirmwareConfig("balance-bot.sim.json")))!.AsObject();
        c.Remove("$schema");
        c["learning"] = learning;
        return c;
    }

    private static ConfigLoadResult Load(JsonObject c) =>
        ConfigLoader.Parse(RepoPaths.FirmwareConfig("learning.json"), c.ToJsonString(), RepoPaths.FirmwareConfig(""));

    [Fact]
    public void A_learning_section_with_only_the_algorithm_gets_the_documented_defaults()
    {
        using var dir = new TempDirectory();
        var loaded = Load(Config(new JsonObject { ["algorithm"] = "trpo" }));
        Assert.True(loaded.Ok, string.Join("; ", loaded.Errors));
        var config = loaded.Config!;
        using var learning = OnDeviceLearning.Create(config, config.Learning!, dir.Path, ControlTasks.Create(config), null, resume: false, TextWriter.Null);
        var o = learning.Options;
        Assert.Equal("trpo", o.Algorithm);
        Assert.Equal(1024, o.BatchSteps);
        Assert.Equal(0.1, o.MaxKl);
        Assert.Equal(0, o.EvaluationEpisodes);
        Assert.Equal(1, o.ReplayBatches); // on-policy unless asked
        Assert.Equal(Path.Combine(dir.Path, "checkpoints"), o.CheckpointDirectory);
        Assert.Equal("trpo", learning.Learner.Algorithm.Name);
        Assert.Equal(1024, learning.Learner.Algorithm.Rollout.StepsPerEnvironment);
        Assert.Equal(1, learning.Learner.Algorithm.Rollout.EnvironmentCount);
        // 1 s upright and still at 200 Hz.
        Assert.Equal(200, learning.Reset!.HoldSteps);
        Assert.Equal(10 * MathF.PI / 180, learning.Reset.UprightRad, 6);
    }

    [Theory]
    [InlineData("algorithm", "sgd", "$.learning.algorithm")]
    [InlineData("batchSteps", 10, "$.learning.batchSteps")]
    [InlineData("maxKl", 0, "$.learning.maxKl")]
    [InlineData("evaluationEpisodes", 11, "$.learning.evaluationEpisodes")]
    [InlineData("checkpointEveryUpdates", -1, "$.learning.checkpointEveryUpdates")]
    [InlineData("resetUprightDeg", 90, "$.learning.resetUprightDeg")]
    [InlineData("initialLogStd", 2, "$.learning.initialLogStd")]
    [InlineData("replayBatches", 0, "$.learning.replayBatches")]
    [InlineData("replayBatches", 9, "$.learning.replayBatches")]
    public void A_bad_learning_value_is_one_error_at_its_path(string key, object value, string path)
    {
        var learning = new JsonObject { ["algorithm"] = "ppo" };
        learning[key] = value switch
        {
            string s => JsonValue.Create(s),
            int i => JsonValue.Create(i),
            _ => throw new ArgumentException("unexpected value type"),
        };
        var loaded = Load(Config(learning));
        Assert.False(loaded.Ok);
        var error = Assert.Single(loaded.Errors);
        Assert.Equal(path, error.Path);
    }

    [Fact]
    public void An_unknown_learning_property_is_reported()
    {
        var loaded = Load(Config(new JsonObject { ["algorithm"] = "ppo", ["batchsteps"] = 512 }));
        var error = Assert.Single(loaded.Errors);
        Assert.Equal("$.learning.batchsteps", error.Path);
    }

    [Fact]
    public void InitialLogStd_sets_the_action_noise_of_a_fresh_policy_and_the_loops_first_policy_and_a_pretrained_one_keeps_its_own()
    {
        using var dir = new TempDirectory();
        var loaded = Load(Config(new JsonObject { ["algorithm"] = "ppo", ["initialLogStd"] = -1.5 }));
        Assert.True(loaded.Ok, string.Join("; ", loaded.Errors));
        var config = loaded.Config!;
        float[] pretrainedLogStd;
        string checkpoint;
        using (var learning = OnDeviceLearning.Create(config, config.Learning!, dir.Path, ControlTasks.Create(config), null, resume: false, TextWriter.Null))
        {
            Assert.Equal(-1.5f, learning.Options.InitialLogStd);
            Assert.All(learning.Learner.Agent.Policy.LogStd.ToArray(), v => Assert.Equal(-1.5f, v));
            // The loop samples with std e^−1.5 from its very first step: against the same means at log std 0 its policy is
            // KL(N(μ, e^−3) ‖ N(μ, 1)) = 1.5 + e^−3/2 − 1/2 per action dimension away (closed form).
            var agent = learning.Learner.Agent;
            var wide = new GaussianPolicy(agent.ObservationSize, agent.ActionSize, agent.Policy.HiddenSizes, maxBatch: 1, seed: 1);
            wide.CopyFrom(agent.Policy);
            wide.LogStd.Fill(0f);
            RunningMeanStd? statistics = null;
            if (agent.ObservationStatistics is { } stats)
            {
                statistics = new RunningMeanStd(stats.Size, stats.Epsilon);
                statistics.CopyFrom(stats);
            }
            float[] observations = [.. Enumerable.Range(0, 3 * agent.ObservationSize).Select(i => 0.1f * (i % 7) - 0.3f)];
            double kl = learning.Learner.InitialPolicy.MeanKl(ControlPolicy.FromNetwork(wide, statistics, false, "test"), observations, 3);
            Assert.Equal(agent.ActionSize * (1.5 + Math.Exp(-3) / 2 - 0.5), kl, 5);
            learning.Learner.Agent.Policy.LogStd.Fill(-0.25f);
            learning.Learner.SaveCheckpoint();
            pretrainedLogStd = learning.Learner.Agent.Policy.LogStd.ToArray();
            checkpoint = Path.Combine(learning.Options.CheckpointDirectory!, LearnerCheckpoints.LatestName);
        }
        using var dir2 = new TempDirectory();
        using var resumed = OnDeviceLearning.Create(config, config.Learning!, dir2.Path, ControlTasks.Create(config), checkpoint, resume: false, TextWriter.Null);
        Assert.Equal(pretrainedLogStd, resumed.Learner.Agent.Policy.LogStd.ToArray());
    }

    [Fact]
    public void ReplayBatches_builds_ppo_over_the_last_K_batches_and_is_refused_for_an_on_policy_only_algorithm()
    {
        using var dir = new TempDirectory();
        var loaded = Load(Config(new JsonObject { ["algorithm"] = "ppo", ["replayBatches"] = 4, ["batchSteps"] = 128 }));
        Assert.True(loaded.Ok, string.Join("; ", loaded.Errors));
        var config = loaded.Config!;
        using (var learning = OnDeviceLearning.Create(config, config.Learning!, dir.Path, ControlTasks.Create(config), null, resume: false, TextWriter.Null))
        {
            Assert.Equal(4, learning.Options.ReplayBatches);
            var ppo = Assert.IsType<RobotPG.Learning.Algorithms.Ppo>(learning.Learner.Algorithm);
            Assert.Equal(4, ppo.Hyperparameters.ReplayBatches);
            Assert.Equal(128, ppo.Hyperparameters.StepsPerEnvironment);
        }

        var refused = Load(Config(new JsonObject { ["algorithm"] = "trpo", ["replayBatches"] = 2 }));
        var error = Assert.Single(refused.Errors);
        Assert.Equal("$.learning.replayBatches", error.Path);
        Assert.Equal("2: replay needs learning.algorithm \"ppo\" (\"trpo\" learns from the current batch only)", error.Reason);
        Assert.Equal("learning.replayBatches 2 needs learning.algorithm ppo ('a2c' learns from the current batch only)",
            new LearningOptions { Algorithm = "a2c", ReplayBatches = 2 }.Validate());
    }
}
