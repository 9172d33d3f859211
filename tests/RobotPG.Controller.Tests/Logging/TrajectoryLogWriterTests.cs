using RobotPG.Controller.Logging;
using RobotPG.Controller.Tests.Faults;

namespace RobotPG.Controller.Tests.Logging;

/// <summary>
/// The log writer's promises at their edges: rotation exactly at rotateBytes, the file names, the fsync count of
/// the policy, flush and stop, the 64-update hand-over, a batch cut by a file that cannot be started, an update
/// file that cannot be written, and a closed writer. Records are put in the ring before the writer starts when a
/// test needs them taken as one batch (the writer drains whatever the ring holds at once).
/// </summary>
public sealed class TrajectoryLogWriterTests
{
    private const int Obs = 2, Act = 1;
    private static readonly int Size = TrajectoryLogFormat.RecordSize(Obs, Act);
    private static readonly DateTimeOffset Start = new(2026, 11, 30, 16, 5, 9, TimeSpan.Zero);
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private static void Append(TrajectoryRing ring, long step) =>
        Assert.True(ring.TryAppend(step, step * 1000, [step, -step], [0.5f * step], -1f, 0.25f, TransitionFlags.None));

    private static List<long> Steps(string file)
    {
        using var reader = TrajectoryLogReader.Open(file);
        var steps = new List<long>();
        while (reader.TryReadNext(out var r)) steps.Add(r.Step);
        Assert.Equal(0, reader.TornTailBytes);
        Assert.Equal(0, reader.CorruptRecords);
        return steps;
    }

    private static LearningUpdateRecord Update(long k) => new(k, k * 10, k, 0.01f * k, 0.1f, 1f, 0.5f, LearningUpdateEvent.Accepted, null);

    /// <summary>
    /// 25 records in one batch (it fills two files and crosses into a third), then 15 one at a time (the third file
    /// takes a record that ends exactly at rotateBytes): four files of exactly 10 records each.
    /// </summary>
    [Fact]
    public void A_file_is_filled_to_exactly_rotateBytes_and_the_files_are_named_robot_start_index()
    {
        using var dir = new TempDirectory();
        long rotate = TrajectoryLogFormat.HeaderSize + 10L * Size; // exactly 10 records
        var ring = new TrajectoryRing(Obs, Act, 64);
        for (long s = 0; s < 25; s++) Append(ring, s);
        using (var writer = new TrajectoryLogWriter(ring, dir.Path, rotate, "bot-3", 7, Start, task: "balance"))
        {
            Assert.True(writer.Flush(Wait));
            Assert.Equal(25, writer.RecordsWritten);
            for (long s = 25; s < 40; s++)
            {
                Append(ring, s);
                SpinWait.SpinUntil(() => writer.RecordsWritten == s + 1, Wait);
                Assert.Equal(s + 1, writer.RecordsWritten);
            }
            Assert.True(writer.Flush(Wait));
            Assert.Equal(
                [.. Enumerable.Range(0, 4).Select(i => Path.Combine(dir.Path, $"bot-3-20261130T160509Z-{i:D4}.rpglog"))],
                writer.Files);
        }
        string[] files = [.. Directory.GetFiles(dir.Path).Order(StringComparer.Ordinal)];
        Assert.Equal([rotate, rotate, rotate, rotate], files.Select(f => new FileInfo(f).Length));
        for (int f = 0; f < 4; f++)
        {
            using (var reader = TrajectoryLogReader.Open(files[f]))
            {
                Assert.Equal(f, reader.Header.FileIndex);
                Assert.Equal("balance", reader.Header.Task);
                Assert.Equal("bot-3", reader.Header.RobotId);
            }
            Assert.Equal(Enumerable.Range(10 * f, 10).Select(i => (long)i), Steps(files[f]));
        }
    }

    [Fact]
    public void The_smallest_rotation_size_holds_the_header_and_one_record_and_one_byte_less_is_refused()
    {
        using var dir = new TempDirectory();
        var ring = new TrajectoryRing(Obs, Act, 64);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            new TrajectoryLogWriter(ring, dir.Path, TrajectoryLogFormat.HeaderSize + Size - 1, "r", 1, Start));
        Assert.Equal("rotateBytes", e.ParamName);
        Assert.StartsWith("a log file must hold the header and one record", e.Message);

        for (long s = 0; s < 3; s++) Append(ring, s);
        using var writer = new TrajectoryLogWriter(ring, dir.Path, TrajectoryLogFormat.HeaderSize + Size, "r", 1, Start);
        Assert.True(writer.Flush(Wait));
        Assert.Equal(3, writer.Files.Count);
        for (int f = 0; f < 3; f++) Assert.Equal([(long)f], Steps(writer.Files[f]));
    }

    /// <summary>One record per batch (the test waits for each), so the policy is judged after every record: fsyncs at 10 and 20, then one for the flush and one at stop.</summary>
    [Fact]
    public void Fsyncs_come_every_n_records_then_with_the_flush_and_the_stop()
    {
        using var dir = new TempDirectory();
        var ring = new TrajectoryRing(Obs, Act, 64);
        var writer = new TrajectoryLogWriter(ring, dir.Path, 1 << 20, "r", 1, Start, new LogSyncPolicy(10, 0));
        try
        {
            for (long s = 0; s < 25; s++)
            {
                Append(ring, s);
                // The record is counted before the policy is judged: wait for both.
                SpinWait.SpinUntil(() => writer.RecordsWritten == s + 1 && writer.Syncs == (s + 1) / 10, Wait);
                Assert.Equal(s + 1, writer.RecordsWritten);
                Assert.Equal((s + 1) / 10, writer.Syncs);
            }
            Assert.True(writer.Flush(Wait));
            Assert.Equal(3, writer.Syncs);
        }
        finally
        {
            writer.Dispose();
        }
        Assert.Equal(4, writer.Syncs);
    }

    [Theory]
    [InlineData(0, 0, 100, 1e6, false)]   // no policy: never
    [InlineData(10, 0, 0, 1e6, false)]    // nothing unsynced: never
    [InlineData(10, 0, 9, 1e6, false)]
    [InlineData(10, 0, 10, 0, true)]      // the n-th record
    [InlineData(10, 0, 11, 0, true)]
    [InlineData(0, 50, 1, 49.9, false)]
    [InlineData(0, 50, 1, 50, true)]      // the period has passed
    [InlineData(0, 50, 0, 1e6, false)]
    [InlineData(10, 50, 9, 49.9, false)]  // either rule, whichever comes first
    [InlineData(10, 50, 9, 50, true)]
    [InlineData(10, 50, 10, 0, true)]
    public void A_sync_is_due_after_n_records_or_once_the_period_has_passed(int everyRecords, int everyMs, long unsynced, double sinceMs, bool due) =>
        Assert.Equal(due, new LogSyncPolicy(everyRecords, everyMs).Due(unsynced, TimeSpan.FromMilliseconds(sinceMs)));

    /// <summary>
    /// Before the first record there is no log file: updates wait (they do not hold a flush up) and the 65th waiting
    /// is dropped. Once a file exists they are written in order, and the hand-over keeps working past its 64 slots.
    /// </summary>
    [Fact]
    public void Updates_wait_for_the_first_file_64_at_most_and_then_go_down_in_order()
    {
        using var dir = new TempDirectory();
        var ring = new TrajectoryRing(Obs, Act, 64);
        using var writer = new TrajectoryLogWriter(ring, dir.Path, 1 << 20, "r", 1, Start);
        for (long k = 0; k < 66; k++) writer.AppendUpdate(Update(k));
        Assert.True(writer.Flush(Wait));
        Assert.Equal(2, writer.UpdatesLost);
        Assert.Equal(0, writer.UpdatesWritten);
        Assert.Empty(writer.Files);

        Append(ring, 0);
        Assert.True(writer.Flush(Wait));
        Assert.Equal(64, writer.UpdatesWritten);
        for (long k = 66; k < 76; k++) writer.AppendUpdate(Update(k)); // slots 0..9 again
        Assert.True(writer.Flush(Wait));
        Assert.Equal(74, writer.UpdatesWritten);
        Assert.Equal(2, writer.UpdatesLost);
        Assert.Equal([.. Enumerable.Range(0, 64).Concat(Enumerable.Range(66, 10)).Select(k => Update(k))],
            LearningUpdateLog.ReadFor(Assert.Single(writer.Files)).Records);
    }

    /// <summary>
    /// A batch of 25 with room for 10 per file, and the second file cannot be created: the 10 written stay, the other
    /// 15 of that batch are lost and counted, one error. The next record starts the file index the failed one would have had.
    /// </summary>
    [Fact]
    public void A_batch_cut_by_a_file_that_cannot_be_started_counts_what_was_written_and_what_was_lost()
    {
        using var dir = new TempDirectory();
        var disk = new FailingDisk { FailOpen = (call, _) => call == 2 };
        var ring = new TrajectoryRing(Obs, Act, 64);
        for (long s = 0; s < 25; s++) Append(ring, s);
        using (var writer = new TrajectoryLogWriter(ring, dir.Path, TrajectoryLogFormat.HeaderSize + 10L * Size, "r", 1, Start, openFile: disk.OpenFile))
        {
            Assert.True(writer.Flush(Wait));
            Assert.Equal(10, writer.RecordsWritten);
            Assert.Equal(15, writer.RecordsLost);
            Assert.Equal(1, writer.WriteErrors);
            Assert.Equal("No space left on device", writer.LastError);
            Assert.Equal(0, disk.Open); // the full first file was closed at the rotation

            Append(ring, 25);
            Assert.True(writer.Flush(Wait));
            Assert.Equal(11, writer.RecordsWritten);
            Assert.Equal(2, writer.Files.Count);
            Assert.EndsWith("-0001.rpglog", writer.Files[1]);
            Assert.Equal(Enumerable.Range(0, 10).Select(i => (long)i), Steps(writer.Files[0]));
        }
        Assert.Equal(0, disk.Open);
        Assert.Equal([25L], Steps(Directory.GetFiles(dir.Path, "*-0001.rpglog").Single()));
    }

    /// <summary>The update file's header cannot be written: that update is lost and counted, its descriptor closed, the records go on.</summary>
    [Fact]
    public void An_update_file_that_cannot_be_written_loses_the_update_closes_the_file_and_keeps_the_records()
    {
        using var dir = new TempDirectory();
        var disk = new FailingDisk { FailWrite = path => path.EndsWith(LearningUpdateLogFormat.FileExtension, StringComparison.Ordinal) };
        var ring = new TrajectoryRing(Obs, Act, 64);
        using var writer = new TrajectoryLogWriter(ring, dir.Path, 1 << 20, "r", 1, Start, openFile: disk.OpenFile);
        Append(ring, 0);
        Assert.True(writer.Flush(Wait));
        writer.AppendUpdate(Update(1));
        Assert.True(writer.Flush(Wait));
        Assert.Equal(1, writer.UpdatesLost);
        Assert.Equal(0, writer.UpdatesWritten);
        Assert.Equal(1, writer.WriteErrors);
        Assert.Equal("Input/output error", writer.LastError);
        Assert.Equal(1, disk.Open); // only the log file

        disk.FailWrite = _ => false;
        writer.AppendUpdate(Update(2));
        Append(ring, 1);
        Assert.True(writer.Flush(Wait));
        Assert.Equal(1, writer.UpdatesWritten); // the stub was removed, so the update file could be created again
        Assert.Equal(2, writer.RecordsWritten);
        Assert.Equal(2, disk.Open); // the log file and the update file
        Assert.Equal([Update(2)], LearningUpdateLog.ReadFor(writer.Files[0]).Records);
    }

    /// <summary>A stopped writer has closed its files (another may lock them) and a flush says at once that nothing will come.</summary>
    [Fact]
    public void After_dispose_the_files_are_closed_and_a_flush_fails_at_once()
    {
        using var dir = new TempDirectory();
        var ring = new TrajectoryRing(Obs, Act, 64);
        var writer = new TrajectoryLogWriter(ring, dir.Path, 1 << 20, "r", 1, Start);
        Append(ring, 0);
        Assert.True(writer.Flush(Wait));
        writer.AppendUpdate(Update(1));
        Assert.True(writer.Flush(Wait));
        writer.Dispose();
        string log = Assert.Single(writer.Files);
        foreach (string path in new[] { log, LearningUpdateLogFormat.PathFor(log) })
            using (new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None)) { }
        // A writer that waited for a dead thread would sit out the hour (Stryker's timeout catches that).
        Assert.False(writer.Flush(TimeSpan.FromHours(1)));
    }
    /// <summary>
    /// Updates are fsynced with the flush (as records are): after a power cut the flushed update is there, the one
    /// written to the OS after the flush is not.
    /// </summary>
    [Fact]
    public void A_flushed_update_survives_a_power_cut_and_one_written_after_the_flush_does_not()
    {
        using var dir = new TempDirectory();
        var disk = new FaultDisk();
        var ring = new TrajectoryRing(Obs, Act, 64);
        var writer = new TrajectoryLogWriter(ring, Path.Combine(dir.Path, "live"), 1 << 20, "cut", 1, Start, openFile: disk.OpenFile);
        try
        {
            Append(ring, 0);
            Assert.True(writer.Flush(Wait));
            writer.AppendUpdate(Update(1));
            Assert.True(writer.Flush(Wait));
            writer.AppendUpdate(Update(2));
            SpinWait.SpinUntil(() => writer.UpdatesWritten == 2, Wait);
            Assert.Equal(2, writer.UpdatesWritten);
            var survivors = disk.Cut(Directory.CreateDirectory(Path.Combine(dir.Path, "after")).FullName);
            string log = survivors.Single(f => f.EndsWith(TrajectoryLogFormat.FileExtension, StringComparison.Ordinal));
            Assert.Equal([Update(1)], LearningUpdateLog.ReadFor(log).Records);
        }
        finally
        {
            writer.Dispose();
        }
    }
}
