using RobotPG.Controller.Control;
using RobotPG.Controller.Fleet;
using RobotPG.Controller.Logging;
using RobotPG.Messaging;
using Xunit;

namespace RobotPG.Controller.Tests.Fleet;

public sealed class FleetRolloutPublisherTests
{
    private static void Append(TrajectoryRing ring, long step, float x, float reward, TransitionFlags flags = TransitionFlags.None) =>
        ring.TryAppend(step, step * 1000, [x, 0f], [x / 10], logProb: -x, reward, flags);

    [Fact]
    public void Records_pair_into_transitions_with_the_next_steps_reward_and_batches_carry_version_and_next_observation()
    {
        var ring = new TrajectoryRing(2, 1, 64);
        var sent = new List<byte[]>();
        var p = new FleetRolloutPublisher(ring, 3, b => { sent.Add(b.ToArray()); return true; });
        p.PolicyRunsFrom(long.MinValue, 5);
        for (int s = 0; s < 4; s++) Append(ring, s, s + 1, reward: 10 * s);
        Append(ring, 4, 5, reward: 40, TransitionFlags.Terminated);
        Append(ring, 5, 0, reward: 0, TransitionFlags.Idle);
        p.Pump();
        Assert.Single(sent); // 4 transitions so far: one full batch of 3, one waiting
        var b = new RolloutBatch(2, 1, 3);
        Assert.Equal(FrameStatus.Ok, b.TryDecode(sent[0]));
        Assert.Equal(5UL, b.PolicyVersion);
        Assert.Equal(3, b.Count);
        // Transition 0: obs and log-prob of step 0, the reward the task reported at step 1.
        Assert.Equal(1f, b.Observation(0)[0]);
        Assert.Equal(-1f, b.LogProb(0));
        Assert.Equal(10f, b.Reward(0));
        Assert.Equal(30f, b.Reward(2));
        Assert.True(b.HasNextObservation);
        Assert.Equal(4f, b.NextObservation[0]);
        Assert.True(p.Flush());
        Assert.Equal(FrameStatus.Ok, b.TryDecode(sent[1]));
        Assert.Equal(1, b.Count);
        Assert.Equal(40f, b.Reward(0));
        Assert.True(b.Terminated(0));
        Assert.False(b.HasNextObservation);
        Assert.Equal(1, p.Episodes);
    }

    [Fact]
    public void A_new_policy_version_starts_a_new_batch_and_refusals_and_ring_drops_are_counted()
    {
        var ring = new TrajectoryRing(2, 1, 4);
        var sent = new List<RolloutBatch>();
        bool accept = false;
        var p = new FleetRolloutPublisher(ring, 8, bytes =>
        {
            var b = new RolloutBatch(2, 1, 8);
            Assert.Equal(FrameStatus.Ok, b.TryDecode(bytes));
            sent.Add(b);
            return accept;
        });
        p.PolicyRunsFrom(long.MinValue, 1);
        for (int s = 0; s < 6; s++) Append(ring, s, s, 1f); // ring holds 4: two dropped, counted
        Assert.Equal(2, p.RingDrops);
        p.Pump();
        p.PolicyRunsFrom(3, 2); // the action of step 3 (its transition completes with step 4) was sampled by version 2
        for (int s = 4; s < 7; s++) Append(ring, s, s, 1f); // step 4 follows 3: no gap
        p.Pump();
        Assert.Single(sent);
        Assert.Equal(1UL, sent[0].PolicyVersion);
        Assert.Equal(3, sent[0].Count);
        Assert.Equal(1, p.BatchesRefused);
        accept = true;
        Assert.True(p.Flush());
        Assert.Equal(2UL, sent[1].PolicyVersion);
        Assert.Equal(1, p.BatchesPublished);
    }

    [Fact]
    public void Transitions_carry_the_version_the_loop_ran_not_the_one_offered_while_it_stalled()
    {
        var ring = new TrajectoryRing(2, 1, 64);
        var sent = new List<RolloutBatch>();
        var p = new FleetRolloutPublisher(ring, 8, bytes =>
        {
            var b = new RolloutBatch(2, 1, 8);
            Assert.Equal(FrameStatus.Ok, b.TryDecode(bytes));
            sent.Add(b);
            return true;
        });
        var start = ControlPolicy.Zero(2, 1);
        var exchange = new PolicyExchange(start);
        p.Attach(exchange);
        void Step(long s)
        {
            exchange.AcquireForStep(s);
            Append(ring, s, s + 1, reward: s);
        }

        for (int s = 0; s < 3; s++) Step(s);
        var next = ControlPolicy.Zero(2, 1);
        next.Version = 3;
        exchange.Publish(next); // offered while the loop waits for its next tick
        p.Pump();
        p.Pump();
        for (int s = 3; s < 6; s++) Step(s); // taken up at step 3
        p.Pump();
        Assert.True(p.Flush());

        Assert.Equal(2, sent.Count);
        Assert.Equal(0UL, sent[0].PolicyVersion);
        Assert.Equal(3, sent[0].Count); // the actions of steps 0, 1 and 2
        Assert.Equal(3f, sent[0].Observation(2)[0]);
        Assert.Equal(3UL, sent[1].PolicyVersion);
        Assert.Equal(2, sent[1].Count); // steps 3 and 4 (step 5 waits for its reward)
        Assert.Equal(4f, sent[1].Observation(0)[0]);
        Assert.True(exchange.TryGetSwap(0, out long from, out ulong version));
        Assert.Equal((3L, 3UL), (from, version));
        Assert.False(exchange.TryGetSwap(1, out _, out _));
    }
}
