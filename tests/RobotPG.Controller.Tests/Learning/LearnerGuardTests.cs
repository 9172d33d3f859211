using RobotPG.Controller.Control;
using RobotPG.Controller.Learning;
using RobotPG.Controller.Logging;
using Xunit;

namespace RobotPG.Controller.Tests.Learning;

/// <summary>
/// The learner's transition assembly, publication through the policy exchange and its three guards,
/// each triggered by an injected bad update (issue 7 §3).
/// </summary>
public sealed class LearnerGuardTests
{
    private const int Batch = 64;

    /// <summary>Appends one episode of <paramref name="length"/> in-episode records: reward r each step, the last one terminal (reward 0) or truncated.</summary>
    internal static long AppendEpisode(TrajectoryRing ring, long firstStep, int length, float reward, bool truncate = false)
    {
        var obs = new float[4];
        var act = new float[2];
        for (int t = 0; t < length; t++)
        {
            bool last = t == length - 1;
            obs[0] = 0.01f * t;
            obs[1] = firstStep + t;
            act[0] = t;
            var flags = !last ? TransitionFlags.None : truncate ? TransitionFlags.Truncated : TransitionFlags.Terminated;
            float r = last && !truncate ? 0f : reward;
            Assert.True(ring.TryAppend(firstStep + t, (firstStep + t) * 5_000_000L, obs, act, logProb: -t, r, flags));
        }
        return firstStep + length;
    }

    private static (OnDeviceLearner Learner, ScriptedAlgorithm Algorithm, TrajectoryRing Ring, PolicyExchange Exchange, LearningEventQueue Events)
        Build(LearningOptions? options = null, ScriptedAlgorithm? algorithm = null)
    {
        algorithm ??= new ScriptedAlgorithm(Batch);
        var ring = new TrajectoryRing(4, 2, 4096);
        var events = new LearningEventQueue();
        var learner = new OnDeviceLearner(algorithm, ring, options ?? new LearningOptions { BatchSteps = Batch }, events);
        var exchange = new PolicyExchange(learner.InitialPolicy);
        learner.Attach(exchange);
        return (learner, algorithm, ring, exchange, events);
    }

    [Fact]
    public void Rewards_and_done_flags_of_step_t_plus_1_go_to_the_action_of_step_t()
    {
        var (learner, algorithm, ring, _, _) = Build();
        long step = AppendEpisode(ring, 0, 30, 1f);              // 29 transitions, the last terminal
        step = AppendEpisode(ring, step + 7, 20, 2f, truncate: true); // 19 transitions, the last truncated
        AppendEpisode(ring, step + 3, 40, 3f);                   // the first 16 fill the batch of 64
        learner.Pump();

        var seen = Assert.Single(algorithm.Seen);
        // Episode 1: transitions 0..28; the terminal record's reward (0) belongs to transition 28.
        for (int i = 0; i < 28; i++) Assert.Equal(1f, seen.Rewards[i]);
        Assert.Equal(0f, seen.Rewards[28]);
        Assert.True(seen.Terminated[28]);
        Assert.Equal(1, seen.Terminated.Count(x => x));
        Assert.Equal(1, seen.Truncated.Count(x => x));
        // Episode 2: transitions 29..47, the last truncated with a bootstrap value, not terminal.
        Assert.Equal(2f, seen.Rewards[47]);
        Assert.True(seen.Truncated[47]);
        Assert.False(seen.Terminated[47]);
        // Episode 3: transitions 48..63 of the 39 it will have.
        Assert.Equal(3f, seen.Rewards[63]);
        Assert.False(seen.Terminated[63] || seen.Truncated[63]);
        // Observations are the state the action was taken in: obs[1] carries the step number.
        Assert.Equal(0f, seen.Observations[0 * 4 + 1]);
        Assert.Equal(37f, seen.Observations[29 * 4 + 1]); // first record of episode 2 (step 30 + 7)
        Assert.Equal(-5f, seen.LogProbs[5]);
        // Pump goes on after the update: the third episode finishes too (39 × 3).
        Assert.Equal(3, learner.Episodes);
        Assert.Equal(30 + 20 + 40, learner.Steps);
        Assert.Equal((29.0 + 40.0 + 117.0) / 3, learner.MeanReturn, 9);
    }

    [Fact]
    public void An_accepted_update_is_published_and_the_loop_takes_it_at_its_next_step()
    {
        var (learner, algorithm, ring, exchange, events) = Build();
        algorithm.Change = agent => agent.Policy.LogStd.Fill(-0.01f); // a small step: KL = 2·(−0.01 + e^0.02/2 − 0.5) ≈ 2e−4
        var initial = exchange.AcquireForStep();
        AppendEpisode(ring, 0, Batch + 1, 1f);
        learner.Pump();

        Assert.Equal(1, learner.AcceptedUpdates);
        Assert.Equal(0, learner.Rollbacks);
        var next = exchange.AcquireForStep();
        Assert.NotSame(initial, next);
        Assert.Equal(1, exchange.Swaps);
        Assert.True(events.TryTakeUpdate(out var update));
        Assert.True(update.Accepted);
        // KL(N(μ, 1) ‖ N(μ, σ²)) = log σ + 1/(2σ²) − 1/2 per dimension, σ = e^−0.01.
        double expectedKl = 2 * (-0.01 + Math.Exp(0.02) / 2 - 0.5);
        Assert.Equal(expectedKl, update.MeanKl, 8);

        // The next update goes into the buffer the loop released, and the loop swaps again.
        algorithm.Change = agent => agent.Policy.LogStd.Fill(-0.02f);
        AppendEpisode(ring, 1000, Batch + 1, 1f);
        learner.Pump();
        Assert.Same(initial, exchange.AcquireForStep());
        Assert.Equal(2, exchange.Swaps);
    }

    [Fact]
    public void An_update_with_NaN_parameters_is_rolled_back_and_not_published()
    {
        var (learner, algorithm, ring, exchange, events) = Build();
        float[] before = algorithm.Agent.Policy.Parameters.ToArray();
        float[] valueBefore = algorithm.Agent.Value.Parameters.ToArray();
        algorithm.Change = agent =>
        {
            agent.Policy.Parameters[3] = float.NaN;
            agent.Value.Parameters[0] = float.PositiveInfinity;
        };
        var initial = exchange.AcquireForStep();
        AppendEpisode(ring, 0, Batch + 1, 1f);
        learner.Pump();

        Assert.Equal(1, learner.Rollbacks);
        Assert.Equal(0, learner.AcceptedUpdates);
        Assert.Equal(before, algorithm.Agent.Policy.Parameters.ToArray());
        Assert.Equal(valueBefore, algorithm.Agent.Value.Parameters.ToArray());
        Assert.Same(initial, exchange.AcquireForStep());
        Assert.True(events.TryTakeRollback(out var rollback));
        Assert.Equal(RollbackCause.NonFinite, rollback.Cause);
    }

    [Fact]
    public void An_update_beyond_the_KL_bound_is_rolled_back_with_the_KL_it_had()
    {
        var (learner, algorithm, ring, exchange, events) = Build(new LearningOptions { BatchSteps = Batch, MaxKl = 0.1 });
        float[] before = algorithm.Agent.Policy.Parameters.ToArray();
        algorithm.Change = agent => agent.Policy.LogStd.Fill(1f); // σ 1 → e: KL per dimension 1 + e^−2/2 − 0.5
        var initial = exchange.AcquireForStep();
        AppendEpisode(ring, 0, Batch + 1, 1f);
        learner.Pump();

        Assert.True(events.TryTakeRollback(out var rollback));
        Assert.Equal(RollbackCause.KlBound, rollback.Cause);
        Assert.Equal(2 * (1 + Math.Exp(-2) / 2 - 0.5), rollback.Value, 5);
        Assert.Equal(0.1, rollback.Bound);
        Assert.Equal(before, algorithm.Agent.Policy.Parameters.ToArray());
        Assert.Same(initial, exchange.AcquireForStep());
        Assert.Equal(0, exchange.Swaps);
    }

    [Fact]
    public void A_policy_whose_episodes_return_less_than_the_margin_allows_is_rolled_back_and_the_old_one_republished()
    {
        var options = new LearningOptions { BatchSteps = Batch, EvaluationEpisodes = 2, ReturnDropMargin = 0.5 };
        var (learner, algorithm, ring, exchange, events) = Build(options);
        float[] before = algorithm.Agent.Policy.Parameters.ToArray();
        algorithm.Change = agent => agent.Policy.LogStd.Fill(-0.01f);
        // Three episodes of return 20 (60 transitions) under the old policy; the fourth completes the batch.
        long step = 0;
        for (int e = 0; e < 4; e++) step = AppendEpisode(ring, step, 21, 1f);
        learner.Pump();
        Assert.Equal(1, learner.AcceptedUpdates);
        Assert.NotSame(learner.InitialPolicy, exchange.AcquireForStep());

        // The new policy's two episodes return 5 each: below 20 − 0.5·20 = 10.
        step = AppendEpisode(ring, step, 6, 1f);
        AppendEpisode(ring, step, 6, 1f);
        learner.Pump();

        Assert.True(events.TryTakeRollback(out var rollback));
        Assert.Equal(RollbackCause.ReturnDrop, rollback.Cause);
        Assert.Equal(5.0, rollback.Value, 9);
        Assert.Equal(10.0, rollback.Bound, 9);
        Assert.Equal(before, algorithm.Agent.Policy.Parameters.ToArray());
        // The old parameters are what the loop gets next.
        var republished = exchange.AcquireForStep();
        Assert.Equal(2, exchange.Swaps);
        Assert.Equal(1, learner.Rollbacks);
        Assert.Same(learner.InitialPolicy, republished);
    }

    [Fact]
    public void A_policy_that_keeps_its_return_within_the_margin_passes_the_evaluation()
    {
        var options = new LearningOptions { BatchSteps = Batch, EvaluationEpisodes = 2, ReturnDropMargin = 0.5 };
        var (learner, algorithm, ring, _, events) = Build(options);
        algorithm.Change = agent => agent.Policy.LogStd.Fill(-0.01f);
        long step = 0;
        for (int e = 0; e < 4; e++) step = AppendEpisode(ring, step, 21, 1f);
        learner.Pump();
        step = AppendEpisode(ring, step, 13, 1f); // 12 ≥ 10: within the margin
        AppendEpisode(ring, step, 13, 1f);
        learner.Pump();
        Assert.Equal(0, learner.Rollbacks);
        Assert.False(events.TryTakeRollback(out _));
        Assert.Equal(6, learner.Episodes);
        Assert.Equal(1, learner.AcceptedUpdates);
    }
}
