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
        var p = new FleetRolloutPublisher(ring, 3, b => { sent.Add(b.ToArray()); return true; }) { PolicyVersion = 5 };
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
        }) { PolicyVersion = 1 };
        for (int s = 0; s < 6; s++) Append(ring, s, s, 1f); // ring holds 4: two dropped, counted
        Assert.Equal(2, p.RingDrops);
        p.Pump();
        p.PolicyVersion = 2;
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
}
