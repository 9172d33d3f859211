using System.Text.Json;
using RobotPG.Controller.Cli;
using RobotPG.Controller.Control;
using RobotPG.Controller.Logging;
using RobotPG.Controller.Telemetry;
using RobotPG.Controller.Tests.Control;
using RobotPG.Controller.Tests.Learning;
using RobotPG.Messaging;

namespace RobotPG.Controller.Tests.Telemetry;

/// <summary>
/// The lockstep holds where a user sees them: the controller status telemetry (<c>loop.logHoldMs</c>,
/// <c>loop.learnerHolds</c>, <c>loop.learnerHoldTimeouts</c>) and <c>robotpg run</c>'s exit lines carry the loop's own
/// counters, taken from loops that really held (a log ring with no writer, a slow learner, a learner that never answers).
/// </summary>
public sealed class LockstepHoldsReportTests
{
    /// <summary>The <c>loop</c> object of the status JSON as <see cref="TelemetryPublisher.PublishOnce"/> serialises it.</summary>
    private static async Task<(long LogHoldMs, long LearnerHolds, long LearnerHoldTimeouts)> PublishedHolds(ControlLoop loop)
    {
        await using var client = new ResilientMqttClient(new MqttEndpoint("127.0.0.1", TelemetryPublisherTests.ClosedPort(), "holds"));
        using var publisher = new TelemetryPublisher(loop, 200, null, null, client, new Topics("bot"), "zero", 5);
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(publisher.Snapshot(), ControllerJsonContext.Default.ControllerStatusTelemetry);
        using var doc = JsonDocument.Parse(json);
        var l = doc.RootElement.GetProperty("loop");
        return (l.GetProperty("logHoldMs").GetInt64(), l.GetProperty("learnerHolds").GetInt64(), l.GetProperty("learnerHoldTimeouts").GetInt64());
    }

    [Fact]
    public async Task A_full_log_ring_that_held_the_loop_shows_its_waits_in_telemetry_and_the_exit_line()
    {
        using var dir = new TempDirectory();
        var ring = new TrajectoryRing(4, 2, 16);
        var f = new LoopFixture(rateHz: 2000, logRing: ring);
        f.Loop.HoldWhileLogFull = true;
        f.Loop.Start(maxSteps: 100);
        // No log writer yet (a disk stuck in an fsync): the loop holds at step 16 until one drains the ring.
        Assert.True(SpinWait.SpinUntil(() => f.Loop.LogHolds >= 5, TimeSpan.FromSeconds(10)));
        using var writer = new TrajectoryLogWriter(ring, dir.Path, 1 << 20, "hold", 0, DateTimeOffset.UtcNow);
        Assert.True(f.Loop.Join(TimeSpan.FromSeconds(30)));
        long waits = f.Loop.LogHolds; // final: the loop ended

        Assert.Equal((waits, 0L, 0L), await PublishedHolds(f.Loop));
        Assert.Equal($"robotpg: lockstep holds: {waits} ms waiting for the log, 0 steps waited for the learner", RunCommand.HoldsLine(f.Loop));
        Assert.Null(RunCommand.HungLearnerLine(f.Loop));
    }

    [Fact]
    public async Task Steps_that_waited_for_a_slow_learner_show_in_telemetry_and_the_exit_line()
    {
        var rig = LearnerGateTests.Build(hold: true);
        // 20 ms per update: the loop reaches the gate long before the update is done, at every batch.
        rig.Algorithm.Change = _ => Thread.Sleep(20);
        rig.Learner.Start();
        rig.Loop.Start(maxSteps: 4 * 32 + 1, warmupSteps: 1);
        Assert.True(rig.Loop.Join(TimeSpan.FromSeconds(30)));
        rig.Learner.Stop(TimeSpan.FromSeconds(10));
        long holds = rig.Loop.LearnerHolds;
        // Held at the gate of each batch: steps 32, 64, 96, 128 (one fewer only if the loop thread was preempted past an update).
        Assert.InRange(holds, 1, 4);

        Assert.Equal((0L, holds, 0L), await PublishedHolds(rig.Loop));
        Assert.Equal($"robotpg: lockstep holds: 0 ms waiting for the log, {holds} steps waited for the learner", RunCommand.HoldsLine(rig.Loop));
        Assert.Null(RunCommand.HungLearnerLine(rig.Loop));
    }

    [Fact]
    public async Task A_learner_given_up_on_is_a_timeout_in_telemetry_and_a_warning_at_exit()
    {
        var rig = LearnerGateTests.Build(hold: true);
        // The learner thread never runs (hung before its first pump): the hold at step 32 runs out of its limit.
        rig.Loop.LearnerHoldLimit = TimeSpan.FromMilliseconds(100);
        rig.Loop.Start(maxSteps: 200, warmupSteps: 1);
        Assert.True(rig.Loop.Join(TimeSpan.FromSeconds(30)));
        Assert.Equal(1, rig.Loop.LearnerHoldTimeouts);

        Assert.Equal((0L, 1L, 1L), await PublishedHolds(rig.Loop));
        Assert.Equal("robotpg: lockstep holds: 0 ms waiting for the log, 1 step waited for the learner", RunCommand.HoldsLine(rig.Loop));
        Assert.Equal(
            "robotpg: warning: the learner stopped answering (its update was not done after 0.1 s of waiting); the loop ran on without waiting for it, so later updates, if any, took robot time",
            RunCommand.HungLearnerLine(rig.Loop));
    }

    [Fact]
    public async Task A_loop_that_never_held_adds_no_exit_line_and_zeros_in_telemetry()
    {
        // Real time (the default): a full ring drops records instead of holding, and no learner gate is set.
        var f = new LoopFixture(rateHz: 2000, logRing: new TrajectoryRing(4, 2, 16));
        f.Steps(40);
        Assert.Equal(24, f.Loop.Counters.LogDrops);
        Assert.Equal((0L, 0L, 0L), await PublishedHolds(f.Loop));
        Assert.Null(RunCommand.HoldsLine(f.Loop));
        Assert.Null(RunCommand.HungLearnerLine(f.Loop));
    }
}
