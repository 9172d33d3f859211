using System.Buffers.Binary;
using System.IO.Hashing;
using RobotPG.Controller.Learning;

namespace RobotPG.Controller.Logging;

/// <summary>What a learning update record says happened.</summary>
public enum LearningUpdateEvent : byte
{
    /// <summary>The update passed the guards: the robot runs it.</summary>
    Accepted = 0,
    /// <summary>A guard (non-finite, KL bound, exception) threw the update away at once; <see cref="LearningUpdateRecord.Cause"/> says which.</summary>
    Rejected = 1,
    /// <summary>Later: an accepted policy was rolled back (return drop, operator's rollback to the best).</summary>
    RolledBack = 2,
}

/// <summary>One learning update (or a later rollback) of the on-device learner, stamped on the trajectory log's clock.</summary>
/// <param name="Step">Control step of the newest transition the learner had taken.</param>
/// <param name="TimeNs">Its loop time, ns (the log records' clock).</param>
/// <param name="Update">Update number: the version of the policy it made (or, for a rollback, the version rolled back).</param>
/// <param name="Cause">Why it was rejected or rolled back; null when accepted.</param>
public readonly record struct LearningUpdateRecord(
    long Step, long TimeNs, long Update, float ApproxKl, float ClipFraction, float Entropy, float ExplainedVariance,
    LearningUpdateEvent Event, RollbackCause? Cause);

/// <summary>
/// The learning-update file next to each trajectory log file: <c>X.rpgupd</c> holds the updates made while
/// <c>X.rpglog</c> was being written. A file of its own, not a record kind inside the log, because the log's
/// fixed-size records are what let a reader resynchronise after a corrupt record and cut a torn tail exactly;
/// and a log without this file (an older one, or a run without learning) reads as it always did.
/// Layout (little-endian). Header, 16 bytes: 0 magic "RPGUPDT\0"; 8 u16 version; 10 u16 record size (48);
/// 12 u32 CRC32 of bytes 0..11. Record, 48 bytes: 0 i64 step; 8 i64 loop time, ns; 16 i64 update; 24 f32
/// approx KL; 28 f32 clip fraction; 32 f32 entropy; 36 f32 explained variance (NaN where not measured);
/// 40 u8 <see cref="LearningUpdateEvent"/>; 41 u8 cause (0 none, else 1 + <see cref="RollbackCause"/>);
/// 42 u16 zero; 44 u32 CRC32 of bytes 0..43.
/// </summary>
public static class LearningUpdateLogFormat
{
    public const string FileExtension = ".rpgupd";
    public const int Version = 1;
    public const int HeaderSize = 16;
    public const int RecordSize = 48;
    public static ReadOnlySpan<byte> Magic => "RPGUPDT\0"u8;

    /// <summary>The update file of a trajectory log file.</summary>
    public static string PathFor(string logPath) => Path.ChangeExtension(logPath, FileExtension);

    public static void WriteHeader(Span<byte> destination)
    {
        destination = destination[..HeaderSize];
        destination.Clear();
        Magic.CopyTo(destination);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[8..], Version);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[10..], RecordSize);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[12..], Crc32.HashToUInt32(destination[..12]));
    }

    /// <summary>A wrong magic, version, record size or CRC is an <see cref="InvalidDataException"/> saying which.</summary>
    public static void CheckHeader(ReadOnlySpan<byte> source)
    {
        if (source.Length < HeaderSize)
            throw new InvalidDataException($"the update file holds {source.Length} bytes, less than the {HeaderSize}-byte header");
        if (!source[..8].SequenceEqual(Magic))
            throw new InvalidDataException("not a RobotPG learning-update file (bad magic)");
        if (Crc32.HashToUInt32(source[..12]) != BinaryPrimitives.ReadUInt32LittleEndian(source[12..]))
            throw new InvalidDataException("the update file's header is corrupt (CRC mismatch)");
        int version = BinaryPrimitives.ReadUInt16LittleEndian(source[8..]);
        if (version != Version)
            throw new InvalidDataException($"learning-update format version {version} is not supported (this build reads {Version})");
        if (BinaryPrimitives.ReadUInt16LittleEndian(source[10..]) != RecordSize)
            throw new InvalidDataException("the update file's record size is not " + RecordSize);
    }

    public static void Encode(in LearningUpdateRecord r, Span<byte> destination)
    {
        destination = destination[..RecordSize];
        BinaryPrimitives.WriteInt64LittleEndian(destination, r.Step);
        BinaryPrimitives.WriteInt64LittleEndian(destination[8..], r.TimeNs);
        BinaryPrimitives.WriteInt64LittleEndian(destination[16..], r.Update);
        BinaryPrimitives.WriteSingleLittleEndian(destination[24..], r.ApproxKl);
        BinaryPrimitives.WriteSingleLittleEndian(destination[28..], r.ClipFraction);
        BinaryPrimitives.WriteSingleLittleEndian(destination[32..], r.Entropy);
        BinaryPrimitives.WriteSingleLittleEndian(destination[36..], r.ExplainedVariance);
        destination[40] = (byte)r.Event;
        destination[41] = r.Cause is RollbackCause c ? (byte)(1 + (int)c) : (byte)0;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[42..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[44..], Crc32.HashToUInt32(destination[..44]));
    }

    /// <summary>False when the CRC does not match or a field is out of its range.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> source, out LearningUpdateRecord record)
    {
        record = default;
        if (Crc32.HashToUInt32(source[..44]) != BinaryPrimitives.ReadUInt32LittleEndian(source[44..])) return false;
        byte kind = source[40], cause = source[41];
        if (kind > (byte)LearningUpdateEvent.RolledBack || cause > 1 + (int)RollbackCause.Exception) return false;
        record = new LearningUpdateRecord(
            BinaryPrimitives.ReadInt64LittleEndian(source),
            BinaryPrimitives.ReadInt64LittleEndian(source[8..]),
            BinaryPrimitives.ReadInt64LittleEndian(source[16..]),
            BinaryPrimitives.ReadSingleLittleEndian(source[24..]),
            BinaryPrimitives.ReadSingleLittleEndian(source[28..]),
            BinaryPrimitives.ReadSingleLittleEndian(source[32..]),
            BinaryPrimitives.ReadSingleLittleEndian(source[36..]),
            (LearningUpdateEvent)kind,
            cause == 0 ? null : (RollbackCause)(cause - 1));
        return true;
    }

    public static string CauseName(RollbackCause? cause) => cause is RollbackCause c ? LearningTelemetryPublisher.CauseName(c) : "";

    public static string EventName(LearningUpdateEvent e) => e switch
    {
        LearningUpdateEvent.Accepted => "accepted",
        LearningUpdateEvent.Rejected => "rejected",
        _ => "rolled back",
    };
}

/// <summary>The learning updates of one trajectory log file, however its update file ends (as the log reader: bad CRC skipped and counted, torn tail measured).</summary>
public sealed record LearningUpdateLog(IReadOnlyList<LearningUpdateRecord> Records, bool FilePresent, long CorruptRecords, int TornTailBytes)
{
    /// <summary>Reads the update file of <paramref name="logPath"/>; none (an older log, a run without learning) is an empty list.</summary>
    public static LearningUpdateLog ReadFor(string logPath)
    {
        string path = LearningUpdateLogFormat.PathFor(logPath);
        if (!File.Exists(path)) return new LearningUpdateLog([], false, 0, 0);
        byte[] bytes = File.ReadAllBytes(path);
        // Created, then the power went before the header was down: no updates, a torn tail.
        if (bytes.Length < LearningUpdateLogFormat.HeaderSize) return new LearningUpdateLog([], true, 0, bytes.Length);
        LearningUpdateLogFormat.CheckHeader(bytes);
        var records = new List<LearningUpdateRecord>();
        long corrupt = 0;
        int at = LearningUpdateLogFormat.HeaderSize;
        for (; at + LearningUpdateLogFormat.RecordSize <= bytes.Length; at += LearningUpdateLogFormat.RecordSize)
        {
            if (LearningUpdateLogFormat.TryDecode(bytes.AsSpan(at, LearningUpdateLogFormat.RecordSize), out var r)) records.Add(r);
            else corrupt++;
        }
        return new LearningUpdateLog(records, true, corrupt, bytes.Length - at);
    }

    public int Count(LearningUpdateEvent e)
    {
        int n = 0;
        foreach (var r in Records) if (r.Event == e) n++;
        return n;
    }
}

/// <summary>
/// Learner thread → the log writer: each update becomes one record (a rejected one carries the guard that
/// threw it away, reported by the rollback that follows it at once); a later rollback is a record of its own.
/// </summary>
public sealed class LearningUpdateLogObserver(TrajectoryLogWriter log) : ILearningObserver
{
    private LearnerUpdate _rejected;
    private bool _awaitingCause;

    public void OnUpdate(in LearnerUpdate u)
    {
        if (u.Accepted)
        {
            log.AppendUpdate(Record(u, LearningUpdateEvent.Accepted, null));
            return;
        }
        _rejected = u;
        _awaitingCause = true;
    }

    public void OnRollback(in LearnerRollback r)
    {
        if (_awaitingCause && r.Update == _rejected.Update && r.Cause is RollbackCause.NonFinite or RollbackCause.KlBound or RollbackCause.Exception)
        {
            _awaitingCause = false;
            log.AppendUpdate(Record(_rejected, LearningUpdateEvent.Rejected, r.Cause));
            return;
        }
        log.AppendUpdate(new LearningUpdateRecord(r.LoopStep, r.LoopTimeNs, r.Update, float.NaN, float.NaN, float.NaN, float.NaN, LearningUpdateEvent.RolledBack, r.Cause));
    }

    public void OnEpisode(long episode, double episodeReturn, int length)
    {
    }

    public void OnWarning(string message)
    {
    }

    private static LearningUpdateRecord Record(in LearnerUpdate u, LearningUpdateEvent e, RollbackCause? cause) =>
        new(u.LoopStep, u.LoopTimeNs, u.Update, u.ApproxKl, u.ClipFraction, u.Entropy, u.ExplainedVariance, e, cause);
}
