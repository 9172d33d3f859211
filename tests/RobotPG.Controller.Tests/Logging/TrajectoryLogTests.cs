using System.Buffers.Binary;
using RobotPG.Controller.Logging;

namespace RobotPG.Controller.Tests.Logging;

public sealed class TrajectoryLogTests
{
    private const int Obs = 4, Act = 2;
    private static readonly DateTimeOffset Start = new(2026, 11, 22, 20, 0, 0, TimeSpan.Zero);

    /// <summary>Deterministic, distinct values per step and field, so any misplaced byte shows.</summary>
    private static float ObsValue(long step, int i) => step * 10 + i + 0.25f;

    private static float ActValue(long step, int j) => -(step * 10 + j) - 0.5f;

    private static TransitionFlags FlagsOf(long step) => step % 7 == 6 ? TransitionFlags.Terminated : step % 5 == 4 ? TransitionFlags.SafetyStop : TransitionFlags.None;

    private static void Append(TrajectoryRing ring, long step)
    {
        Span<float> o = stackalloc float[Obs];
        Span<float> a = stackalloc float[Act];
        for (int i = 0; i < Obs; i++) o[i] = ObsValue(step, i);
        for (int j = 0; j < Act; j++) a[j] = ActValue(step, j);
        Assert.True(ring.TryAppend(step, step * 5_000_000, o, a, -1.5f - step, 0.1f * step, FlagsOf(step)));
    }

    /// <summary>Writes <paramref name="records"/> records through ring and writer; returns the files.</summary>
    private static IReadOnlyList<string> WriteLog(string dir, int records, long rotateBytes = 1 << 20, ulong policyHash = 0xDEADBEEFCAFEF00D)
    {
        var ring = new TrajectoryRing(Obs, Act, 64);
        using var writer = new TrajectoryLogWriter(ring, dir, rotateBytes, "bot-7", policyHash, Start);
        for (long s = 0; s < records; s++)
        {
            while (ring.Count == ring.Capacity)
                Assert.True(writer.Flush(TimeSpan.FromSeconds(10)));
            Append(ring, s);
        }
        Assert.True(writer.Flush(TimeSpan.FromSeconds(10)));
        Assert.Equal(records, writer.RecordsWritten);
        Assert.Equal(0, ring.Dropped);
        return writer.Files;
    }

    private static void AssertRecord(TrajectoryRecord r, long step)
    {
        Assert.Equal(step, r.Step);
        Assert.Equal(step * 5_000_000, r.TimeNs);
        for (int i = 0; i < Obs; i++) Assert.Equal(ObsValue(step, i), r.Observation[i]);
        for (int j = 0; j < Act; j++) Assert.Equal(ActValue(step, j), r.Action[j]);
        Assert.Equal(-1.5f - step, r.LogProb);
        Assert.Equal(0.1f * step, r.Reward);
        Assert.Equal(FlagsOf(step), r.Flags);
    }

    [Fact]
    public void Record_size_matches_the_documented_layout()
    {
        // 8 step + 8 time + 4·4 obs + 2·4 action + 4 log-prob + 4 reward + 4 flags + 4 CRC.
        Assert.Equal(8 + 8 + 16 + 8 + 4 + 4 + 4 + 4, TrajectoryLogFormat.RecordSize(Obs, Act));
    }

    [Fact]
    public void Round_trip_preserves_header_and_every_field()
    {
        using var dir = new TempDirectory();
        var files = WriteLog(dir.Path, 300);
        var file = Assert.Single(files);
        Assert.Equal(TrajectoryLogFormat.HeaderSize + 300L * TrajectoryLogFormat.RecordSize(Obs, Act), new FileInfo(file).Length);

        using var reader = TrajectoryLogReader.Open(file);
        Assert.Equal(Obs, reader.Header.ObservationSize);
        Assert.Equal(Act, reader.Header.ActionSize);
        Assert.Equal("bot-7", reader.Header.RobotId);
        Assert.Equal(0xDEADBEEFCAFEF00DUL, reader.Header.PolicyHash);
        Assert.Equal(Start, reader.Header.StartTime);
        Assert.Equal(0, reader.Header.FileIndex);
        long step = 0;
        while (reader.TryReadNext(out var r))
            AssertRecord(r, step++);
        Assert.Equal(300, step);
        Assert.Equal(0, reader.CorruptRecords);
        Assert.Equal(0, reader.TornTailBytes);
    }

    [Fact]
    public void A_log_cut_at_every_byte_offset_yields_every_complete_record_and_counts_the_tail()
    {
        using var dir = new TempDirectory();
        byte[] whole = File.ReadAllBytes(Assert.Single(WriteLog(dir.Path, 5)));
        int size = TrajectoryLogFormat.RecordSize(Obs, Act);
        Assert.Equal(TrajectoryLogFormat.HeaderSize + 5 * size, whole.Length);

        for (int cut = 0; cut <= whole.Length; cut++)
        {
            using var stream = new MemoryStream(whole, 0, cut, writable: false);
            if (cut < TrajectoryLogFormat.HeaderSize)
            {
                var e = Assert.Throws<InvalidDataException>(() => TrajectoryLogReader.Open(stream));
                Assert.Contains("less than the 128-byte header", e.Message);
                continue;
            }
            using var reader = TrajectoryLogReader.Open(stream);
            long step = 0;
            while (reader.TryReadNext(out var r))
                AssertRecord(r, step++);
            Assert.Equal((cut - TrajectoryLogFormat.HeaderSize) / size, step);
            Assert.Equal((cut - TrajectoryLogFormat.HeaderSize) % size, reader.TornTailBytes);
            Assert.Equal(0, reader.CorruptRecords);
        }
    }

    [Fact]
    public void Every_single_bit_flip_in_a_record_is_detected_and_the_others_survive()
    {
        using var dir = new TempDirectory();
        byte[] whole = File.ReadAllBytes(Assert.Single(WriteLog(dir.Path, 5)));
        int size = TrajectoryLogFormat.RecordSize(Obs, Act);
        int recordStart = TrajectoryLogFormat.HeaderSize + 2 * size;
        for (int bit = 0; bit < size * 8; bit++)
        {
            byte[] damaged = (byte[])whole.Clone();
            damaged[recordStart + bit / 8] ^= (byte)(1 << (bit % 8));
            using var reader = TrajectoryLogReader.Open(new MemoryStream(damaged));
            var steps = new List<long>();
            while (reader.TryReadNext(out var r))
                steps.Add(r.Step);
            Assert.Equal([0L, 1, 3, 4], steps);
            Assert.Equal(1, reader.CorruptRecords);
        }
    }

    [Fact]
    public void A_bit_flip_in_the_header_is_refused()
    {
        using var dir = new TempDirectory();
        byte[] whole = File.ReadAllBytes(Assert.Single(WriteLog(dir.Path, 2)));
        whole[50] ^= 0x10;
        var e = Assert.Throws<InvalidDataException>(() => TrajectoryLogReader.Open(new MemoryStream(whole)));
        Assert.Equal("the header is corrupt (CRC mismatch)", e.Message);
    }

    [Fact]
    public void Not_a_log_is_refused_by_magic()
    {
        var e = Assert.Throws<InvalidDataException>(() => TrajectoryLogReader.Open(new MemoryStream(new byte[200])));
        Assert.Equal("not a RobotPG trajectory log (bad magic)", e.Message);
    }

    [Fact]
    public void Rotation_starts_a_new_file_before_the_size_is_exceeded_and_loses_nothing()
    {
        using var dir = new TempDirectory();
        int size = TrajectoryLogFormat.RecordSize(Obs, Act);
        long rotate = TrajectoryLogFormat.HeaderSize + 10L * size + size / 2; // room for 10 whole records
        var files = WriteLog(dir.Path, 25, rotate);
        Assert.Equal(3, files.Count);
        long step = 0;
        for (int f = 0; f < files.Count; f++)
        {
            Assert.True(new FileInfo(files[f]).Length <= rotate);
            using var reader = TrajectoryLogReader.Open(files[f]);
            Assert.Equal(f, reader.Header.FileIndex);
            int inFile = 0;
            while (reader.TryReadNext(out var r))
            {
                AssertRecord(r, step++);
                inFile++;
            }
            Assert.Equal(f < 2 ? 10 : 5, inFile);
        }
        Assert.Equal(25, step);
    }

    [Fact]
    public void A_full_ring_drops_and_counts_instead_of_waiting()
    {
        var ring = new TrajectoryRing(Obs, Act, 4);
        Span<float> o = stackalloc float[Obs];
        Span<float> a = stackalloc float[Act];
        int accepted = 0;
        for (int i = 0; i < 6; i++)
            accepted += ring.TryAppend(i, i, o, a, 0, 0, TransitionFlags.None) ? 1 : 0;
        Assert.Equal(4, accepted);
        Assert.Equal(2, ring.Dropped);
        var record = new byte[ring.RecordSize];
        Assert.True(ring.TryTake(record));
        Assert.Equal(0, BinaryPrimitives.ReadInt64LittleEndian(record));
        Assert.True(ring.TryAppend(9, 9, o, a, 0, 0, TransitionFlags.None));
    }

    [Fact]
    public void Appending_to_the_ring_allocates_nothing()
    {
        var ring = new TrajectoryRing(Obs, Act, 1024);
        var o = new float[Obs];
        var a = new float[Act];
        var record = new byte[ring.RecordSize];
        for (int i = 0; i < 100; i++)
        {
            ring.TryAppend(i, i, o, a, 0, 0, TransitionFlags.None);
            ring.TryTake(record);
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            ring.TryAppend(i, i, o, a, 0, 0, TransitionFlags.None);
            ring.TryTake(record);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
