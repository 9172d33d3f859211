using RobotPG.Controller.Control;
using RobotPG.Controller.Logging;
using RobotPG.Learning.Networks;

namespace RobotPG.Controller.Tests.Control;

public sealed class LoopRunTests
{
    [Fact]
    public void A_control_step_allocates_nothing_after_warmup_measured_on_the_loop_thread()
    {
        // A real 64×64 Gaussian policy sampling actions, the log ring drained by its writer thread.
        var network = new GaussianPolicy(4, 2, [64, 64], maxBatch: 1, seed: 5);
        var policy = ControlPolicy.FromNetwork(network, normalizer: null, deterministic: false, "test");
        using var dir = new TempDirectory();
        var ring = new TrajectoryRing(4, 2, 4096);
        using var writer = new TrajectoryLogWriter(ring, dir.Path, 1 << 24, "alloc", policy.Hash, DateTimeOffset.UtcNow);
        // 5 kHz so 11,000 paced steps take about 2 s; the step itself is the same at any rate.
        var f = new LoopFixture(policy, rateHz: 5000, logRing: ring);
        f.Loop.Start(maxSteps: 11_000, warmupSteps: 1_000);
        Assert.True(f.Loop.Join(TimeSpan.FromSeconds(60)));
        Assert.Equal(10_000, f.Loop.StepsMeasured);
        Assert.Equal(0, f.Loop.AllocatedBytesAfterWarmup);
        Assert.Equal(11_000, f.Loop.StepCount);
        Assert.Equal(11_000, f.Loop.PeriodError.Count);
    }

    [Fact]
    public void Stop_request_turns_the_motors_off_last_and_every_step_is_logged()
    {
        using var dir = new TempDirectory();
        var ring = new TrajectoryRing(4, 2, 1024);
        using var writer = new TrajectoryLogWriter(ring, dir.Path, 1 << 20, "stop", 0, DateTimeOffset.UtcNow);
        var f = new LoopFixture(rateHz: 1000, logRing: ring);
        f.Io.RecordCalls = true;
        f.Loop.Start(maxSteps: 50);
        Assert.True(f.Loop.Join(TimeSpan.FromSeconds(30)));
        Assert.True(writer.Flush(TimeSpan.FromSeconds(10)));
        Assert.Equal('S', f.Io.Calls[^1]);
        Assert.Equal(50, f.Io.Calls.Count(c => c == 'D'));
        Assert.Equal(50, writer.RecordsWritten);
        Assert.Equal(SafetyCause.Shutdown, f.Safety.Cause);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void In_lockstep_a_full_log_ring_holds_the_next_step_so_every_record_reaches_the_log(bool hold)
    {
        using var dir = new TempDirectory();
        var ring = new TrajectoryRing(4, 2, 16);
        var f = new LoopFixture(rateHz: 2000, logRing: ring);
        f.Loop.HoldWhileLogFull = hold;
        f.Loop.Start(maxSteps: 100);
        // No log writer yet (a disk stuck in an fsync): the ring fills after 16 steps.
        if (hold)
        {
            Assert.True(SpinWait.SpinUntil(() => f.Loop.LogHolds >= 5, TimeSpan.FromSeconds(10)));
            Assert.Equal(16, f.Loop.StepCount); // held on the loop's own count: no step ran without room for its record
        }
        else
        {
            Assert.True(f.Loop.Join(TimeSpan.FromSeconds(10)));
        }
        using var writer = new TrajectoryLogWriter(ring, dir.Path, 1 << 20, "hold", 0, DateTimeOffset.UtcNow);
        Assert.True(f.Loop.Join(TimeSpan.FromSeconds(30)));
        Assert.True(writer.Flush(TimeSpan.FromSeconds(10)));
        Assert.Equal(100, f.Loop.StepCount);
        using var reader = TrajectoryLogReader.Open(Assert.Single(writer.Files));
        var steps = new List<long>();
        while (reader.TryReadNext(out var r)) steps.Add(r.Step);
        if (hold)
        {
            Assert.Equal(Enumerable.Range(0, 100).Select(i => (long)i), steps);
            Assert.Equal(0, f.Loop.Counters.LogDrops);
        }
        else
        {
            // Real time (the default) never waits on the disk: what does not fit is dropped and counted.
            Assert.Equal(Enumerable.Range(0, 16).Select(i => (long)i), steps);
            Assert.Equal(84, f.Loop.Counters.LogDrops);
            Assert.Equal(0, f.Loop.LogHolds);
        }
    }

    [Fact]
    public void Overruns_are_counted_and_missed_deadlines_are_skipped_not_bursted()
    {
        var slow = new SlowTask(TimeSpan.FromMilliseconds(2.5));
        var f = new LoopFixture(task: slow, rateHz: 1000);
        long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
        f.Loop.Run(maxSteps: 40);
        double seconds = System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalSeconds;
        // Every step (2.5 ms of work) misses the next 1 ms deadline.
        Assert.Equal(40, f.Loop.Counters.Overruns);
        // Skipping means each step starts on a later deadline: ≥ 3 ms apart, so ≥ 117 ms in all;
        // bursting to catch up would start the next step at once (≈ 100 ms).
        Assert.True(seconds >= 0.117, $"{seconds * 1000:F1} ms for 40 steps");
    }

    [Fact]
    public void Missed_periods_count_steps_on_a_stale_frame_and_frames_never_read()
    {
        var f = new LoopFixture();
        f.Steps(10);
        Assert.Equal(0, f.Loop.Counters.MissedPeriods);
        f.Io.Fresh = false;
        f.Steps(2); // the same frame twice more
        f.Io.Fresh = true;
        f.Steps(3);
        Assert.Equal(2, f.Loop.Counters.MissedPeriods);
        f.Io.SkipFrames(3); // frames n+1..n+3 were never read
        f.Steps(5);
        Assert.Equal(2 + 3, f.Loop.Counters.MissedPeriods);
    }

    /// <summary>A task whose evaluation takes a fixed busy time (a slow bus or a slow policy).</summary>
    private sealed class SlowTask(TimeSpan work) : RobotPG.Controller.Tasks.IControlTask
    {
        public int ObservationSize => 4;

        public int ActionSize => 2;

        public void BeginEpisode(RobotPG.Hardware.SensorFrame frame)
        {
        }

        public RobotPG.Controller.Tasks.TaskOutcome Evaluate(RobotPG.Hardware.SensorFrame frame, float dt, Span<float> observation)
        {
            long until = System.Diagnostics.Stopwatch.GetTimestamp() + (long)(work.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
            while (System.Diagnostics.Stopwatch.GetTimestamp() < until)
                Thread.SpinWait(10);
            observation.Clear();
            return new RobotPG.Controller.Tasks.TaskOutcome(1, false, 0);
        }
    }
}
