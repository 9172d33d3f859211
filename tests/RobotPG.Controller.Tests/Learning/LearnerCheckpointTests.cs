using RobotPG.Controller.Control;
using RobotPG.Controller.Learning;
using RobotPG.Controller.Logging;
using RobotPG.Learning.Algorithms;
using Xunit;

namespace RobotPG.Controller.Tests.Learning;

/// <summary>Checkpoint schedule, resume with counters and optimiser state, fallback from a corrupt latest checkpoint (issue 7 §4).</summary>
public sealed class LearnerCheckpointTests
{
    private const int Batch = 64;

    private static LearningOptions Options(string directory) => new()
    {
        Algorithm = "ppo", BatchSteps = Batch, CheckpointDirectory = directory, CheckpointEveryUpdates = 1, CheckpointEveryEpisodes = 0,
        ValueHiddenSizes = [8], Seed = 3,
    };

    private static (OnDeviceLearner Learner, TrajectoryRing Ring, LearningEventQueue Events) Build(string directory)
    {
        var options = Options(directory);
        var algorithm = OnDeviceAlgorithms.Create(options, 4, 2, [8], "balance-bot");
        var ring = new TrajectoryRing(4, 2, 4096);
        var events = new LearningEventQueue();
        var learner = new OnDeviceLearner(algorithm, ring, options, events, new LearnerCheckpoints(directory));
        return (learner, ring, events);
    }

    [Fact]
    public void Resume_continues_counters_parameters_normaliser_and_optimiser_from_the_latest_checkpoint()
    {
        using var dir = new TempDirectory();
        var (first, ring, _) = Build(dir.Path);
        long step = 0;
        for (int e = 0; e < 4; e++) step = LearnerGuardTests.AppendEpisode(ring, step, 40, 1f); // 156 transitions → 2 updates
        first.Pump();
        Assert.Equal(2, first.AcceptedUpdates);
        Assert.True(File.Exists(Path.Combine(dir.Path, LearnerCheckpoints.LatestName)));
        Assert.True(File.Exists(Path.Combine(dir.Path, LearnerCheckpoints.PreviousName)));
        // What the latest checkpoint must hold: the state right after update 2 (the episodes after it do not change the agent).
        float[] policy = first.Agent.Policy.Parameters.ToArray();
        double[] mean = first.Agent.ObservationStatistics!.Mean.ToArray();
        var adam = ((Ppo)first.Algorithm).Optimizer;
        float[] moments = adam.FirstMoment.ToArray();
        long adamSteps = adam.StepCount;

        var (second, secondRing, events) = Build(dir.Path);
        Assert.NotEqual(policy, second.Agent.Policy.Parameters.ToArray()); // a fresh agent is the initialisation, not the trained one
        string? loaded = second.Resume();

        Assert.Equal(Path.Combine(dir.Path, LearnerCheckpoints.LatestName), loaded);
        Assert.False(events.TryTakeWarning(out _));
        Assert.Equal(policy, second.Agent.Policy.Parameters.ToArray());
        Assert.Equal(moments, ((Ppo)second.Algorithm).Optimizer.FirstMoment.ToArray());
        Assert.Equal(adamSteps, ((Ppo)second.Algorithm).Optimizer.StepCount);
        Assert.Equal(2, second.AcceptedUpdates);
        Assert.True(second.Steps >= 2 * Batch, $"steps {second.Steps}");
        Assert.True(second.Episodes >= 3, $"episodes {second.Episodes}");
        Assert.Equal(mean.Length, second.Agent.ObservationStatistics!.Mean.Length);
        Assert.True(second.Agent.ObservationStatistics.Count > 100);
        // The loop starts on the resumed parameters.
        Assert.True(second.InitialPolicy.Hash != 0);

        // And learning continues: the counters go on from where they were.
        long stepsBefore = second.Steps;
        for (int e = 0; e < 2; e++) step = LearnerGuardTests.AppendEpisode(secondRing, step, 40, 1f);
        second.Pump();
        Assert.Equal(stepsBefore + 80, second.Steps);
        Assert.Equal(3, second.AcceptedUpdates);
    }

    [Fact]
    public void A_corrupt_latest_checkpoint_falls_back_to_the_previous_one_with_a_warning()
    {
        using var dir = new TempDirectory();
        var (first, ring, events) = Build(dir.Path);
        long step = 0;
        var updates = new List<float[]>();
        for (int u = 0; u < 2; u++)
        {
            // Exactly one batch of transitions per round (65 records of one truncated episode → 64 transitions).
            step = LearnerGuardTests.AppendEpisode(ring, step, Batch + 1, 1f, truncate: true);
            first.Pump();
            updates.Add(first.Agent.Policy.Parameters.ToArray());
        }
        Assert.Equal(2, first.AcceptedUpdates);
        Assert.NotEqual(updates[0], updates[1]);

        string latest = Path.Combine(dir.Path, LearnerCheckpoints.LatestName);
        byte[] bytes = File.ReadAllBytes(latest);
        bytes[bytes.Length / 2] ^= 0x5A;
        File.WriteAllBytes(latest, bytes);

        var (second, _, secondEvents) = Build(dir.Path);
        string? loaded = second.Resume();
        Assert.Equal(Path.Combine(dir.Path, LearnerCheckpoints.PreviousName), loaded);
        Assert.True(secondEvents.TryTakeWarning(out string warning));
        Assert.Contains(LearnerCheckpoints.LatestName, warning);
        Assert.Contains("previous", warning);
        Assert.Equal(updates[0], second.Agent.Policy.Parameters.ToArray());
        Assert.Equal(1, second.AcceptedUpdates);
        Assert.Equal(Batch + 1, second.Steps);
    }

    [Fact]
    public void Stop_writes_a_shutdown_checkpoint_and_episode_milestones_write_one_too()
    {
        using var dir = new TempDirectory();
        var options = Options(dir.Path) with { CheckpointEveryUpdates = 0, CheckpointEveryEpisodes = 2 };
        var algorithm = OnDeviceAlgorithms.Create(options, 4, 2, [8], "balance-bot");
        var ring = new TrajectoryRing(4, 2, 4096);
        var learner = new OnDeviceLearner(algorithm, ring, options, null, new LearnerCheckpoints(dir.Path));
        string latest = Path.Combine(dir.Path, LearnerCheckpoints.LatestName);
        long step = LearnerGuardTests.AppendEpisode(ring, 0, 10, 1f);
        learner.Pump();
        Assert.False(File.Exists(latest));
        LearnerGuardTests.AppendEpisode(ring, step, 10, 1f);
        learner.Pump();
        Assert.True(File.Exists(latest)); // the second episode is a milestone
        Assert.Equal(2, RobotPG.Learning.Checkpoints.CheckpointFile.ReadInfo(latest).EpisodeCount);

        LearnerGuardTests.AppendEpisode(ring, step + 10, 5, 1f);
        learner.Pump();
        learner.Stop(TimeSpan.FromSeconds(5));
        Assert.Equal(3, RobotPG.Learning.Checkpoints.CheckpointFile.ReadInfo(latest).EpisodeCount);
        Assert.Equal(25, RobotPG.Learning.Checkpoints.CheckpointFile.ReadInfo(latest).StepCount);
    }
}
