using System.Text.Json;
using RobotPG.Controller.Cli;
using RobotPG.Controller.Control;
using RobotPG.Controller.Telemetry;
using RobotPG.Controller.Tests.Telemetry;
using RobotPG.Messaging;
using RobotPG.Controller.Logging;
using RobotPG.Controller.Tasks;
using RobotPG.Learning.Networks;

namespace RobotPG.Controller.Tests.Control;

/// <summary>
/// A lockstep wait that ends with no tick from the simulator (its robot time stood still: a stalled sim, a loaded
/// machine's slow round trip) is no control period: the loop takes no step on it, so the logged run is the one it
/// would have been without the wait; the silence still counts toward the stale-sensor rule, so a simulator that is
/// gone trips it, and the first step on its next tick stops the motors.
/// </summary>
public sealed class LockstepSilenceTests
{
    /// <summary>
    /// The lockstep clock against a scripted simulator: wait k either brings the next tick (a robot pitched by
    /// 1 mrad more each tick, so each tick's observation differs) or, where <paramref name="silent"/> says so, nothing.
    /// </summary>
    private sealed class TickClock(FakeRobotIo io, Func<long, bool> silent) : IStepClock
    {
        private long _wait;
        private long _tick;

        public bool PeriodPassed { get; private set; }

        public long WaitUntil(long deadline)
        {
            PeriodPassed = !silent(_wait++);
            io.Fresh = PeriodPassed; // a step on a silent wait would read the old tick again
            if (PeriodPassed) io.SetPitch(0.001 * (_tick++ % 50));
            return deadline;
        }
    }

    private sealed record Run(ControlLoop Loop, FakeRobotIo Io, SafetySupervisor Safety, List<byte[]> Records);

    private static Run RunLoop(Func<long, bool> silent, int steps, Action<long, SafetySupervisor>? beforeWait = null)
    {
        var config = LoopFixture.Config;
        var io = new FakeRobotIo();
        var safety = new SafetySupervisor(config.Safety, 200, 2);
        // A sampling policy: a step more or less moves the PRNG, and every later action with it.
        var network = new GaussianPolicy(4, 2, [8], maxBatch: 1, seed: 5);
        var policies = new PolicyExchange(ControlPolicy.FromNetwork(network, normalizer: null, deterministic: false, "test"));
        var ring = new TrajectoryRing(4, 2, 1024);
        var loop = new ControlLoop(io, ControlTasks.Create(config), policies, safety, 200, config.Task.MaxEpisodeSteps, seed: 3, ring,
            clock: new TickClock(io, k =>
            {
                beforeWait?.Invoke(k, safety);
                return silent(k);
            }));
        io.RecordCalls = true;
        loop.Run(maxSteps: steps, warmupSteps: long.MaxValue);
        var records = new List<byte[]>();
        var record = new byte[ring.RecordSize];
        while (ring.TryTake(record))
        {
            var copy = (byte[])record.Clone();
            copy.AsSpan(TrajectoryLogFormat.TimeOffset, 8).Clear(); // the wall-clock time of the step is the one thing allowed to differ
            records.Add(copy);
        }
        return new Run(loop, io, safety, records);
    }

    [Fact]
    public void A_lockstep_wait_without_a_tick_is_no_step_and_the_logged_run_is_bit_for_bit_the_one_without_it()
    {
        int stalePeriods = LoopFixture.Config.Safety.StaleSensorPeriods;
        var plain = RunLoop(_ => false, 60);
        // Three waits in a row (fewer than the stale limit) with no tick, then one more later.
        var silent = RunLoop(k => k is 20 or 21 or 22 or 40, 60);

        Assert.True(stalePeriods > 3, $"the shipped config's stale limit is {stalePeriods} periods");
        Assert.Equal(60, plain.Records.Count);
        Assert.Equal(plain.Records.Count, silent.Records.Count);
        for (int i = 0; i < plain.Records.Count; i++)
            Assert.True(plain.Records[i].AsSpan().SequenceEqual(silent.Records[i]), $"record {i} differs");
        Assert.Equal(60, silent.Io.Reads);      // nothing was read on a silent wait
        Assert.Equal(60, silent.Io.Drives);
        Assert.Equal(4, silent.Loop.SilentWaits);
        Assert.Equal(0, plain.Loop.SilentWaits);
        Assert.Equal(0, silent.Safety.Events(SafetyCause.StaleSensor));
        Assert.Equal(0, silent.Loop.Counters.MissedPeriods);
    }

    [Fact]
    public void Silence_as_long_as_the_stale_limit_trips_the_stale_sensor_rule_and_the_first_step_after_it_stops_the_motors()
    {
        int stalePeriods = LoopFixture.Config.Safety.StaleSensorPeriods;
        int steps = 20 + 1 + 200 + 10; // 20 driven, the motors-off step, a second of fresh data to re-arm, 10 driven again
        var trippedAtWait = new Dictionary<long, bool>();
        var result = RunLoop(k => k >= 20 && k < 20 + stalePeriods, steps, (k, safety) => trippedAtWait[k] = safety.Tripped);

        // Calls: 20 steps that read and drive, no call during the silence, then the first step on the next tick reads
        // and stops the motors (tripped), and the stop holds until the re-arm.
        var calls = result.Io.Calls;
        Assert.Equal(string.Concat(Enumerable.Repeat("RD", 20)) + "RS", new string([.. calls.Take(42)]));
        Assert.False(trippedAtWait[20 + stalePeriods - 1]); // one silent wait short of the limit: not yet
        Assert.True(trippedAtWait[20 + stalePeriods]);      // the limit's silent wait tripped it, before any step
        Assert.Equal(stalePeriods, result.Loop.SilentWaits);
        Assert.Equal(1, result.Safety.Events(SafetyCause.StaleSensor));
        Assert.Equal(steps, result.Loop.StepCount);
        var flags = (TransitionFlags)BitConverter.ToUInt32(result.Records[20], TrajectoryLogFormat.FlagsOffset(4, 2));
        Assert.True((flags & TransitionFlags.SafetyStop) != 0, $"record 20 has flags {flags}");
        Assert.Equal(TransitionFlags.None, (TransitionFlags)BitConverter.ToUInt32(result.Records[19], TrajectoryLogFormat.FlagsOffset(4, 2)));
        // Fresh ticks again: the stale trip re-arms (a loop without a learner: after a second upright) and the policy drives.
        Assert.Equal(1, result.Safety.Rearms);
        Assert.Equal('D', calls[^2]);            // the last step drove; the run's own stop comes after it
        Assert.Equal('S', calls[^1]);
    }

    /// <summary>A user sees the simulator's silences: in the loop telemetry and as a warning when the run ends.</summary>
    [Fact]
    public async Task Silent_waits_are_counted_in_telemetry_and_named_at_exit()
    {
        var quiet = RunLoop(_ => false, 30);
        var silent = RunLoop(k => k is 10 or 11 or 25, 30);
        Assert.Equal(0, quiet.Loop.SilentWaits);
        Assert.Null(RunCommand.SilentWaitsLine(quiet.Loop));
        Assert.Equal(3, silent.Loop.SilentWaits);
        Assert.Equal("robotpg: warning: 3 lockstep waits of 1 s ended with no tick from the simulator (no step taken on them; was the simulator or the broker stalled?)",
            RunCommand.SilentWaitsLine(silent.Loop));

        await using var client = new ResilientMqttClient(new MqttEndpoint("127.0.0.1", TelemetryPublisherTests.ClosedPort(), "silence"));
        using var publisher = new TelemetryPublisher(silent.Loop, 200, null, null, client, new Topics("bot"), "zero", 5);
        using var doc = JsonDocument.Parse(JsonSerializer.SerializeToUtf8Bytes(publisher.Snapshot(), ControllerJsonContext.Default.ControllerStatusTelemetry));
        Assert.Equal(3, doc.RootElement.GetProperty("loop").GetProperty("silentWaits").GetInt64());
    }
}
