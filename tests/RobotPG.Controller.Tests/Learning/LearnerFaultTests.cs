using RobotPG.Controller.Control;
using RobotPG.Controller.Learning;
using RobotPG.Controller.Logging;
using RobotPG.Learning.Algorithms;
using Xunit;

namespace RobotPG.Controller.Tests.Learning;

/// <summary>A learner that fails: the loop keeps the last good policy, the last good checkpoint is never overwritten, learning restarts or says it stopped.</summary>
public sealed class LearnerFaultTests
{
    private const int Batch = 64;

    private static (OnDeviceLearner Learner, ScriptedAlgorithm Algorithm, TrajectoryRing Ring, PolicyExchange Exchange, LearningEventQueue Events)
        Build(string checkpoints, ILearningObserver? observer = null)
    {
        var algorithm = new ScriptedAlgorithm(Batch, normalizeObservations: true);
        var ring = new TrajectoryRing(4, 2, 4096);
        var events = new LearningEventQueue();
        var options = new LearningOptions { BatchSteps = Batch, CheckpointDirectory = checkpoints, CheckpointEveryUpdates = 1, CheckpointEveryEpisodes = 0, MaxKl = 1e9 };
        var learner = new OnDeviceLearner(algorithm, ring, options, observer ?? events, new LearnerCheckpoints(checkpoints));
        var exchange = new PolicyExchange(learner.InitialPolicy);
        learner.Attach(exchange);
        return (learner, algorithm, ring, exchange, events);
    }

    private static List<string> Warnings(LearningEventQueue events)
    {
        var list = new List<string>();
        while (events.TryTakeWarning(out var w)) list.Add(w);
        return list;
    }

    [Fact]
    public void An_update_that_throws_halfway_is_rolled_back_reported_and_never_checkpointed()
    {
        using var dir = new TempDirectory();
        var (learner, algorithm, ring, exchange, events) = Build(dir.Path);
        algorithm.Change = a => a.Policy.Parameters[0] += 0.01f; // a good update first
        long step = LearnerGuardTests.AppendEpisode(ring, 0, 70, 1f);
        learner.Pump();
        Assert.Equal(1, learner.AcceptedUpdates);
        string latest = Path.Combine(dir.Path, LearnerCheckpoints.LatestName);
        byte[] goodCheckpoint = File.ReadAllBytes(latest);
        float[] good = learner.Agent.Policy.Parameters.ToArray();
        var published = exchange.AcquireForStep();

        // The next update writes into the agent, then throws (a bug, an out-of-memory, a bad batch).
        algorithm.Change = a =>
        {
            a.Policy.Parameters[0] = 1234f;
            throw new InvalidOperationException("injected learner fault");
        };
        LearnerGuardTests.AppendEpisode(ring, step, 70, 1f);
        learner.Pump(); // must not throw

        Assert.Equal(good, learner.Agent.Policy.Parameters.ToArray()); // the half-updated agent was restored
        Assert.Same(published, exchange.AcquireForStep());             // the loop keeps the last good policy
        Assert.Equal(1, learner.Rollbacks);
        Assert.True(events.TryTakeRollback(out var rollback));
        Assert.Equal(RollbackCause.Exception, rollback.Cause);
        Assert.Equal("exception", LearningTelemetryPublisher.CauseName(rollback.Cause));
        Assert.Contains(Warnings(events), w => w.Contains("InvalidOperationException: injected learner fault"));
        Assert.Equal("update 2 threw InvalidOperationException: injected learner fault", learner.LastFailure);
        Assert.Equal(goodCheckpoint, File.ReadAllBytes(latest)); // no checkpoint of the failed update

        // Learning goes on: the next good update is accepted.
        algorithm.Change = a => a.Policy.Parameters[0] += 0.01f;
        LearnerGuardTests.AppendEpisode(ring, step + 70, 70, 1f);
        learner.Pump();
        Assert.Equal(2, learner.AcceptedUpdates);
    }

    [Fact]
    public void A_poisoned_agent_never_overwrites_the_last_good_checkpoint_at_stop()
    {
        using var dir = new TempDirectory();
        var (learner, algorithm, ring, _, events) = Build(dir.Path);
        LearnerGuardTests.AppendEpisode(ring, 0, 70, 1f);
        learner.Pump();
        string latest = Path.Combine(dir.Path, LearnerCheckpoints.LatestName);
        byte[] goodCheckpoint = File.ReadAllBytes(latest);

        // A NaN observation reaches the statistics (the record was logged before the safety trip).
        var obs = new float[] { float.NaN, 0, 0, 0 };
        ring.TryAppend(1000, 0, obs, new float[2], 0, 0, TransitionFlags.None);
        learner.Pump();
        learner.Stop(TimeSpan.FromSeconds(1)); // the shutdown checkpoint

        Assert.Equal(goodCheckpoint, File.ReadAllBytes(latest));
        Assert.Contains(Warnings(events), w => w.StartsWith("checkpoint not written: the agent holds NaN", StringComparison.Ordinal));
    }

    [Fact]
    public void Learner_thread_faults_restart_it_then_learning_says_it_stopped()
    {
        using var dir = new TempDirectory();
        var events = new LearningEventQueue();
        var (learner, _, ring, _, _) = Build(dir.Path, new ThrowingObserver(events));
        learner.Start();
        long step = 0;
        var warnings = new List<string>();
        for (int e = 0; e < OnDeviceLearner.MaxRestarts + 1; e++)
        {
            step = LearnerGuardTests.AppendEpisode(ring, step, 5, 1f);
            // Each episode end is one fault; wait for the learner's own count, not for time.
            Assert.True(SpinWait.SpinUntil(() => learner.Faults == e + 1, TimeSpan.FromSeconds(10)), $"fault {e + 1} not seen");
        }
        Assert.True(SpinWait.SpinUntil(() => learner.LearningStopped, TimeSpan.FromSeconds(10)));
        learner.Stop(TimeSpan.FromSeconds(5));
        warnings.AddRange(Warnings(events));
        Assert.Equal(OnDeviceLearner.MaxRestarts, warnings.Count(w => w.StartsWith("learner fault", StringComparison.Ordinal)));
        Assert.Contains(warnings, w => w.StartsWith($"learning stopped after {OnDeviceLearner.MaxRestarts + 1} learner faults", StringComparison.Ordinal));
        Assert.Equal("IOException: injected observer fault", learner.LastFailure);
    }
}
