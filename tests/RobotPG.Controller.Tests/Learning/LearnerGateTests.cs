using System.Diagnostics;
using RobotPG.Controller.Control;
using RobotPG.Controller.Learning;
using RobotPG.Controller.Logging;
using RobotPG.Controller.Tasks;
using RobotPG.Controller.Tests.Control;
using RobotPG.Learning.Rollouts;
using Xunit;

namespace RobotPG.Controller.Tests.Learning;

/// <summary>
/// Lockstep: the loop waits at the learner's gate, so an update takes no robot time — every transition of the next
/// batch is acted by the new policy — and a learner that stops or hangs never stops the robot's time for good.
/// </summary>
public sealed class LearnerGateTests
{
    private const int Batch = 32;

    /// <summary>Lockstep pacing without a simulator: each step may start at once (the loop runs as fast as it can).</summary>
    private sealed class Immediate : IStepClock
    {
        public long WaitUntil(long deadline) => Stopwatch.GetTimestamp();
    }

    internal sealed record Rig(ControlLoop Loop, OnDeviceLearner Learner, ScriptedAlgorithm Algorithm, PolicyExchange Exchange, LearningEventQueue Events);

    internal static Rig Build(bool hold, ILearningObserver? observer = null, LearningEventQueue? events = null, int maxEpisodeSteps = 4000)
    {
        var algorithm = new ScriptedAlgorithm(Batch);
        var ring = new TrajectoryRing(4, 2, 4096);
        events ??= new LearningEventQueue(4096);
        var learner = new OnDeviceLearner(algorithm, ring, new LearningOptions { BatchSteps = Batch, MaxKl = 1e9 }, observer ?? events);
        var exchange = new PolicyExchange(learner.InitialPolicy);
        learner.Attach(exchange);
        var task = ControlTasks.Create(LoopFixture.Config);
        var safety = new SafetySupervisor(LoopFixture.Config.Safety, 200, 2);
        var loop = new ControlLoop(new FakeRobotIo(), task, exchange, safety, 200, maxEpisodeSteps, seed: 3, rolloutRing: ring, clock: new Immediate())
        {
            LearnerGate = hold ? learner.Gate : null,
        };
        return new Rig(loop, learner, algorithm, exchange, events);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void In_lockstep_every_transition_of_the_next_batch_is_acted_by_the_policy_of_the_last_update_however_slow_the_learner(bool hold)
    {
        var rig = Build(hold);
        // Each update takes 20 ms and widens the policy (log σ + 0.5): log-probs tell the policies apart.
        var actedByPrevious = new List<int>();
        var firstActedByPrevious = new List<bool>();
        rig.Algorithm.Inspect = (rollout, agent) =>
        {
            if (rig.Learner.Updates == 1) return; // batch 1: acted by the initial policy, which is the agent's
            int older = 0;
            for (int i = 0; i < Batch; i++)
            {
                // The agent holds the policy of the last update: the one that must have acted this batch.
                float expected = agent.Policy.LogProb(rollout.Observation(i), rollout.Action(i));
                bool same = Math.Abs(expected - rollout.LogProbs[i]) <= 1e-3f * Math.Max(1f, Math.Abs(expected));
                if (i == 0) firstActedByPrevious.Add(!same);
                else if (!same) older++;
            }
            actedByPrevious.Add(older);
        };
        rig.Algorithm.Change = a =>
        {
            // With the hold: a slow learner (20 ms per update). Without it, the first update ends only once the loop
            // has run all its steps, so what the loop does not wait for is certain, not a race against 20 ms.
            if (hold) Thread.Sleep(20);
            else rig.Loop.Join(TimeSpan.FromSeconds(30)); // the test thread checks the loop ended
            foreach (ref float s in a.Policy.LogStd) s += 0.5f;
        };
        const int updates = 6;
        rig.Learner.Start();
        // Enough steps for the updates; without the hold the loop is through them before the first update ends.
        // Warm-up past the first hold: from there the steps and their waits for the learner allocate nothing.
        rig.Loop.Start(maxSteps: (updates + 1) * Batch + 1, warmupSteps: Batch + 8);
        Assert.True(rig.Loop.Join(TimeSpan.FromSeconds(30)));
        Assert.True(SpinWait.SpinUntil(() => rig.Learner.Updates >= updates, TimeSpan.FromSeconds(30)));
        rig.Learner.Stop(TimeSpan.FromSeconds(10));

        var reports = new List<LearnerUpdate>();
        while (rig.Events.TryTakeUpdate(out var u)) reports.Add(u);
        if (hold)
        {
            // Batch k+1 (k ≥ 1), after its first transition, was acted by the policy of update k only.
            Assert.Equal(Enumerable.Repeat(0, actedByPrevious.Count), actedByPrevious);
            // Its first transition is the action of the step whose reward completed batch k: the older policy's, necessarily.
            Assert.All(firstActedByPrevious, b => Assert.True(b));
            // The policy of update k ran from the step after the one that filled batch k (the loop's own count).
            for (int k = 0; k < updates - 1; k++)
            {
                Assert.True(rig.Exchange.TryGetSwap(k, out long swapStep, out _));
                Assert.Equal(reports[k].LoopStep + 1, swapStep);
            }
            Assert.True(rig.Loop.LearnerHolds >= updates - 1);
            Assert.Equal(0, rig.Loop.LearnerHoldTimeouts);
            Assert.Equal(0, rig.Loop.AllocatedBytesAfterWarmup);
        }
        else
        {
            // Real-time behaviour: the loop ran on with the old policy while the learner updated.
            Assert.Contains(actedByPrevious, n => n > 0);
            Assert.Equal(0, rig.Loop.LearnerHolds);
        }
    }

    [Fact]
    public void The_gate_is_the_last_step_before_the_batch_can_fill_and_waits_at_episode_ends_while_a_policy_is_evaluated()
    {
        var algorithm = new ScriptedAlgorithm(64);
        var ring = new TrajectoryRing(4, 2, 4096);
        var learner = new OnDeviceLearner(algorithm, ring, new LearningOptions { BatchSteps = 64, MaxKl = 1e9, EvaluationEpisodes = 1 });
        learner.Attach(new PolicyExchange(learner.InitialPolicy));
        var gate = learner.Gate;
        Assert.Equal(63, gate.LastStep); // 64 records are the fewest that can hold 64 transitions after a pending one
        Assert.False(gate.HoldsAtEpisodeEnds);

        LearnerGuardTests.AppendEpisode(ring, 0, 30, 1f); // steps 0–29: 29 transitions
        learner.Pump();
        Assert.Equal(29 + 64 - 29, gate.LastStep);
        Assert.Equal(29, gate.TakenStep);
        // The loop waits at step 40 (steps 30–39 were between episodes, no records): the next record is at 40 or later.
        gate.LoopWaitsAt(40);
        learner.Pump();
        Assert.Equal(39 + 64 - 29, gate.LastStep);
        Assert.True(gate.MayStart(74, lastEpisodeEndStep: 29));
        Assert.False(gate.MayStart(75, lastEpisodeEndStep: 29));

        // Steps 40–79: 39 more transitions fill the batch (64) at the record of step 75; the update runs, evaluation begins.
        LearnerGuardTests.AppendEpisode(ring, 40, 40, 1f);
        learner.Pump();
        Assert.Equal(1, learner.Updates);
        Assert.True(gate.HoldsAtEpisodeEnds);
        Assert.Equal(79, gate.TakenStep);
        Assert.Equal(79 + 64 - 4, gate.LastStep); // transitions 76–79 (4) are in the next batch already
        Assert.False(gate.MayStart(80, lastEpisodeEndStep: 100)); // an evaluation episode ended at 100, not taken yet
        Assert.True(gate.MayStart(80, lastEpisodeEndStep: 79));

        // An evaluated episode (it starts after the update) fills the batch at step 140: with a full batch waiting for the
        // verdict nothing is held but the episode ends (the verdict needs the evaluation's steps).
        var obs = new float[4];
        var act = new float[2];
        for (long t = 80; t <= 141; t++) Assert.True(ring.TryAppend(t, t * 5_000_000L, obs, act, 0f, 1f, TransitionFlags.None));
        learner.Pump();
        Assert.Equal(LearnerGate.Open, gate.LastStep);
        Assert.True(gate.HoldsAtEpisodeEnds);
        Assert.True(gate.MayStart(1_000_000, lastEpisodeEndStep: 79));
        // Its end is the verdict (return 62 ≥ 29, accepted), then the waiting update runs and the next evaluation begins.
        Assert.True(ring.TryAppend(142, 142 * 5_000_000L, obs, act, 0f, 0f, TransitionFlags.Terminated));
        learner.Pump();
        Assert.Equal(2, learner.Updates);
        Assert.Equal(2, learner.AcceptedUpdates);
        Assert.Equal(142 + 64, gate.LastStep);
        Assert.True(gate.HoldsAtEpisodeEnds);
        learner.Stop(TimeSpan.FromSeconds(1));
        Assert.True(gate.Released);
        Assert.Equal(LearnerGate.Open, gate.LastStep);
        Assert.True(gate.MayStart(long.MaxValue - 1, lastEpisodeEndStep: long.MaxValue - 1));
    }

    [Fact]
    public void A_learner_that_stops_after_repeated_faults_releases_the_gate_and_the_loop_runs_on()
    {
        var events = new LearningEventQueue(4096);
        // Episodes of 8 steps: every episode end faults the learner; the 4th fault stops learning.
        var rig = Build(hold: true, new ThrowingObserver(events), events, maxEpisodeSteps: 8);
        rig.Loop.LearnerHoldLimit = TimeSpan.FromMinutes(5); // a timeout would also let it run on: rule it out
        rig.Learner.Start();
        rig.Loop.Start(maxSteps: 2000, warmupSteps: 1);
        Assert.True(rig.Loop.Join(TimeSpan.FromSeconds(60)));
        rig.Learner.Stop(TimeSpan.FromSeconds(10));
        Assert.True(rig.Learner.LearningStopped);
        Assert.Equal(OnDeviceLearner.MaxRestarts + 1, rig.Learner.Faults);
        Assert.True(rig.Learner.Gate.Released);
        Assert.Equal(2000, rig.Loop.StepCount);
        Assert.Equal(0, rig.Loop.LearnerHoldTimeouts);
        Assert.Equal(SafetyCause.Shutdown, rig.Loop.Safety.Cause);
    }

    [Fact]
    public void A_hung_learner_is_given_up_on_after_the_hold_limit_counted_and_the_loop_holds_no_more()
    {
        var rig = Build(hold: true);
        // The learner thread never runs (hung before its first pump): the gate stays at its first position.
        rig.Loop.LearnerHoldLimit = TimeSpan.FromMilliseconds(100);
        rig.Loop.Start(maxSteps: 500, warmupSteps: 1);
        Assert.True(rig.Loop.Join(TimeSpan.FromSeconds(30)));
        Assert.Equal(500, rig.Loop.StepCount);
        Assert.Equal(1, rig.Loop.LearnerHoldTimeouts);
        Assert.Equal(1, rig.Loop.LearnerHolds); // held once, at step 32, then no more
        Assert.Equal(0, rig.Learner.Updates);
    }

    [Fact]
    public void A_learner_stopped_while_the_loop_waits_for_it_releases_the_loop_at_once()
    {
        var rig = Build(hold: true);
        rig.Loop.LearnerHoldLimit = TimeSpan.FromMinutes(5);
        rig.Loop.Start(maxSteps: 500, warmupSteps: 1);
        // Held at step 32 (the batch could be full at the record of step 31), on the loop's own count.
        Assert.True(SpinWait.SpinUntil(() => rig.Loop.LearnerHolds == 1, TimeSpan.FromSeconds(30)));
        Assert.Equal(Batch, rig.Loop.StepCount);
        rig.Learner.Stop(TimeSpan.FromSeconds(1));
        Assert.True(rig.Loop.Join(TimeSpan.FromSeconds(30)));
        Assert.Equal(500, rig.Loop.StepCount);
        Assert.Equal(0, rig.Loop.LearnerHoldTimeouts);
    }
}
