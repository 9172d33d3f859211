namespace RobotPG.Controller.Tests.Faults;

/// <summary>What the controller does after a fault (README, "Faults and recovery": one policy).</summary>
public enum FaultOutcome
{
    /// <summary>The loop goes on driving; the fault shows only in counters.</summary>
    Recovers,

    /// <summary>Motors off, then the loop re-arms by itself (tilt/stale rule: 1 s of fresh data, or the learner's episode reset).</summary>
    Rearms,

    /// <summary>Motors off and the run ends with exit code 3, so systemd restarts the controller.</summary>
    Exits,
}

/// <summary>Which complete log records a fault may cost.</summary>
public enum RecordLoss
{
    /// <summary>Every record of a period with sensor data is on disk.</summary>
    None,

    /// <summary>Records written while the disk failed are lost, and every one of them is counted.</summary>
    Counted,

    /// <summary>A power cut loses the records since the last fsync (log.syncEveryRecords), never a complete one before it.</summary>
    SinceLastFsync,
}

/// <summary>
/// One row of the fault matrix: the fault, how many control periods (counted on the loop's own clock from the
/// first period the fault acts) until the controller counts it and until the motors are off (PCA9685 duty 0 and
/// both direction pins low, as the emulated chips hold them), what the loop does then, and what the log loses.
/// <see cref="Named"/> is what the exit line, the safety event or the counters call it.
/// The README's table is made from these rows (<see cref="FaultMatrixTests.Readme_table_is_the_matrix"/>).
/// </summary>
public sealed record FaultCase(
    string Fault, string Where, int? PeriodsToDetect, int? PeriodsToMotorsOff, FaultOutcome Outcome, RecordLoss Loss, string Named,
    bool LearningOnly = false, string? MotorsOffNote = null)
{
    public string ReadmeRow =>
        $"| {(Fault.Contains(' ') ? Fault : $"`{Fault}`")}: {Where} | {Count(PeriodsToDetect)} | {Count(PeriodsToMotorsOff)}{(MotorsOffNote is null ? "" : $" ({MotorsOffNote})")} | {OutcomeText} | {LossText} | {Named} |";

    private static string Count(int? periods) => periods is { } p ? $"≤ {p}" : "—";

    private string OutcomeText => Outcome switch
    {
        FaultOutcome.Recovers => "recovers, keeps driving",
        FaultOutcome.Rearms => "re-arms when fresh data returns",
        _ => "exits 3 (systemd restarts it)",
    };

    private string LossText => Loss switch
    {
        RecordLoss.None => "0",
        RecordLoss.Counted => "those taken while it fails, each counted",
        _ => "those since the last fsync",
    };
}

public static class FaultMatrix
{
    /// <summary>Log records between fsyncs in the matrix runs (the shipped default is 200).</summary>
    public const int SyncEveryRecords = 50;

    /// <summary>The rows: the theory runs each (in both modes unless learning-only) and the README shows them.</summary>
    public static readonly FaultCase[] Rows =
    [
        new("i2c-nack:0x40:once", "one PCA9685 transfer", 1, null, FaultOutcome.Recovers, RecordLoss.None, "i2c-nack 0x40 (bus-fault counter)"),
        new("i2c-nack:0x40:p=0.1", "one PCA9685 transfer in 10 periods", 1, null, FaultOutcome.Recovers, RecordLoss.None, "i2c-nack 0x40 (bus-fault counter)"),
        new("i2c-nack:0x40:permanent", "PCA9685 gone", 1, 1, FaultOutcome.Exits, RecordLoss.None, "bus-fault (i2c-nack: PCA9685 … 0x40 …); duty stays, pins low"),
        new("i2c-nack:0x68:once", "one MPU-6050 read", 1, null, FaultOutcome.Recovers, RecordLoss.None, "i2c-nack 0x68 (bus-fault counter)"),
        new("i2c-nack:0x68:permanent", "MPU-6050 gone", 1, 1, FaultOutcome.Exits, RecordLoss.None, "bus-fault (i2c-nack: MPU-6050 … 0x68 …)"),
        new("imu-frozen", "MPU-6050 registers stop changing", 5, 5, FaultOutcome.Rearms, RecordLoss.None, "stale-sensor"),
        new("pca-brownout", "PCA9685 back at power-on registers", 50, 50, FaultOutcome.Exits, RecordLoss.None, "bus-fault (pca-brownout: PCA9685 … 0x40 …)"),
        new("gpio-write-fail:5", "a dead IN1 line", 1, 1, FaultOutcome.Exits, RecordLoss.None, "bus-fault (gpio-write-fail: GPIO 5 …); the dead line keeps its level"),
        new("mqtt-drop:p=0.1", "sim link", 1, null, FaultOutcome.Recovers, RecordLoss.None, "republished ticks (sim bus counter)"),
        new("mqtt-dup", "sim link", null, null, FaultOutcome.Recovers, RecordLoss.None, "— (a repeat is not new data; the sim drops repeated answers)"),
        new("mqtt-reorder:p=0.2", "sim link", 2, null, FaultOutcome.Recovers, RecordLoss.None, "replayed or republished ticks (sim bus counters)"),
        new("mqtt-delay:20", "sim link", null, null, FaultOutcome.Recovers, RecordLoss.None, "— (lockstep waits)"),
        new("broker-restart@N", "sim link, 600 ms outage", 1, null, FaultOutcome.Recovers, RecordLoss.None, "republished ticks (sim bus counter)"),
        new("link lost 10 s", "no frame either way", 5, 5, FaultOutcome.Rearms, RecordLoss.None, "stale-sensor", MotorsOffNote: "commanded; the sim gets it when the link is back"),
        new("disk full", "log directory", 1, null, FaultOutcome.Recovers, RecordLoss.Counted, "log write errors, records lost"),
        new("read-only log", "log directory", 1, null, FaultOutcome.Recovers, RecordLoss.Counted, "log write errors, records lost"),
        new("power cut", "log, un-fsynced bytes dropped", null, null, FaultOutcome.Recovers, RecordLoss.SinceLastFsync, "—"),
        new("learner throws", "the learner's update throws", 1, null, FaultOutcome.Recovers, RecordLoss.None, "rollback, cause exception; last good policy kept", LearningOnly: true),
        new("learner NaN", "the learner's update gives NaN", 1, null, FaultOutcome.Recovers, RecordLoss.None, "rollback, cause non-finite; last good policy kept", LearningOnly: true),
    ];

    public static FaultCase Row(string fault) => Array.Find(Rows, r => r.Fault == fault) ?? throw new ArgumentException($"no row {fault}", nameof(fault));

    /// <summary>The README's table: header and one line per row.</summary>
    public static string ReadmeTable()
    {
        var lines = new List<string>
        {
            "| fault | periods to detect | periods to motors off | recovered or exited | log records lost | named as |",
            "| --- | --- | --- | --- | --- | --- |",
        };
        foreach (var row in Rows) lines.Add(row.ReadmeRow);
        return string.Join('\n', lines);
    }
}
