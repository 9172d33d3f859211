using RobotPG.Controller.Control;
using RobotPG.Controller.Learning;
using RobotPG.Controller.Logging;
using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Networks;
using RobotPG.Numerics;
using Xunit;
using static RobotPG.Controller.Tests.Learning.LearnerGuardTests;

namespace RobotPG.Controller.Tests.Learning;

/// <summary>The on-device learner keeps the best evaluated policy and puts it back on request.</summary>
public sealed class LearnerBestPolicyTests
{
    private const int Batch = 64;

    [Fact]
    public void Keeps_the_best_evaluated_policy_and_rolls_the_robot_back_to_it_on_request()
    {
        var algorithm = new ScriptedAlgorithm(Batch);
        var ring = new TrajectoryRing(4, 2, 4096);
        var events = new LearningEventQueue();
        string checkpoints = Path.Combine(Path.GetTempPath(), "robotpg-best-" + Guid.NewGuid().ToString("N"));
        var learner = new OnDeviceLearner(algorithm, ring,
            new LearningOptions { BatchSteps = Batch, EvaluationEpisodes = 2, ReturnDropMargin = 0.5 }, events, new LearnerCheckpoints(checkpoints));
        var exchange = new PolicyExchange(learner.InitialPolicy);
        learner.Attach(exchange);
        float[] initial = algorithm.Agent.Policy.Parameters.ToArray();
        float[] policyA = (float[])initial.Clone();
        policyA.AsSpan(algorithm.Agent.Policy.MeanParameterCount).Fill(-0.01f);

        // Update 1 → policy A (log σ −0.01); the starting policy's episodes return 20.
        algorithm.Change = agent => agent.Policy.LogStd.Fill(-0.01f);
        long step = 0;
        for (int e = 0; e < 4; e++) step = AppendEpisode(ring, step, 21, 1f);
        learner.Pump();
        Assert.Equal(20.0, learner.BestReturn, 9); // the starting policy, judged by its own last two episodes
        Assert.Equal(initial, learner.BestPolicy.Policy.Parameters.ToArray());
        exchange.AcquireForStep(); // the loop takes A, releasing the initial policy's buffer for the next publication

        // A's two evaluation episodes return 30: A passes and is the best. The batch they filled runs update 2 → B.
        algorithm.Change = agent => agent.Policy.LogStd.Fill(-0.02f);
        step = AppendEpisode(ring, step, 31, 1f);
        step = AppendEpisode(ring, step, 31, 1f);
        learner.Pump();
        Assert.Equal(2, learner.AcceptedUpdates);
        Assert.Equal(30.0, learner.BestReturn, 9);
        Assert.Equal(policyA, learner.BestPolicy.Policy.Parameters.ToArray());

        // B returns 16: within the guard's margin (≥ 30 − 15), so it stays on the robot, but it is not the best.
        step = AppendEpisode(ring, step, 17, 1f);
        AppendEpisode(ring, step, 17, 1f);
        learner.Pump();
        Assert.Equal(0, learner.Rollbacks);
        Assert.Equal(30.0, learner.BestReturn, 9);
        Assert.All(algorithm.Agent.Policy.LogStd.ToArray(), s => Assert.Equal(-0.02f, s));
        ControlPolicy onRobotB = exchange.AcquireForStep();

        // A checkpoint now: latest holds B (on the robot), learner-best.ckpt holds A.
        learner.SaveCheckpoint();
        float[] expectedB = (float[])initial.Clone();
        expectedB.AsSpan(algorithm.Agent.Policy.MeanParameterCount).Fill(-0.02f);
        Assert.Equal(expectedB, ActorCritic.Load(Path.Combine(checkpoints, LearnerCheckpoints.LatestName)).Policy.Parameters.ToArray());
        Assert.Equal(policyA, ActorCritic.Load(Path.Combine(checkpoints, OnDeviceLearner.BestCheckpointName)).Policy.Parameters.ToArray());
        Directory.Delete(checkpoints, recursive: true);

        Assert.Null(learner.TryRequestRollbackToBest()); // the operator's best command: asked
        learner.Pump();

        Assert.Equal(policyA, algorithm.Agent.Policy.Parameters.ToArray());
        Assert.True(events.TryTakeRollback(out var rollback));
        while (events.TryTakeRollback(out var later)) rollback = later;
        Assert.Equal(RollbackCause.ToBest, rollback.Cause);
        Assert.Equal(30.0, rollback.Value, 9);
        Assert.Equal("to-best", LearningTelemetryPublisher.CauseName(rollback.Cause));

        // The loop's next policy acts as A: same samples as A's network from the same generator state, unlike B's.
        ControlPolicy onRobot = exchange.AcquireForStep();
        Assert.NotSame(onRobotB, onRobot);
        var networkA = new GaussianPolicy(4, 2, [8, 8], maxBatch: 1, seed: 1);
        policyA.CopyTo(networkA.Parameters);
        var referenceA = ControlPolicy.FromNetwork(networkA, null, deterministic: false, "A");
        float[] obs = [0.1f, 2f, -0.3f, 0.5f], normalized = new float[4], a = new float[2], b = new float[2], c = new float[2];
        var p1 = new Prng(9);
        var p2 = new Prng(9);
        var p3 = new Prng(9);
        onRobot.Act(obs, normalized, a, ref p1);
        referenceA.Act(obs, normalized, b, ref p2);
        onRobotB.Act(obs, normalized, c, ref p3);
        Assert.Equal(b, a);
        Assert.NotEqual(c, a);
    }

    [Fact]
    public void A_restarted_learner_keeps_the_best_policy_of_the_run_before_it()
    {
        string checkpoints = Path.Combine(Path.GetTempPath(), "robotpg-best-resume-" + Guid.NewGuid().ToString("N"));
        var options = new LearningOptions { BatchSteps = Batch, EvaluationEpisodes = 2, ReturnDropMargin = 0.5 };
        try
        {
            // Run 1, as above: the starting policy returns 20, update 1 gives A, A returns 30 (the best), update 2 gives B.
            var algorithm = new ScriptedAlgorithm(Batch);
            var ring = new TrajectoryRing(4, 2, 4096);
            var learner = new OnDeviceLearner(algorithm, ring, options, new LearningEventQueue(), new LearnerCheckpoints(checkpoints));
            var exchange = new PolicyExchange(learner.InitialPolicy);
            learner.Attach(exchange);
            algorithm.Change = agent => agent.Policy.LogStd.Fill(-0.01f);
            long step = 0;
            for (int e = 0; e < 4; e++) step = AppendEpisode(ring, step, 21, 1f);
            learner.Pump();
            exchange.AcquireForStep();
            algorithm.Change = agent => agent.Policy.LogStd.Fill(-0.02f);
            step = AppendEpisode(ring, step, 31, 1f);
            AppendEpisode(ring, step, 31, 1f);
            learner.Pump();
            Assert.Equal(30.0, learner.BestReturn, 9);
            float[] policyA = learner.BestPolicy.Policy.Parameters.ToArray();
            learner.Stop(TimeSpan.FromSeconds(5)); // the shutdown checkpoint: latest holds B, learner-best.ckpt A and its 30

            // Run 2 resumes B. A is still the best, with its return: B's own episodes (16) do not replace it.
            var algorithm2 = new ScriptedAlgorithm(Batch) { Change = agent => agent.Policy.LogStd.Fill(-0.03f) };
            var ring2 = new TrajectoryRing(4, 2, 4096);
            var events2 = new LearningEventQueue();
            var resumed = new OnDeviceLearner(algorithm2, ring2, options, events2, new LearnerCheckpoints(checkpoints));
            Assert.NotNull(resumed.Resume());
            Assert.False(events2.TryTakeWarning(out string? warning), warning);
            Assert.Equal(30.0, resumed.BestReturn, 9);
            Assert.Equal(policyA, resumed.BestPolicy.Policy.Parameters.ToArray());
            resumed.Attach(new PolicyExchange(resumed.InitialPolicy));
            step = 0;
            for (int e = 0; e < 5; e++) step = AppendEpisode(ring2, step, 17, 1f);
            resumed.Pump();
            Assert.True(resumed.AcceptedUpdates >= 3);
            resumed.SaveCheckpoint();
            Assert.Equal(30.0, resumed.BestReturn, 9);
            Assert.Equal(policyA, ActorCritic.Load(Path.Combine(checkpoints, OnDeviceLearner.BestCheckpointName)).Policy.Parameters.ToArray());
        }
        finally
        {
            if (Directory.Exists(checkpoints)) Directory.Delete(checkpoints, recursive: true);
        }
    }

    [Fact]
    public void The_operators_best_command_is_refused_with_the_reason_until_a_policy_passed_its_evaluation()
    {
        var ring = new TrajectoryRing(4, 2, 4096);
        var off = new OnDeviceLearner(new ScriptedAlgorithm(Batch), ring, new LearningOptions { BatchSteps = Batch, EvaluationEpisodes = 0 }, new LearningEventQueue());
        Assert.Equal("learning.evaluationEpisodes is 0: the learner keeps no best policy", off.TryRequestRollbackToBest());

        var algorithm = new ScriptedAlgorithm(Batch);
        var events = new LearningEventQueue();
        var learner = new OnDeviceLearner(algorithm, ring, new LearningOptions { BatchSteps = Batch, EvaluationEpisodes = 2 }, events);
        Assert.Equal("no policy has passed its evaluation yet (learning.evaluationEpisodes episodes)", learner.TryRequestRollbackToBest());
        learner.Pump();
        Assert.False(events.TryTakeRollback(out _)); // a refused command asked for nothing
    }

    [Fact]
    public void A_rollback_request_before_any_evaluation_changes_nothing()
    {
        var algorithm = new ScriptedAlgorithm(Batch);
        var ring = new TrajectoryRing(4, 2, 4096);
        var events = new LearningEventQueue();
        var learner = new OnDeviceLearner(algorithm, ring, new LearningOptions { BatchSteps = Batch, EvaluationEpisodes = 2 }, events);
        float[] before = algorithm.Agent.Policy.Parameters.ToArray();
        learner.RequestRollbackToBest();
        learner.Pump();
        Assert.Equal(double.NegativeInfinity, learner.BestReturn);
        Assert.Equal(before, algorithm.Agent.Policy.Parameters.ToArray());
        Assert.False(events.TryTakeRollback(out _));
    }
}
