using RobotPG.Controller.Logging;
using RobotPG.Controller.Tests.Faults;

namespace RobotPG.Controller.Tests.Logging;

/// <summary>The log writer against a disk that fails: full disk, a power cut that drops what was not fsynced.</summary>
public sealed class LogFaultTests
{
    private const int Obs = 4, Act = 2;
    private static readonly DateTimeOffset Start = new(2026, 11, 30, 4, 0, 0, TimeSpan.Zero);

    private static void Append(TrajectoryRing ring, long step)
    {
        Span<float> o = stackalloc float[Obs];
        Span<float> a = stackalloc float[Act];
        o.Fill(step);
        a.Fill(-step);
        Assert.True(ring.TryAppend(step, step * 5_000_000, o, a, 0, 0, TransitionFlags.None));
    }

    [Fact]
    public void Disk_full_leaks_no_file_and_no_descriptor_per_retry_and_the_log_resumes_when_space_returns()
    {
        using var dir = new TempDirectory();
        var disk = new FailingDisk { Full = true };
        var ring = new TrajectoryRing(Obs, Act, 64);
        using (var writer = new TrajectoryLogWriter(ring, dir.Path, 1 << 20, "full", 1, Start, openFile: disk.OpenFile))
        {
            for (long s = 0; s < 40; s++)
            {
                Append(ring, s);
                Assert.True(writer.Flush(TimeSpan.FromSeconds(10))); // one batch, one failed file start, per record
            }
            Assert.Equal(40, writer.RecordsLost);
            Assert.Equal(40, writer.WriteErrors);
            Assert.Equal(40, disk.Calls);
            Assert.Equal(0, disk.Open);                        // every descriptor closed
            Assert.Empty(Directory.GetFiles(dir.Path));        // no header-less stubs left behind
            Assert.Equal("No space left on device", writer.LastError);

            disk.Full = false;
            for (long s = 40; s < 50; s++) Append(ring, s);
            Assert.True(writer.Flush(TimeSpan.FromSeconds(10)));
            Assert.Equal(10, writer.RecordsWritten);
        }
        Assert.Equal(0, disk.Open);
        string file = Assert.Single(Directory.GetFiles(dir.Path));
        Assert.EndsWith("-0000.rpglog", file); // the first file that got its header keeps index 0
        using var reader = TrajectoryLogReader.Open(file);
        var steps = new List<long>();
        while (reader.TryReadNext(out var r)) steps.Add(r.Step);
        Assert.Equal(Enumerable.Range(40, 10).Select(i => (long)i), steps);
    }

    [Fact]
    public void Read_only_log_directory_counts_every_record_lost_and_never_throws_at_the_loop()
    {
        using var dir = new TempDirectory();
        var ring = new TrajectoryRing(Obs, Act, 64);
        using var writer = new TrajectoryLogWriter(ring, dir.Path, 1 << 20, "ro", 1, Start,
            openFile: _ => throw new UnauthorizedAccessException("Read-only file system"));
        for (long s = 0; s < 5; s++) Append(ring, s);
        Assert.True(writer.Flush(TimeSpan.FromSeconds(10)));
        Assert.Equal(5, writer.RecordsLost);
        Assert.Equal(0, writer.RecordsWritten);
        Assert.Equal("Read-only file system", writer.LastError);
    }

    [Theory]
    [InlineData(50, 130, 100)] // fsync every 50 records: a cut after 130 keeps 100
    [InlineData(0, 130, 0)]    // no fsync policy: everything since the start is gone (not even the header survives)
    public void Power_cut_keeps_exactly_the_records_fsynced_by_the_policy(int everyRecords, int written, int survive)
    {
        using var dir = new TempDirectory();
        var disk = new FaultDisk();
        var ring = new TrajectoryRing(Obs, Act, 64);
        var writer = new TrajectoryLogWriter(ring, Path.Combine(dir.Path, "live"), 1 << 20, "cut", 1, Start,
            new LogSyncPolicy(everyRecords, 0), disk.OpenFile);
        for (long s = 0; s < written; s++)
        {
            Append(ring, s);
            // One record per batch, so the policy is judged after every record (not a wall-clock wait: the writer's own count).
            SpinWait.SpinUntil(() => writer.RecordsWritten == s + 1, TimeSpan.FromSeconds(10));
            Assert.Equal(s + 1, writer.RecordsWritten);
        }
        var survivors = disk.Cut(Directory.CreateDirectory(Path.Combine(dir.Path, "after")).FullName);
        writer.Dispose(); // the process is gone in a real cut; here the writer's thread just has to end

        string file = Assert.Single(survivors);
        long length = new FileInfo(file).Length;
        int recordSize = TrajectoryLogFormat.RecordSize(Obs, Act);
        Assert.Equal(survive == 0 ? 0 : TrajectoryLogFormat.HeaderSize + (long)survive * recordSize, length);
        if (survive == 0) return;
        using var reader = TrajectoryLogReader.Open(file);
        long step = 0;
        while (reader.TryReadNext(out var r)) Assert.Equal(step++, r.Step);
        Assert.Equal(survive, step);
    }
}
