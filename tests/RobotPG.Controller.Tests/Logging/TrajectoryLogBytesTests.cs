using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using RobotPG.Controller.Learning;
using RobotPG.Controller.Logging;

namespace RobotPG.Controller.Tests.Logging;

/// <summary>
/// The trajectory log and its update file byte for byte against the documented layouts (offsets written here as
/// numbers, not taken from the format class: a field moved in writer and reader alike still round-trips, but not
/// here), each refusal of a damaged header with its message, and the ring's wrap-around.
/// </summary>
public sealed class TrajectoryLogBytesTests
{
    // Sub-second start (1234567 ticks = 123 456 700 ns) so a lost or scaled fraction shows.
    private static readonly DateTimeOffset Start = new DateTimeOffset(2026, 11, 30, 12, 34, 56, TimeSpan.Zero).AddTicks(1_234_567);
    private static readonly long StartUnixNs = 1_796_042_096L * 1_000_000_000 + 123_456_700; // date -u -d 2026-11-30T12:34:56Z +%s

    private static ushort U16(byte[] b, int at) => BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(at));

    private static uint U32(byte[] b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(at));

    private static long I64(byte[] b, int at) => BinaryPrimitives.ReadInt64LittleEndian(b.AsSpan(at));

    private static float F32(byte[] b, int at) => BinaryPrimitives.ReadSingleLittleEndian(b.AsSpan(at));

    private static byte[] Header(TrajectoryLogHeader header)
    {
        var b = new byte[TrajectoryLogFormat.HeaderSize];
        TrajectoryLogFormat.WriteHeader(header, b);
        return b;
    }

    /// <summary>A header edited at <paramref name="at"/> with its CRC made good again, so only the edit is wrong.</summary>
    private static byte[] Resealed(byte[] header, Action<byte[]> edit)
    {
        var b = (byte[])header.Clone();
        edit(b);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(124), Crc32.HashToUInt32(b.AsSpan(0, 124)));
        return b;
    }

    private static string ReadError(byte[] file) =>
        Assert.Throws<InvalidDataException>(() => TrajectoryLogReader.Open(new MemoryStream(file))).Message;

    [Fact]
    public void Header_bytes_follow_the_documented_layout_whatever_the_buffer_held()
    {
        var header = new TrajectoryLogHeader(3, 2, "bot-ü", 0x0123456789ABCDEFUL, Start, 7, "cartpole-rail");
        var b = new byte[TrajectoryLogFormat.HeaderSize + 8];
        b.AsSpan().Fill(0xAA);
        TrajectoryLogFormat.WriteHeader(header, b);

        Assert.Equal("RPGTRAJ\0"u8.ToArray(), b[..8]);
        Assert.Equal(1, U16(b, 8));
        Assert.Equal(3, U16(b, 10));
        Assert.Equal(2, U16(b, 12));
        Assert.Equal(0, U16(b, 14));
        Assert.Equal((uint)(32 + 4 * (3 + 2)), U32(b, 16));
        Assert.Equal(7u, U32(b, 20));
        Assert.Equal(StartUnixNs, I64(b, 24));
        Assert.Equal(0x0123456789ABCDEFUL, BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(32)));
        byte[] id = [(byte)'b', (byte)'o', (byte)'t', (byte)'-', 0xC3, 0xBC]; // "bot-ü" in UTF-8
        Assert.Equal(id.Length, b[40]);
        Assert.Equal(id, b[41..(41 + id.Length)]);
        Assert.All(b[(41 + id.Length)..105], x => Assert.Equal(0, x));
        byte[] task = Encoding.ASCII.GetBytes("cartpole-rail");
        Assert.Equal(task, b[105..(105 + task.Length)]);
        Assert.All(b[(105 + task.Length)..124], x => Assert.Equal(0, x));
        Assert.Equal(Crc32.HashToUInt32(b.AsSpan(0, 124)), U32(b, 124));
        Assert.All(b[128..], x => Assert.Equal(0xAA, x)); // nothing written past the header
        Assert.Equal(header, TrajectoryLogFormat.ReadHeader(b));
    }

    [Fact]
    public void Header_fields_at_their_limits_round_trip()
    {
        // A 64-byte robot id and a 19-byte task fill their fields exactly; the largest sizes and index fit their types.
        var header = new TrajectoryLogHeader(65535, 65535, new string('r', 64), ulong.MaxValue, Start, int.MaxValue, new string('t', 19));
        var b = Header(header);
        Assert.Equal(64, b[40]);
        Assert.Equal(0xFFFF, U16(b, 10));
        Assert.Equal((uint)(32 + 4 * (65535 + 65535)), U32(b, 16));
        Assert.Equal(header, TrajectoryLogFormat.ReadHeader(b));
    }

    [Fact]
    public void Header_values_that_do_not_fit_are_refused_not_truncated()
    {
        var e = Assert.Throws<ArgumentException>(() => Header(new TrajectoryLogHeader(1, 1, "r", 0, Start, 0, new string('t', 20))));
        Assert.StartsWith($"task name '{new string('t', 20)}' is longer than 19 bytes", e.Message);
        // 10 characters, 20 bytes: the limit is on bytes.
        Assert.Throws<ArgumentException>(() => Header(new TrajectoryLogHeader(1, 1, "r", 0, Start, 0, new string('é', 10))));
        Assert.Throws<OverflowException>(() => Header(new TrajectoryLogHeader(65536, 1, "r", 0, Start, 0)));
        Assert.Throws<OverflowException>(() => Header(new TrajectoryLogHeader(1, 65536, "r", 0, Start, 0)));
        Assert.Throws<OverflowException>(() => Header(new TrajectoryLogHeader(1, 1, "r", 0, Start, -1)));
    }

    [Fact]
    public void Each_damaged_header_is_refused_with_what_is_wrong()
    {
        byte[] good = Header(new TrajectoryLogHeader(4, 2, "bot", 9, Start, 0));
        Assert.Equal("log format version 2 is not supported (this build reads 1)", ReadError(Resealed(good, b => b[8] = 2)));
        Assert.Equal("log format version 0 is not supported (this build reads 1)", ReadError(Resealed(good, b => b[8] = 0)));
        Assert.Equal("the header's record size does not match its observation and action sizes",
            ReadError(Resealed(good, b => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(16), 32 + 4 * 6 + 4))));
        Assert.Equal("the header's record size does not match its observation and action sizes",
            ReadError(Resealed(good, b => b[10] = 5))); // observation size changed, record size left
        Assert.Equal("the header's robot id is longer than 64 bytes", ReadError(Resealed(good, b => b[40] = 65)));
        // Order of the checks: a bad magic says so even when the CRC is also wrong; a CRC mismatch before the version.
        var badMagic = (byte[])good.Clone();
        badMagic[0] = (byte)'X';
        Assert.Equal("not a RobotPG trajectory log (bad magic)", ReadError(badMagic));
        var badBoth = (byte[])good.Clone();
        badBoth[8] = 2;
        Assert.Equal("the header is corrupt (CRC mismatch)", ReadError(badBoth));
        Assert.Equal("the file holds 127 bytes, less than the 128-byte header", ReadError(good[..127]));
        // The magic's last byte is the NUL: "RPGTRAJ" followed by anything else is not a log.
        Assert.Equal("not a RobotPG trajectory log (bad magic)", ReadError(Resealed(good, b => b[7] = (byte)'X')));
    }

    private sealed class TrackedStream(byte[] data) : MemoryStream(data)
    {
        public bool Disposed;

        protected override void Dispose(bool disposing)
        {
            Disposed = true;
            base.Dispose(disposing);
        }
    }

    [Fact]
    public void Opening_a_damaged_log_closes_the_stream_and_a_good_one_keeps_it_until_disposed()
    {
        var bad = new TrackedStream(new byte[200]);
        Assert.Throws<InvalidDataException>(() => TrajectoryLogReader.Open(bad));
        Assert.True(bad.Disposed);
        var good = new TrackedStream(Header(new TrajectoryLogHeader(1, 1, "r", 0, Start, 0)));
        var reader = TrajectoryLogReader.Open(good);
        Assert.False(good.Disposed);
        reader.Dispose();
        Assert.True(good.Disposed);
    }

    /// <summary>Writes steps 0..count-1 (n = 3, m = 2) through a ring of <paramref name="capacity"/> and the writer; returns the file.</summary>
    private static string WriteThroughRing(TempDirectory dir, int count, int capacity)
    {
        var ring = new TrajectoryRing(3, 2, capacity);
        using var writer = new TrajectoryLogWriter(ring, dir.Path, 1 << 20, "bytes", 5, Start, task: "t");
        for (long s = 0; s < count; s++)
        {
            while (ring.Count == ring.Capacity)
                Assert.True(writer.Flush(TimeSpan.FromSeconds(10)));
            Assert.True(ring.TryAppend(
                0x0102030405060700 + s, 0x1112131415161700 + s, [1.5f + s, -2.25f, 3e-8f], [0.5f, -0.75f - s], -1.25f - s, 0.375f * s,
                (TransitionFlags)(s % 16)));
        }
        Assert.True(writer.Flush(TimeSpan.FromSeconds(10)));
        return Assert.Single(writer.Files);
    }

    [Fact]
    public void Record_bytes_on_disk_follow_the_documented_layout()
    {
        using var dir = new TempDirectory();
        string file = WriteThroughRing(dir, 7, 3); // the ring wraps twice
        Assert.Equal("bytes-20261130T123456Z-0000.rpglog", Path.GetFileName(file));
        byte[] b = File.ReadAllBytes(file);
        const int size = 52; // 32 + 4·(3 + 2)
        Assert.Equal(128 + 7 * size, b.Length);
        Assert.Equal(new TrajectoryLogHeader(3, 2, "bytes", 5, Start, 0, "t"), TrajectoryLogFormat.ReadHeader(b));
        for (int s = 0; s < 7; s++)
        {
            int r = 128 + s * size;
            Assert.Equal(0x0102030405060700 + s, I64(b, r));
            Assert.Equal(0x1112131415161700 + s, I64(b, r + 8));
            Assert.Equal(1.5f + s, F32(b, r + 16));
            Assert.Equal(-2.25f, F32(b, r + 20));
            Assert.Equal(3e-8f, F32(b, r + 24));
            Assert.Equal(0.5f, F32(b, r + 28));
            Assert.Equal(-0.75f - s, F32(b, r + 32));
            Assert.Equal(-1.25f - s, F32(b, r + 36));
            Assert.Equal(0.375f * s, F32(b, r + 40));
            Assert.Equal((uint)(s % 16), U32(b, r + 44));
            Assert.Equal(Crc32.HashToUInt32(b.AsSpan(r, 48)), U32(b, r + 48));
        }
    }

    [Fact]
    public void The_reader_counts_valid_and_corrupt_records_and_sets_the_torn_tail_only_at_the_end()
    {
        using var dir = new TempDirectory();
        byte[] b = File.ReadAllBytes(WriteThroughRing(dir, 6, 64));
        const int size = 52;
        b[128 + 1 * size + 40] ^= 0x80; // record 1's reward
        b[128 + 4 * size + 51] ^= 0x01; // record 4's CRC
        using var reader = TrajectoryLogReader.Open(new MemoryStream(b, 0, b.Length - 20));
        Assert.Equal(size, reader.RecordSize);
        Assert.True(reader.TryReadNext(out var r));
        Assert.Equal(0x0102030405060700, r.Step);
        Assert.True(reader.TryReadNext(out r));
        Assert.Equal(0x0102030405060702, r.Step); // record 1 skipped
        Assert.Equal(1, reader.CorruptRecords);
        Assert.Equal(2, reader.ValidRecords);
        Assert.Equal(0, reader.TornTailBytes);
        Assert.True(reader.TryReadNext(out r));
        Assert.Equal(0x0102030405060703, r.Step);
        Assert.Equal(TransitionFlags.Terminated | TransitionFlags.Truncated, r.Flags);
        Assert.False(reader.TryReadNext(out _)); // record 4 corrupt, record 5 cut 20 bytes short
        Assert.Equal(2, reader.CorruptRecords);
        Assert.Equal(3, reader.ValidRecords);
        Assert.Equal(size - 20, reader.TornTailBytes);
    }

    [Fact]
    public void The_ring_keeps_order_across_many_wraps_and_counts_what_it_holds()
    {
        var ring = new TrajectoryRing(1, 1, 3);
        Assert.Equal(3, ring.Capacity);
        Assert.Equal(32 + 8, ring.RecordSize);
        var record = new byte[ring.RecordSize];
        Assert.False(ring.TryTake(record));
        Assert.All(record, x => Assert.Equal(0, x)); // nothing copied from an empty ring
        long next = 0, taken = 0;
        for (int round = 0; round < 20; round++)
        {
            // Append 1..3 (the ring is empty at the start of each round), take all but one, then the last.
            int put = 1 + round % 3;
            for (int i = 0; i < put; i++, next++)
                Assert.True(ring.TryAppend(next, -next, [next], [2f * next], 0, 0, TransitionFlags.None));
            Assert.Equal(put, ring.Count);
            Assert.Equal(next, ring.Appended);
            while (ring.TryTake(record))
            {
                Assert.Equal(taken, I64(record, 0));
                Assert.Equal(-taken, I64(record, 8));
                Assert.Equal((float)taken, F32(record, 16));
                Assert.Equal(2f * taken, F32(record, 20));
                taken++;
            }
            Assert.Equal(0, ring.Count);
        }
        Assert.Equal(next, taken);
        Assert.Equal(0, ring.Dropped);
    }

    [Fact]
    public void A_ring_of_one_holds_one_record_and_a_ring_of_none_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new TrajectoryRing(1, 1, 0));
        // 107 374 183 slots of 40 bytes is 2³² + 24 bytes: refused, not wrapped to a 24-byte ring.
        Assert.Throws<OverflowException>(() => new TrajectoryRing(1, 1, 107_374_183));
        var ring = new TrajectoryRing(1, 1, 1);
        Assert.True(ring.TryAppend(1, 1, [1f], [1f], 0, 0, TransitionFlags.None));
        Assert.False(ring.TryAppend(2, 2, [2f], [2f], 0, 0, TransitionFlags.None));
        Assert.Equal(1, ring.Dropped);
        Assert.Equal(1, ring.Appended);
        var record = new byte[ring.RecordSize];
        Assert.True(ring.TryTake(record));
        Assert.Equal(1, I64(record, 0));
        Assert.True(ring.TryAppend(3, 3, [3f], [3f], 0, 0, TransitionFlags.None));
        Assert.True(ring.TryTake(record));
        Assert.Equal(3, I64(record, 0));
        Assert.Equal(1, ring.Dropped);
    }

    [Theory]
    [InlineData(10, 0, 0, 0, false)]   // nothing unsynced: never
    [InlineData(10, 0, 9, 0, false)]
    [InlineData(10, 0, 10, 0, true)]   // at the record count exactly
    [InlineData(0, 0, 1000, 1000, false)] // both rules off
    [InlineData(0, 100, 1, 99, false)]
    [InlineData(0, 100, 1, 100, true)] // at the interval exactly
    [InlineData(0, 100, 0, 500, false)]
    [InlineData(10, 100, 1, 100, true)] // whichever comes first
    [InlineData(10, 100, 10, 1, true)]
    [InlineData(10, 100, 9, 99, false)]
    public void Sync_policy_is_due_at_the_first_rule_reached(int everyRecords, int everyMs, long unsynced, int sinceMs, bool due)
    {
        Assert.Equal(due, new LogSyncPolicy(everyRecords, everyMs).Due(unsynced, TimeSpan.FromMilliseconds(sinceMs)));
    }

    [Fact]
    public void Rotation_size_must_hold_the_header_and_one_record_and_exactly_that_makes_one_record_files()
    {
        using var dir = new TempDirectory();
        var ring = new TrajectoryRing(1, 1, 8);
        int record = TrajectoryLogFormat.RecordSize(1, 1);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new TrajectoryLogWriter(ring, dir.Path, 128 + record - 1, "r", 1, Start));
        Assert.Equal("rotateBytes", e.ParamName);
        using var writer = new TrajectoryLogWriter(ring, dir.Path, 128 + record, "r", 1, Start);
        for (int s = 0; s < 3; s++) Assert.True(ring.TryAppend(s, s, [s], [s], 0, 0, TransitionFlags.None));
        Assert.True(writer.Flush(TimeSpan.FromSeconds(10)));
        Assert.Equal(
            ["r-20261130T123456Z-0000.rpglog", "r-20261130T123456Z-0001.rpglog", "r-20261130T123456Z-0002.rpglog"],
            writer.Files.Select(Path.GetFileName));
        for (int f = 0; f < 3; f++)
        {
            byte[] b = File.ReadAllBytes(writer.Files[f]);
            Assert.Equal(128 + record, b.Length);
            Assert.Equal((uint)f, U32(b, 20));
            Assert.Equal(f, I64(b, 128));
        }
        Assert.Equal(3, writer.RecordsWritten);
        Assert.Equal(0, writer.RecordsLost);
        Assert.Equal(0, writer.WriteErrors);
        Assert.Null(writer.LastError);
    }

    // ---- the learning-update file ----

    private static byte[] UpdateHeader()
    {
        var b = new byte[16];
        LearningUpdateLogFormat.WriteHeader(b);
        return b;
    }

    private static string UpdateHeaderError(byte[] b) =>
        Assert.Throws<InvalidDataException>(() => LearningUpdateLogFormat.CheckHeader(b)).Message;

    private static byte[] ResealedUpdateHeader(Action<byte[]> edit)
    {
        var b = UpdateHeader();
        edit(b);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(12), Crc32.HashToUInt32(b.AsSpan(0, 12)));
        return b;
    }

    [Fact]
    public void Update_file_header_bytes_and_each_refusal()
    {
        var dirty = new byte[20];
        dirty.AsSpan().Fill(0xAA);
        LearningUpdateLogFormat.WriteHeader(dirty);
        Assert.Equal("RPGUPDT\0"u8.ToArray(), dirty[..8]);
        Assert.Equal(1, U16(dirty, 8));
        Assert.Equal(48, U16(dirty, 10));
        Assert.Equal(Crc32.HashToUInt32(dirty.AsSpan(0, 12)), U32(dirty, 12));
        Assert.All(dirty[16..], x => Assert.Equal(0xAA, x));
        LearningUpdateLogFormat.CheckHeader(dirty); // good

        Assert.Equal("the update file holds 15 bytes, less than the 16-byte header", UpdateHeaderError(UpdateHeader()[..15]));
        Assert.Equal("not a RobotPG learning-update file (bad magic)", UpdateHeaderError(ResealedUpdateHeader(b => b[7] = 1)));
        var crc = UpdateHeader();
        crc[12] ^= 1;
        Assert.Equal("the update file's header is corrupt (CRC mismatch)", UpdateHeaderError(crc));
        Assert.Equal("learning-update format version 2 is not supported (this build reads 1)", UpdateHeaderError(ResealedUpdateHeader(b => b[8] = 2)));
        Assert.Equal("the update file's record size is not 48", UpdateHeaderError(ResealedUpdateHeader(b => b[10] = 47)));
    }

    private static byte[] Encoded(LearningUpdateRecord r)
    {
        var b = new byte[48];
        b.AsSpan().Fill(0xAA);
        LearningUpdateLogFormat.Encode(r, b);
        return b;
    }

    private static byte[] Resealed48(byte[] record, int at, byte value)
    {
        var b = (byte[])record.Clone();
        b[at] = value;
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(44), Crc32.HashToUInt32(b.AsSpan(0, 44)));
        return b;
    }

    [Fact]
    public void Update_records_decode_every_event_and_cause_and_refuse_codes_out_of_range()
    {
        var r = new LearningUpdateRecord(-7, 70, 3, 0.5f, 0.25f, 1.25f, float.NaN, LearningUpdateEvent.RolledBack, RollbackCause.Exception);
        byte[] b = Encoded(r);
        Assert.Equal(2, b[40]);
        Assert.Equal(5, b[41]); // 1 + Exception (4)
        Assert.Equal(0, U16(b, 42)); // the zero field, whatever the buffer held
        Assert.True(LearningUpdateLogFormat.TryDecode(b, out var back));
        Assert.Equal(r, back);

        Assert.False(LearningUpdateLogFormat.TryDecode(Resealed48(b, 40, 3), out back)); // no event 3
        Assert.Equal(default, back);
        Assert.False(LearningUpdateLogFormat.TryDecode(Resealed48(b, 41, 6), out _));  // no cause 5
        Assert.True(LearningUpdateLogFormat.TryDecode(Resealed48(b, 41, 0), out back));
        Assert.Null(back.Cause);
        Assert.True(LearningUpdateLogFormat.TryDecode(Resealed48(b, 41, 1), out back));
        Assert.Equal(RollbackCause.NonFinite, back.Cause);
        Assert.True(LearningUpdateLogFormat.TryDecode(Resealed48(b, 40, 0), out back));
        Assert.Equal(LearningUpdateEvent.Accepted, back.Event);
        var torn = (byte[])b.Clone();
        torn[0] ^= 1;
        Assert.False(LearningUpdateLogFormat.TryDecode(torn, out _));

        Assert.Equal("accepted", LearningUpdateLogFormat.EventName(LearningUpdateEvent.Accepted));
        Assert.Equal("rejected", LearningUpdateLogFormat.EventName(LearningUpdateEvent.Rejected));
        Assert.Equal("rolled back", LearningUpdateLogFormat.EventName(LearningUpdateEvent.RolledBack));
        Assert.Equal("", LearningUpdateLogFormat.CauseName(null));
        Assert.Equal("to-best", LearningUpdateLogFormat.CauseName(RollbackCause.ToBest));
    }

    [Fact]
    public void An_update_file_cut_inside_its_header_reads_as_no_updates_and_a_torn_tail()
    {
        using var dir = new TempDirectory();
        string log = dir.File("x.rpglog");
        File.WriteAllBytes(LearningUpdateLogFormat.PathFor(log), UpdateHeader()[..10]);
        var read = LearningUpdateLog.ReadFor(log);
        Assert.Empty(read.Records);
        Assert.True(read.FilePresent);
        Assert.Equal(0, read.CorruptRecords);
        Assert.Equal(10, read.TornTailBytes);

        // A header and nothing else: checked, no updates, no tail; 16 bytes that are not a header are refused.
        File.WriteAllBytes(LearningUpdateLogFormat.PathFor(log), UpdateHeader());
        read = LearningUpdateLog.ReadFor(log);
        Assert.Empty(read.Records);
        Assert.Equal(0, read.TornTailBytes);
        File.WriteAllBytes(LearningUpdateLogFormat.PathFor(log), new byte[16]);
        Assert.Equal("not a RobotPG learning-update file (bad magic)", Assert.Throws<InvalidDataException>(() => LearningUpdateLog.ReadFor(log)).Message);

        // A whole header and one record, then most of a second: the tail.
        var one = new LearningUpdateRecord(1, 2, 3, 4, 5, 6, 7, LearningUpdateEvent.Rejected, RollbackCause.KlBound);
        File.WriteAllBytes(LearningUpdateLogFormat.PathFor(log), [.. UpdateHeader(), .. Encoded(one), .. Encoded(one)[..47]]);
        read = LearningUpdateLog.ReadFor(log);
        Assert.Equal([one], read.Records);
        Assert.Equal(47, read.TornTailBytes);
        Assert.Equal(1, read.Count(LearningUpdateEvent.Rejected));
        Assert.Equal(0, read.Count(LearningUpdateEvent.Accepted));
    }

    private sealed class Recorder : IDisposable
    {
        public readonly TempDirectory Dir = new();
        public readonly TrajectoryLogWriter Writer;
        public readonly ILearningObserver Observer;

        public Recorder()
        {
            var ring = new TrajectoryRing(1, 1, 8);
            Writer = new TrajectoryLogWriter(ring, Dir.Path, 1 << 20, "r", 1, Start);
            Assert.True(ring.TryAppend(0, 0, [0f], [0f], 0f, 0f, TransitionFlags.None));
            Assert.True(Writer.Flush(TimeSpan.FromSeconds(10)));
            Observer = new LearningUpdateLogObserver(Writer);
        }

        public IReadOnlyList<LearningUpdateRecord> Records()
        {
            Assert.True(Writer.Flush(TimeSpan.FromSeconds(10)));
            return LearningUpdateLog.ReadFor(Writer.Files[0]).Records;
        }

        public void Dispose()
        {
            Writer.Dispose();
            Dir.Dispose();
        }
    }

    private static LearnerUpdate Update(long n, bool accepted) =>
        new(n, 10 * n, 1, 0, 0, 0, 0, 1.5f, 0.25f, 0.125f, 0.5f, 1, 0.25, accepted, LoopStep: n, LoopTimeNs: 1000 * n);

    [Theory]
    [InlineData(RollbackCause.NonFinite)]
    [InlineData(RollbackCause.KlBound)]
    [InlineData(RollbackCause.Exception)]
    public void A_rejected_update_and_its_guards_rollback_are_one_record_for_each_guard(RollbackCause cause)
    {
        using var rec = new Recorder();
        rec.Observer.OnUpdate(Update(4, accepted: false));
        rec.Observer.OnRollback(new LearnerRollback(4, 40, cause, 1, 1, LoopStep: 4, LoopTimeNs: 4000));
        rec.Observer.OnRollback(new LearnerRollback(4, 40, cause, 1, 1, LoopStep: 4, LoopTimeNs: 4000)); // a second one is a rollback of its own
        Assert.Equal(
            [
                new LearningUpdateRecord(4, 4000, 4, 0.25f, 0.125f, 1.5f, 0.5f, LearningUpdateEvent.Rejected, cause),
                new LearningUpdateRecord(4, 4000, 4, float.NaN, float.NaN, float.NaN, float.NaN, LearningUpdateEvent.RolledBack, cause),
            ],
            rec.Records());
    }

    [Fact]
    public void A_rollback_that_is_not_the_rejected_updates_guard_is_a_rollback_record()
    {
        using var rec = new Recorder();
        rec.Observer.OnUpdate(Update(5, accepted: false));
        // Another update's rollback, then this update's rollback for a return drop: neither is the guard's report.
        rec.Observer.OnRollback(new LearnerRollback(3, 30, RollbackCause.KlBound, 1, 1, LoopStep: 5, LoopTimeNs: 5000));
        rec.Observer.OnRollback(new LearnerRollback(5, 50, RollbackCause.ReturnDrop, 1, 1, LoopStep: 6, LoopTimeNs: 6000));
        rec.Observer.OnRollback(new LearnerRollback(5, 50, RollbackCause.ToBest, 1, 1, LoopStep: 7, LoopTimeNs: 7000));
        rec.Observer.OnEpisode(1, 2.0, 3);
        rec.Observer.OnWarning("ignored");
        var records = rec.Records();
        Assert.Equal([LearningUpdateEvent.RolledBack, LearningUpdateEvent.RolledBack, LearningUpdateEvent.RolledBack], records.Select(r => r.Event));
        Assert.Equal([3L, 5, 5], records.Select(r => r.Update));
        Assert.Equal([RollbackCause.KlBound, RollbackCause.ReturnDrop, RollbackCause.ToBest], records.Select(r => r.Cause));
        Assert.Equal([5L, 6, 7], records.Select(r => r.Step));
        Assert.Equal([5000L, 6000, 7000], records.Select(r => r.TimeNs));
    }

    [Fact]
    public void A_full_update_hand_over_drops_and_counts_the_65th()
    {
        using var dir = new TempDirectory();
        var ring = new TrajectoryRing(1, 1, 8);
        // No record yet, so no log file: updates wait in the hand-over (and do not hold the flush up).
        using var writer = new TrajectoryLogWriter(ring, dir.Path, 1 << 20, "r", 1, Start);
        for (int i = 0; i < 66; i++)
            writer.AppendUpdate(new LearningUpdateRecord(i, i, i, 0, 0, 0, 0, LearningUpdateEvent.Accepted, null));
        Assert.True(writer.Flush(TimeSpan.FromSeconds(10)));
        Assert.Equal(2, writer.UpdatesLost);
        Assert.Equal(0, writer.UpdatesWritten);
        Assert.True(ring.TryAppend(0, 0, [0f], [0f], 0f, 0f, TransitionFlags.None));
        Assert.True(writer.Flush(TimeSpan.FromSeconds(10)));
        Assert.Equal(64, writer.UpdatesWritten);
        Assert.Equal(Enumerable.Range(0, 64).Select(i => (long)i), LearningUpdateLog.ReadFor(writer.Files[0]).Records.Select(r => r.Update));
    }
}
