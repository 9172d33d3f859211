using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace RobotPG.Controller.Logging;

/// <summary>Done flags of a logged transition.</summary>
[Flags]
public enum TransitionFlags : uint
{
    None = 0,
    /// <summary>The task reached a terminal state (fell, left the rail).</summary>
    Terminated = 1,
    /// <summary>The episode was cut by its step limit.</summary>
    Truncated = 2,
    /// <summary>The safety supervisor held the motors off during this step.</summary>
    SafetyStop = 4,
    /// <summary>No episode was running (after a terminal state, until the robot is back within its limits).</summary>
    Idle = 8,
}

/// <summary>The header of one trajectory log file.</summary>
public sealed record TrajectoryLogHeader(
    int ObservationSize,
    int ActionSize,
    string RobotId,
    ulong PolicyHash,
    DateTimeOffset StartTime,
    int FileIndex,
    string Task = "");

/// <summary>
/// Byte layout of a trajectory log (all little-endian).
/// Header, 128 bytes: 0 magic "RPGTRAJ\0"; 8 u16 version; 10 u16 observation size n; 12 u16 action
/// size m; 14 u16 zero; 16 u32 record size; 20 u32 file index (0, 1, … across rotation); 24 i64
/// start time (Unix ns, UTC); 32 u64 policy hash; 40 u8 robot id length; 41..104 robot id (UTF-8,
/// zero padded); 105..123 task name (UTF-8, zero padded, all zero when unknown: it names the
/// observation columns on export); 124 u32 CRC32 of bytes 0..123.
/// Record, 32 + 4(n + m) bytes: 0 i64 step; 8 i64 time since the loop started, ns; 16 n × f32
/// observation (the task's, before the policy's normaliser); m × f32 action (the policy's sample,
/// before the safety filter); f32 log-probability of the sampled action; f32 reward; u32 <see cref="TransitionFlags"/>;
/// u32 CRC32 of the record's preceding bytes.
/// Fixed-size records let a reader resynchronise after a corrupt record and make a torn tail
/// (power cut mid-write) exactly the bytes after the last whole record.
/// </summary>
public static class TrajectoryLogFormat
{
    /// <summary>Extension of every log file the writer creates.</summary>
    public const string FileExtension = ".rpglog";

    public const int Version = 1;
    public const int HeaderSize = 128;
    public const int MaxRobotIdBytes = 64;
    public const int TaskOffset = 105;
    public const int MaxTaskBytes = 124 - TaskOffset;
    public static ReadOnlySpan<byte> Magic => "RPGTRAJ\0"u8;

    public const int StepOffset = 0;
    public const int TimeOffset = 8;
    public const int ObservationOffset = 16;

    public static int RecordSize(int observationSize, int actionSize) => 32 + 4 * (observationSize + actionSize);

    public static int ActionOffset(int observationSize) => ObservationOffset + 4 * observationSize;

    public static int LogProbOffset(int observationSize, int actionSize) => ActionOffset(observationSize) + 4 * actionSize;

    public static int RewardOffset(int observationSize, int actionSize) => LogProbOffset(observationSize, actionSize) + 4;

    public static int FlagsOffset(int observationSize, int actionSize) => LogProbOffset(observationSize, actionSize) + 8;

    public static int CrcOffset(int observationSize, int actionSize) => LogProbOffset(observationSize, actionSize) + 12;

    public static void WriteHeader(TrajectoryLogHeader header, Span<byte> destination)
    {
        destination = destination[..HeaderSize];
        destination.Clear();
        Magic.CopyTo(destination);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[8..], Version);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[10..], checked((ushort)header.ObservationSize));
        BinaryPrimitives.WriteUInt16LittleEndian(destination[12..], checked((ushort)header.ActionSize));
        BinaryPrimitives.WriteUInt32LittleEndian(destination[16..], (uint)RecordSize(header.ObservationSize, header.ActionSize));
        BinaryPrimitives.WriteUInt32LittleEndian(destination[20..], checked((uint)header.FileIndex));
        BinaryPrimitives.WriteInt64LittleEndian(destination[24..], (header.StartTime.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[32..], header.PolicyHash);
        int idBytes = Encoding.UTF8.GetBytes(header.RobotId, destination.Slice(41, MaxRobotIdBytes));
        destination[40] = (byte)idBytes;
        if (Encoding.UTF8.GetByteCount(header.Task) > MaxTaskBytes)
            throw new ArgumentException($"task name '{header.Task}' is longer than {MaxTaskBytes} bytes", nameof(header));
        Encoding.UTF8.GetBytes(header.Task, destination.Slice(TaskOffset, MaxTaskBytes));
        BinaryPrimitives.WriteUInt32LittleEndian(destination[124..], Crc32.HashToUInt32(destination[..124]));
    }

    /// <summary>Decodes a header; a wrong magic, version or CRC is an <see cref="InvalidDataException"/> saying which.</summary>
    public static TrajectoryLogHeader ReadHeader(ReadOnlySpan<byte> source)
    {
        if (source.Length < HeaderSize)
            throw new InvalidDataException($"the file holds {source.Length} bytes, less than the {HeaderSize}-byte header");
        if (!source[..8].SequenceEqual(Magic))
            throw new InvalidDataException("not a RobotPG trajectory log (bad magic)");
        if (Crc32.HashToUInt32(source[..124]) != BinaryPrimitives.ReadUInt32LittleEndian(source[124..]))
            throw new InvalidDataException("the header is corrupt (CRC mismatch)");
        int version = BinaryPrimitives.ReadUInt16LittleEndian(source[8..]);
        if (version != Version)
            throw new InvalidDataException($"log format version {version} is not supported (this build reads {Version})");
        int obs = BinaryPrimitives.ReadUInt16LittleEndian(source[10..]);
        int act = BinaryPrimitives.ReadUInt16LittleEndian(source[12..]);
        if (BinaryPrimitives.ReadUInt32LittleEndian(source[16..]) != RecordSize(obs, act))
            throw new InvalidDataException("the header's record size does not match its observation and action sizes");
        int idLength = source[40];
        if (idLength > MaxRobotIdBytes)
            throw new InvalidDataException("the header's robot id is longer than 64 bytes");
        long unixNs = BinaryPrimitives.ReadInt64LittleEndian(source[24..]);
        return new TrajectoryLogHeader(
            obs,
            act,
            Encoding.UTF8.GetString(source.Slice(41, idLength)),
            BinaryPrimitives.ReadUInt64LittleEndian(source[32..]),
            new DateTimeOffset(DateTimeOffset.UnixEpoch.UtcTicks + unixNs / 100, TimeSpan.Zero),
            (int)BinaryPrimitives.ReadUInt32LittleEndian(source[20..]),
            Encoding.UTF8.GetString(source.Slice(TaskOffset, MaxTaskBytes).TrimEnd((byte)0)));
    }
}
