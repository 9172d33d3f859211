using System.Buffers.Binary;
using System.Globalization;
using System.IO.Hashing;
using System.Text;
using RobotPG.Controller.Cli;
using RobotPG.Controller.Learning;
using RobotPG.Controller.Logging;

namespace RobotPG.Controller.Tests.Logging;

/// <summary>The learning-update file next to each trajectory log file: bytes on disk, rotation, the learner's events, info and MCAP export.</summary>
public sealed class LearningUpdateLogTests
{
    private static readonly LearningUpdateRecord Accepted = new(3, 30_000_000, 1, 0.0125f, 0.25f, 1.5f, 0.75f, LearningUpdateEvent.Accepted, null);
    private static readonly LearningUpdateRecord RejectedKl = new(5, 50_000_000, 2, 2f, 0.5f, 1.375f, -0.5f, LearningUpdateEvent.Rejected, RollbackCause.KlBound);
    private static readonly LearningUpdateRecord RolledBack = new(6, 60_000_000, 1, float.NaN, float.NaN, float.NaN, float.NaN, LearningUpdateEvent.RolledBack, RollbackCause.ReturnDrop);

    /// <summary>The cart-pole log of LogCommandTests (7 steps 10 ms apart from 1 s after the epoch), with <paramref name="updates"/> after its records.</summary>
    private static string WriteLog(TempDirectory dir, params LearningUpdateRecord[] updates)
    {
        var ring = new TrajectoryRing(4, 1, 64);
        using var writer = new TrajectoryLogWriter(ring, dir.Path, 1 << 20, "rail-1", 0xABCDEFUL, DateTimeOffset.UnixEpoch.AddSeconds(1), task: "cartpole-rail");
        TransitionFlags[] flags =
        [
            TransitionFlags.None, TransitionFlags.None, TransitionFlags.None, TransitionFlags.Terminated,
            TransitionFlags.SafetyStop, TransitionFlags.SafetyStop | TransitionFlags.Truncated, TransitionFlags.Idle,
        ];
        for (int s = 0; s < flags.Length; s++)
            Assert.True(ring.TryAppend(s, s * 10_000_000L, [0.25f * s, 1f, -0.5f, s], [0.125f * s], -0.75f, s + 0.5f, flags[s]));
        Assert.True(writer.Flush(TimeSpan.FromSeconds(10)));
        foreach (var u in updates) writer.AppendUpdate(u);
        Assert.True(writer.Flush(TimeSpan.FromSeconds(10)));
        Assert.Equal(updates.Length, writer.UpdatesWritten);
        return writer.Files[0];
    }

    [Fact]
    public void Updates_are_48_byte_records_with_a_crc_in_a_file_named_after_the_log()
    {
        using var dir = new TempDirectory();
        string log = WriteLog(dir, Accepted, RejectedKl);
        string path = LearningUpdateLogFormat.PathFor(log);
        Assert.Equal(Path.ChangeExtension(log, ".rpgupd"), path);
        byte[] b = File.ReadAllBytes(path);
        Assert.Equal(16 + 2 * 48, b.Length);
        Assert.Equal("RPGUPDT\0"u8.ToArray(), b[..8]);
        Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(8)));
        Assert.Equal(48, BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(10)));
        Assert.Equal(Crc32.HashToUInt32(b.AsSpan(0, 12)), BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(12)));
        var r = b.AsSpan(16 + 48, 48); // the rejected one
        Assert.Equal(5, BinaryPrimitives.ReadInt64LittleEndian(r));
        Assert.Equal(50_000_000, BinaryPrimitives.ReadInt64LittleEndian(r[8..]));
        Assert.Equal(2, BinaryPrimitives.ReadInt64LittleEndian(r[16..]));
        Assert.Equal(2f, BinaryPrimitives.ReadSingleLittleEndian(r[24..]));
        Assert.Equal(0.5f, BinaryPrimitives.ReadSingleLittleEndian(r[28..]));
        Assert.Equal(1.375f, BinaryPrimitives.ReadSingleLittleEndian(r[32..]));
        Assert.Equal(-0.5f, BinaryPrimitives.ReadSingleLittleEndian(r[36..]));
        Assert.Equal(1, r[40]);                      // rejected
        Assert.Equal(1 + (int)RollbackCause.KlBound, r[41]);
        Assert.Equal(Crc32.HashToUInt32(r[..44]), BinaryPrimitives.ReadUInt32LittleEndian(r[44..]));

        var read = LearningUpdateLog.ReadFor(log);
        Assert.Equal([Accepted, RejectedKl], read.Records);
        Assert.True(read.FilePresent);
    }

    [Fact]
    public void After_rotation_updates_go_to_the_new_log_files_update_file()
    {
        using var dir = new TempDirectory();
        var ring = new TrajectoryRing(1, 1, 64);
        int record = TrajectoryLogFormat.RecordSize(1, 1);
        using var writer = new TrajectoryLogWriter(ring, dir.Path, TrajectoryLogFormat.HeaderSize + 3 * record, "r", 1, DateTimeOffset.UnixEpoch);
        for (int s = 0; s < 3; s++) Assert.True(ring.TryAppend(s, s, [0f], [0f], 0f, 0f, TransitionFlags.None));
        Assert.True(writer.Flush(TimeSpan.FromSeconds(10)));
        writer.AppendUpdate(Accepted);
        Assert.True(writer.Flush(TimeSpan.FromSeconds(10)));
        for (int s = 3; s < 6; s++) Assert.True(ring.TryAppend(s, s, [0f], [0f], 0f, 0f, TransitionFlags.None));
        Assert.True(writer.Flush(TimeSpan.FromSeconds(10)));
        writer.AppendUpdate(RejectedKl);
        Assert.True(writer.Flush(TimeSpan.FromSeconds(10)));
        Assert.Equal(2, writer.Files.Count);
        Assert.Equal([Accepted], LearningUpdateLog.ReadFor(writer.Files[0]).Records);
        Assert.Equal([RejectedKl], LearningUpdateLog.ReadFor(writer.Files[1]).Records);
    }

    [Fact]
    public void The_learners_events_become_one_record_per_update_and_one_per_later_rollback()
    {
        using var dir = new TempDirectory();
        var ring = new TrajectoryRing(1, 1, 64);
        using var writer = new TrajectoryLogWriter(ring, dir.Path, 1 << 20, "r", 1, DateTimeOffset.UnixEpoch);
        Assert.True(ring.TryAppend(0, 0, [0f], [0f], 0f, 0f, TransitionFlags.None));
        Assert.True(writer.Flush(TimeSpan.FromSeconds(10)));
        ILearningObserver observer = new LearningUpdateLogObserver(writer);
        observer.OnUpdate(new LearnerUpdate(1, 100, 3, 1, 50, 0.1f, 0.2f, 1.5f, 0.0125f, 0.25f, 0.75f, 12, 0.01, Accepted: true, LoopStep: 3, LoopTimeNs: 30_000_000));
        // A rejected update is reported, then at once its rollback with the guard: one record carrying both.
        observer.OnUpdate(new LearnerUpdate(2, 200, 5, 1, 40, 0.1f, 0.2f, 1.375f, 2f, 0.5f, -0.5f, 12, 2.5, Accepted: false, LoopStep: 5, LoopTimeNs: 50_000_000));
        observer.OnRollback(new LearnerRollback(2, 200, RollbackCause.KlBound, 2.5, 1.0, LoopStep: 5, LoopTimeNs: 50_000_000));
        // Later, the accepted update 1 fails its evaluation: a record of its own.
        observer.OnRollback(new LearnerRollback(1, 300, RollbackCause.ReturnDrop, 10, 20, LoopStep: 6, LoopTimeNs: 60_000_000));
        Assert.True(writer.Flush(TimeSpan.FromSeconds(10)));
        var records = LearningUpdateLog.ReadFor(writer.Files[0]).Records;
        Assert.Equal(3, records.Count);
        Assert.Equal(Accepted, records[0]);
        Assert.Equal(RejectedKl, records[1]);
        Assert.Equal(RolledBack, records[2]); // float.Equals: NaN equals NaN
    }

    [Fact]
    public void Log_info_counts_the_updates_and_the_mcap_export_has_them_on_the_learning_channel_at_log_times()
    {
        using var dir = new TempDirectory();
        string log = WriteLog(dir, Accepted, RejectedKl, RolledBack);
        var info = new StringWriter();
        Assert.Equal(0, RobotPgCli.Run(["log", "info", log], info, new StringWriter()));
        Assert.Contains("learning updates: 3 (accepted 1, rejected 1, rolled back 1; 0 corrupt skipped, 0 torn tail bytes)\n", info.ToString());

        string mcap = dir.File("out.mcap");
        var output = new StringWriter();
        Assert.Equal(0, RobotPgCli.Run(["log", "export", log, "--mcap", mcap], output, new StringWriter()));
        Assert.Equal($"{mcap}: 7 steps, 2 episode ends, 1 safety stops, 3 learning updates (0 corrupt skipped, 0 torn tail bytes)", output.ToString().TrimEnd());
        var records = Mcap.McapConformanceTests.StreamedRecords(File.ReadAllBytes(mcap));
        var channels = records.Where(r => r.Type == "Channel").Take(7).ToDictionary(r => r.Fields["id"].GetString()!, r => r.Fields["topic"].GetString()!);
        var learning = records.Where(r => r.Type == "Message" && channels[r.Fields["channel_id"].GetString()!] == "/learning")
            .Select(r => (Time: ulong.Parse(r.Fields["log_time"].GetString()!, CultureInfo.InvariantCulture),
                Json: Encoding.UTF8.GetString(r.Fields["data"].EnumerateArray().Select(b => byte.Parse(b.GetString()!, CultureInfo.InvariantCulture)).ToArray())))
            .ToList();
        Assert.Equal(
            [
                (1_030_000_000UL, """{"update":1,"step":3,"event":"accepted","accepted":true,"cause":"","approx_kl":0.0125,"clip_fraction":0.25,"entropy":1.5,"explained_variance":0.75}"""),
                (1_050_000_000UL, """{"update":2,"step":5,"event":"rejected","accepted":false,"cause":"kl-bound","approx_kl":2,"clip_fraction":0.5,"entropy":1.375,"explained_variance":-0.5}"""),
                (1_060_000_000UL, """{"update":1,"step":6,"event":"rolled back","accepted":false,"cause":"return-drop","approx_kl":null,"clip_fraction":null,"entropy":null,"explained_variance":null}"""),
            ],
            learning);
        // Right after the record of the step each learned up to: the update at step 3 follows step 3's /reward message.
        var order = records.Where(r => r.Type == "Message").Select(r => channels[r.Fields["channel_id"].GetString()!]).ToList();
        int firstLearning = order.IndexOf("/learning");
        Assert.Equal(4, order.Take(firstLearning).Count(t => t == "/reward"));
    }

    [Fact]
    public void A_log_without_an_update_file_reads_and_exports_as_before()
    {
        using var dir = new TempDirectory();
        string log = WriteLog(dir);
        Assert.False(File.Exists(LearningUpdateLogFormat.PathFor(log)));
        var info = new StringWriter();
        Assert.Equal(0, RobotPgCli.Run(["log", "info", log], info, new StringWriter()));
        Assert.Contains("learning updates: 0 (no .rpgupd file next to the log)\n", info.ToString());
        var output = new StringWriter();
        Assert.Equal(0, RobotPgCli.Run(["log", "export", log, "--mcap", dir.File("out.mcap")], output, new StringWriter()));
        Assert.Contains(", 0 learning updates (", output.ToString());
    }

    [Fact]
    public void A_corrupt_update_record_is_skipped_and_a_torn_tail_measured()
    {
        using var dir = new TempDirectory();
        string log = WriteLog(dir, Accepted, RejectedKl, RolledBack);
        string path = LearningUpdateLogFormat.PathFor(log);
        byte[] b = File.ReadAllBytes(path);
        b[16 + 24] ^= 0x01;                      // the first record's approx KL
        File.WriteAllBytes(path, b[..^10]);      // a power cut in the third record
        var read = LearningUpdateLog.ReadFor(log);
        Assert.Equal([RejectedKl], read.Records);
        Assert.Equal(1, read.CorruptRecords);
        Assert.Equal(38, read.TornTailBytes);
        var info = new StringWriter();
        Assert.Equal(0, RobotPgCli.Run(["log", "info", log], info, new StringWriter()));
        Assert.Contains("learning updates: 1 (accepted 0, rejected 1, rolled back 0; 1 corrupt skipped, 38 torn tail bytes)\n", info.ToString());
    }

    [Fact]
    public void A_foreign_update_file_is_one_line_and_exit_2()
    {
        using var dir = new TempDirectory();
        string log = WriteLog(dir);
        string path = LearningUpdateLogFormat.PathFor(log);
        File.WriteAllBytes(path, new byte[20]);
        var error = new StringWriter();
        Assert.Equal(2, RobotPgCli.Run(["log", "info", log], new StringWriter(), error));
        Assert.Equal($"{path}: not a RobotPG learning-update file (bad magic){Environment.NewLine}", error.ToString());
        error = new StringWriter();
        Assert.Equal(2, RobotPgCli.Run(["log", "export", log, "--mcap", dir.File("x.mcap")], new StringWriter(), error));
        Assert.Equal($"{path}: not a RobotPG learning-update file (bad magic){Environment.NewLine}", error.ToString());
    }
}
