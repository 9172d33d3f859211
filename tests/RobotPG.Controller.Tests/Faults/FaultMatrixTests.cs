using RobotPG.Controller.Cli;
using RobotPG.Controller.Control;
using RobotPG.Controller.Learning;
using RobotPG.Numerics;
using RobotPG.Sim.Devices;

namespace RobotPG.Controller.Tests.Faults;

/// <summary>
/// The fault matrix (README, "Faults and recovery"): each fault of <see cref="FaultMatrix.Rows"/>, with the
/// controller running its policy only and with on-device learning, injected where it happens — a chip's
/// register emulation behind the Pi's buses, the simulator's MQTT link, the log's disk, the learner's update.
/// Each case checks the motors as the chips hold them (PCA9685 duty of both channels, both direction pins of
/// both bridges) within the row's periods counted on the loop's own clock, whether the loop recovers, re-arms
/// or exits 3, that no complete log record is lost beyond what the row says (records on disk against periods
/// with sensor data), and that the exit line, safety event or counters name the fault.
/// </summary>
public sealed class FaultMatrixTests
{
    /// <summary>The fault switches on before this step: just after the PCA9685 read-back at read 50, the worst case for a brown-out.</summary>
    private const int FaultStep = 50;

    /// <summary>The learner's faults come at its third update (batches of 64 steps), after two good ones.</summary>
    private const int LearnerFaultStep = 150;

    private const int Steps = 500;

    /// <summary>The power goes before this step (not a multiple of the fsync interval: the last full batch's fsync is certain).</summary>
    private const int PowerCutStep = 487;

    public static TheoryData<string, bool> Cases()
    {
        var data = new TheoryData<string, bool>();
        foreach (var row in FaultMatrix.Rows)
        {
            if (!row.LearningOnly) data.Add(row.Fault, false);
            data.Add(row.Fault, true);
        }
        return data;
    }

    private static bool OverSimLink(string fault) => fault.StartsWith("mqtt", StringComparison.Ordinal) || fault.StartsWith("broker", StringComparison.Ordinal) || fault.StartsWith("link", StringComparison.Ordinal);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Fault_ends_in_its_stated_state(string fault, bool learning)
    {
        var row = FaultMatrix.Row(fault);
        int faultStep = row.LearningOnly ? LearnerFaultStep : FaultStep;
        var linkFaults = fault.StartsWith("mqtt", StringComparison.Ordinal)
            ? [SimFault.TryParse($"{fault}@{faultStep}", out _) ?? throw new InvalidOperationException(fault)]
            : Array.Empty<SimFault>();
        var random = new Prng(17);
        long metStep = -1;
        bool deadPinLevel = false;
        MotorState? atFault = null;
        ControlPolicy? policyAtFault = null;
        long updatesAtFault = 0;
        byte[]? oldSensorFrame = null;
        long evidenceAtFault = 0;
        var observed = new List<(long K, MotorState Motors, long Evidence, bool Tripped, ulong Tick)>();

        using var bench = new FaultBench(learning, OverSimLink(fault), linkFaults, (k, b) =>
        {
            if (k >= faultStep) observed.Add((k, b.Motors(), b.Evidence(), b.Safety.Tripped, b.SimBus?.Current.Sequence ?? 0));
            if (b.Peer is { } peer)
            {
                var l = peer.Link;
                if (metStep < 0 && k >= faultStep && l.Dropped + l.Duplicated + l.Reordered + l.Delayed + l.LostInOutage > 0) metStep = k;
                if (k == faultStep - 10) oldSensorFrame = peer.LastSensorFrame;
            }
            if (k == faultStep)
            {
                atFault = b.Motors();
                evidenceAtFault = b.Evidence();
                policyAtFault = b.Policies.Current;
                updatesAtFault = b.Learner?.Updates ?? 0;
                if (fault is not ("i2c-nack:0x40:p=0.1" or "gpio-write-fail:5") && !OverSimLink(fault) && !row.LearningOnly) metStep = k;
            }
            if (row.LearningOnly && metStep < 0 && k > faultStep && b.Learner!.Updates > updatesAtFault) metStep = k - 1; // the update between steps k−1 and k
            Inject(fault, k, faultStep, b, ref random, ref metStep, ref deadPinLevel, oldSensorFrame);
        });
        bench.LogInLockstep = fault is "disk full" or "read-only log" or "power cut";

        bench.Loop.Run(maxSteps: Steps, warmupSteps: long.MaxValue);
        long steps = bench.Loop.StepCount;
        observed.Add((steps, bench.Motors(), bench.Evidence(), bench.Safety.Tripped, bench.SimBus?.Current.Sequence ?? 0));
        if (fault == "gpio-write-fail:5" && observed.FindIndex(o => o.Evidence > evidenceAtFault) is int first and >= 0)
            metStep = observed[first].K - 1; // the dead line is met at its first write, which fails the step it happens in
        string context = $"{fault}, learning {learning}: fault met at step {metStep}, {steps} steps, {bench.Loop.FatalDescription}";

        // Before the fault: the policy drives the motors (otherwise "motors off" would prove nothing).
        Assert.True(atFault is { Driven: true }, $"{context}: motors not driven before the fault ({atFault})");
        Assert.True(metStep >= faultStep, $"{context}: the fault never acted ({bench.Loop.Counters.BusFaults} bus faults, motors {observed[^2].Motors})");

        // Detection: the first period after which a counter of the controller moved.
        int detectAt = observed.FindIndex(o => o.K > metStep && o.Evidence > evidenceAtFault);
        if (row.PeriodsToDetect is { } detect)
        {
            Assert.True(detectAt >= 0, $"{context}: never detected");
            Assert.InRange(observed[detectAt].K - metStep, 1, detect);
        }

        // Motors off as the chips hold them.
        var last = observed[^1].Motors;
        if (row.PeriodsToMotorsOff is { } off)
        {
            // Over a lost link the controller's motors-off cannot reach the simulated chips: it is commanded (the trip
            // zeroes every action), and the chips must show it once the link is back, before the re-arm.
            bool commandedOnly = row.MotorsOffNote is not null;
            int offAt = observed.FindIndex(o => o.K > metStep && (commandedOnly ? o.Tripped : MotorsOff(fault, o.Motors, atFault!, deadPinLevel)));
            Assert.True(offAt >= 0, $"{context}: motors never off; last {last}");
            Assert.InRange(observed[offAt].K - metStep, 1, off);
            // And they stay off while the fault lasts (up to the re-arm, or the end).
            int until = row.Outcome == FaultOutcome.Rearms ? observed.FindIndex(offAt, o => !o.Tripped) : observed.Count;
            Assert.True(until > offAt, $"{context}: never re-armed");
            for (int i = offAt; i < until; i++)
            {
                Assert.True(observed[i].Tripped || row.Outcome == FaultOutcome.Exits, $"{context}: re-armed at step {observed[i].K} while the fault lasts");
                if (!commandedOnly)
                    Assert.True(MotorsOff(fault, observed[i].Motors, atFault!, deadPinLevel), $"{context}: motors on again at step {observed[i].K}: {observed[i].Motors}");
            }
            if (commandedOnly)
                Assert.Contains(observed.Skip(offAt).Take(until - offAt), o => o.Motors.Off);
            if (fault == "imu-frozen")
                Assert.True(observed[until].K > FaultStep + 100, $"{context}: re-armed at step {observed[until].K} on frozen data (fresh again from step {FaultStep + 100})");
        }
        else
        {
            Assert.DoesNotContain(observed.Take(observed.Count - 1), o => o.Tripped); // the last is after the run's own stop
        }

        switch (row.Outcome)
        {
            case FaultOutcome.Recovers:
                Assert.Null(bench.Loop.FatalCause);
                Assert.Equal(Steps, steps);
                Assert.True(observed[^2].Motors.Driven, $"{context}: not driving at the end: {observed[^2].Motors}");
                break;
            case FaultOutcome.Rearms:
                Assert.Null(bench.Loop.FatalCause);
                Assert.Equal(Steps, steps);
                Assert.True(bench.Safety.Rearms >= 1, $"{context}: never re-armed");
                Assert.True(observed[^2].Motors.Driven, $"{context}: not driving after the re-arm: {observed[^2].Motors}");
                break;
            case FaultOutcome.Exits:
                Assert.Equal(SafetyCause.BusFault, bench.Loop.FatalCause);
                Assert.True(steps < Steps, context);
                Assert.True(last.AllPinsLow || fault == "gpio-write-fail:5", $"{context}: {last}");
                break;
        }

        AssertNamed(fault, bench, context);
        AssertLogRecords(row, bench, context);

        if (OverSimLink(fault))
        {
            // The controller never acts on an older tick: the latched tick never goes back.
            for (int i = 1; i < observed.Count; i++)
                Assert.True(observed[i].Tick >= observed[i - 1].Tick, $"{context}: latched tick {observed[i].Tick} after {observed[i - 1].Tick}");
        }
        if (row.LearningOnly)
        {
            Assert.Same(policyAtFault, bench.Policies.Current); // the last good policy stays
            Assert.True(bench.Learner!.Rollbacks >= 1, context);
        }
    }

    private static void Inject(string fault, long k, int faultStep, FaultBench b, ref Prng random, ref long metStep, ref bool deadPinLevel, byte[]? oldSensorFrame)
    {
        var pi = b.Pi;
        switch (fault)
        {
            case "i2c-nack:0x40:once" when k == faultStep:
                pi!.I2c[0x40].FailNextTransfers(1);
                break;
            case "i2c-nack:0x40:p=0.1" when k >= faultStep:
                if (random.NextDouble() < 0.1)
                {
                    pi!.I2c[0x40].FailNextTransfers(1);
                    if (metStep < 0) metStep = k;
                }
                break;
            case "i2c-nack:0x40:permanent" when k == faultStep:
                pi!.I2c[0x40].Disconnected = true;
                break;
            case "i2c-nack:0x68:once" when k == faultStep:
                pi!.I2c[0x68].FailNextTransfers(1);
                break;
            case "i2c-nack:0x68:permanent" when k == faultStep:
                pi!.I2c[0x68].Disconnected = true;
                break;
            case "imu-frozen" when k == faultStep:
                b.Chips.ImuFrozen = true;
                break;
            case "imu-frozen" when k == faultStep + 100:
                b.Chips.ImuFrozen = false;
                break;
            case "pca-brownout" when k == faultStep:
                b.Chips.Pwm.PowerOnReset();
                break;
            case "gpio-write-fail:5" when k == faultStep:
                deadPinLevel = pi!.Pins.Level(5);
                pi.Pins.SetWriteFault(5, true);
                break;
            case "mqtt-reorder:p=0.2" when k == faultStep + 5:
                // Besides the link's reordering, an old frame (tick of step 40) arrives late: it must be dropped.
                long replayed = b.SimBus!.ReplayedFrames;
                b.SimBus.ReceiveSensorFrame(oldSensorFrame);
                Assert.Equal(replayed + 1, b.SimBus.ReplayedFrames);
                break;
            case "broker-restart@N" when k == faultStep:
                b.Peer!.Link.Outage(b.Peer.NowMs, b.Peer.NowMs + 600);
                break;
            case "link lost 10 s" when k == faultStep:
                b.Peer!.Link.Outage(b.Peer.NowMs, b.Peer.NowMs + 10_000);
                break;
            case "disk full" when k == faultStep:
                b.Disk.Full = true;
                break;
            case "disk full" when k == faultStep + 100:
                b.Disk.Full = false;
                break;
            case "read-only log" when k == faultStep:
                b.Disk.ReadOnly = true; // remounted read-only: the open file's writes and every new file are refused
                break;
            case "power cut" when k == PowerCutStep:
                b.PowerCut = b.Disk.DurableSteps(b.ScratchDirectory);
                break;
            case "learner throws" when k == faultStep:
                b.Algorithm!.Change = _ => throw new InvalidOperationException("injected learner fault");
                break;
            case "learner NaN" when k == faultStep:
                b.Algorithm!.Change = a => a.Policy.Parameters[0] = float.NaN;
                break;
        }
    }

    /// <summary>
    /// Motors off as the README states it: duty 0 and both direction pins low — except where the fault itself
    /// takes a path away: a PCA9685 that does not acknowledge keeps the duty it had (its inputs are low, the bridge
    /// coasts); a dead direction line keeps its level (its duty is 0).
    /// </summary>
    private static bool MotorsOff(string fault, MotorState m, MotorState atFault, bool deadPinLevel) => fault switch
    {
        "i2c-nack:0x40:permanent" => m.AllPinsLow && m.Duty.SequenceEqual(atFault.Duty),
        "gpio-write-fail:5" => m.Duty.All(d => d == 0) && m.Pins[0] == deadPinLevel && m.Pins.Skip(1).All(p => !p),
        _ => m.Off,
    };

    private static void AssertNamed(string fault, FaultBench b, string context)
    {
        string? described = FaultDescription.Describe(b.Loop.LastFault);
        switch (fault)
        {
            case "i2c-nack:0x40:once" or "i2c-nack:0x40:p=0.1" or "i2c-nack:0x68:once":
                Assert.StartsWith("i2c-nack: ", described);
                Assert.Contains(fault.Contains("0x40") ? "PCA9685 at I2C bus 1 address 0x40" : "MPU-6050 at I2C bus 1 address 0x68", described);
                if (fault.EndsWith("p=0.1", StringComparison.Ordinal))
                    Assert.Equal(b.Pi!.I2c[0x40].FailedTransferCount, b.Loop.Counters.BusFaults); // every NACK counted, none fatal
                else
                    Assert.Equal(1, b.Loop.Counters.BusFaults);
                break;
            case "i2c-nack:0x40:permanent" or "i2c-nack:0x68:permanent" or "pca-brownout" or "gpio-write-fail:5":
            {
                string name = fault.StartsWith("i2c", StringComparison.Ordinal) ? "i2c-nack" : fault == "pca-brownout" ? "pca-brownout" : "gpio-write-fail";
                string where = fault.Contains("0x68") ? "MPU-6050 at I2C bus 1 address 0x68" : fault.StartsWith("gpio", StringComparison.Ordinal) ? "GPIO 5" : "PCA9685 at I2C bus 1 address 0x40";
                string line = RunCommand.FatalLine(b.Loop);
                Assert.StartsWith($"robotpg: motors off after a bus-fault ({name}: {where}", line);
                Assert.EndsWith(") that does not clear by itself; exiting 3 so the service restarts the controller", line);
                Assert.StartsWith($"motors off: {name}: {where}", FaultDescription.SafetyEventDetail(SafetyCause.BusFault, b.Loop.LastFault));
                Assert.Equal(1, b.Safety.Events(SafetyCause.BusFault));
                break;
            }
            case "imu-frozen" or "link lost 10 s":
                Assert.Equal(1, b.Safety.Events(SafetyCause.StaleSensor));
                Assert.Equal("motors off", FaultDescription.SafetyEventDetail(SafetyCause.StaleSensor, b.Loop.LastFault));
                break;
            case "mqtt-drop:p=0.1" or "broker-restart@N":
                Assert.True(b.SimBus!.RepublishedFrames > 0, context);
                break;
            case "mqtt-reorder:p=0.2":
                Assert.True(b.SimBus!.RepublishedFrames + b.SimBus.ReplayedFrames > 1, context);
                Assert.True(b.Peer!.Link.Reordered > 0, context);
                break;
            case "mqtt-dup":
                Assert.True(b.Peer!.Link.Duplicated > 0, context);
                Assert.True(b.Peer.OutOfOrder > 0, context); // the simulator drops the repeated answers
                break;
            case "mqtt-delay:20":
                Assert.True(b.Peer!.Link.Delayed > 0, context);
                break;
            case "disk full" or "read-only log":
                Assert.True(b.LogWriter.WriteErrors > 0, context);
                Assert.Equal(fault == "disk full" ? "No space left on device" : "Read-only file system", b.LogWriter.LastError);
                break;
            case "learner throws" or "learner NaN":
                var causes = new List<RollbackCause>();
                while (b.Events!.TryTakeRollback(out var rollback)) causes.Add(rollback.Cause);
                var expected = fault == "learner throws" ? RollbackCause.Exception : RollbackCause.NonFinite;
                Assert.Contains(expected, causes);
                Assert.Equal(fault == "learner throws" ? "exception" : "non-finite", LearningTelemetryPublisher.CauseName(expected));
                break;
        }
        if (fault is not ("i2c-nack:0x40:once" or "i2c-nack:0x40:p=0.1" or "i2c-nack:0x68:once" or "i2c-nack:0x40:permanent" or "i2c-nack:0x68:permanent" or "pca-brownout" or "gpio-write-fail:5"))
            Assert.Equal(0, b.Loop.Counters.BusFaults);
    }

    private static void AssertLogRecords(FaultCase row, FaultBench b, string context)
    {
        var expected = b.Io.StepsWithData.Order().ToList();
        List<long> onDisk;
        if (row.Loss == RecordLoss.SinceLastFsync)
        {
            // What was durable when the power went at step PowerCutStep, every record before it handed to the OS.
            var before = expected.Where(k => k < PowerCutStep).ToList();
            int synced = before.Count / FaultMatrix.SyncEveryRecords * FaultMatrix.SyncEveryRecords;
            Assert.True(before.Count % FaultMatrix.SyncEveryRecords != 0); // so the fsync of the last full batch is done
            Assert.Equal(before.Take(synced), b.PowerCut);
            Assert.True(before.Count - synced < FaultMatrix.SyncEveryRecords);
            return;
        }
        Assert.True(b.LogWriter.Flush(TimeSpan.FromSeconds(30)), context);
        onDisk = b.Disk.DurableSteps(b.ScratchDirectory);
        Assert.Equal(0, b.Loop.Counters.LogDrops);
        if (row.Loss == RecordLoss.None)
        {
            Assert.Equal(expected, onDisk);
            Assert.Equal(0, b.LogWriter.RecordsLost);
            return;
        }
        Assert.True(b.LogWriter.RecordsLost > 0, context);
        Assert.Equal(expected.Count, onDisk.Count + b.LogWriter.RecordsLost); // every record on disk or counted lost
        Assert.Subset(expected.ToHashSet(), onDisk.ToHashSet());
        Assert.Equal(onDisk.Count, onDisk.Distinct().Count());
    }

    [Fact]
    public void Readme_table_is_the_matrix()
    {
        string readme = File.ReadAllText(Path.Combine(RepoPaths.Root, "README.md")).Replace("\r\n", "\n");
        Assert.Contains(FaultMatrix.ReadmeTable() + "\n", readme);
    }
}
