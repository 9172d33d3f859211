using System.Buffers.Binary;
using System.IO.Hashing;

namespace RobotPG.Controller.Logging;

/// <summary>One decoded log record; its arrays are reused by the reader for the next record.</summary>
public sealed class TrajectoryRecord
{
    public TrajectoryRecord(int observationSize, int actionSize)
    {
        Observation = new float[observationSize];
        Action = new float[actionSize];
    }

    public long Step { get; internal set; }

    /// <summary>Time since the loop started, ns.</summary>
    public long TimeNs { get; internal set; }

    public float[] Observation { get; }

    public float[] Action { get; }

    public float LogProb { get; internal set; }

    public float Reward { get; internal set; }

    public TransitionFlags Flags { get; internal set; }
}

/// <summary>
/// Reads a trajectory log, however it ends: every whole record with a good CRC is yielded; a
/// record with a bad CRC is skipped and counted (the fixed record size keeps the reader in step);
/// bytes after the last whole record are the torn tail of an interrupted write.
/// </summary>
public sealed class TrajectoryLogReader : IDisposable
{
    private readonly Stream _stream;
    private readonly byte[] _buffer;
    private readonly TrajectoryRecord _record;

    private TrajectoryLogReader(Stream stream, TrajectoryLogHeader header)
    {
        _stream = stream;
        Header = header;
        RecordSize = TrajectoryLogFormat.RecordSize(header.ObservationSize, header.ActionSize);
        _buffer = new byte[RecordSize];
        _record = new TrajectoryRecord(header.ObservationSize, header.ActionSize);
    }

    public TrajectoryLogHeader Header { get; }

    public int RecordSize { get; }

    /// <summary>Whole records whose CRC matched, so far.</summary>
    public long ValidRecords { get; private set; }

    /// <summary>Whole records whose CRC did not match (skipped), so far.</summary>
    public long CorruptRecords { get; private set; }

    /// <summary>Bytes after the last whole record (set once the end is reached).</summary>
    public int TornTailBytes { get; private set; }

    /// <summary>Opens a log; a missing or damaged header is an <see cref="InvalidDataException"/> saying why.</summary>
    public static TrajectoryLogReader Open(string path) => Open(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));

    public static TrajectoryLogReader Open(Stream stream)
    {
        try
        {
            Span<byte> header = stackalloc byte[TrajectoryLogFormat.HeaderSize];
            int got = stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
            return new TrajectoryLogReader(stream, TrajectoryLogFormat.ReadHeader(header[..got]));
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Advances to the next valid record; false at the end of the file.</summary>
    public bool TryReadNext(out TrajectoryRecord record)
    {
        record = _record;
        while (true)
        {
            int got = _stream.ReadAtLeast(_buffer, _buffer.Length, throwOnEndOfStream: false);
            if (got < _buffer.Length)
            {
                TornTailBytes = got;
                return false;
            }
            int crcOffset = TrajectoryLogFormat.CrcOffset(Header.ObservationSize, Header.ActionSize);
            if (Crc32.HashToUInt32(_buffer.AsSpan(0, crcOffset)) != BinaryPrimitives.ReadUInt32LittleEndian(_buffer.AsSpan(crcOffset)))
            {
                CorruptRecords++;
                continue;
            }
            Decode();
            ValidRecords++;
            return true;
        }
    }

    private void Decode()
    {
        ReadOnlySpan<byte> b = _buffer;
        int n = Header.ObservationSize, m = Header.ActionSize;
        _record.Step = BinaryPrimitives.ReadInt64LittleEndian(b);
        _record.TimeNs = BinaryPrimitives.ReadInt64LittleEndian(b[TrajectoryLogFormat.TimeOffset..]);
        for (int i = 0; i < n; i++)
            _record.Observation[i] = BinaryPrimitives.ReadSingleLittleEndian(b[(TrajectoryLogFormat.ObservationOffset + 4 * i)..]);
        int a = TrajectoryLogFormat.ActionOffset(n);
        for (int i = 0; i < m; i++)
            _record.Action[i] = BinaryPrimitives.ReadSingleLittleEndian(b[(a + 4 * i)..]);
        _record.LogProb = BinaryPrimitives.ReadSingleLittleEndian(b[TrajectoryLogFormat.LogProbOffset(n, m)..]);
        _record.Reward = BinaryPrimitives.ReadSingleLittleEndian(b[TrajectoryLogFormat.RewardOffset(n, m)..]);
        _record.Flags = (TransitionFlags)BinaryPrimitives.ReadUInt32LittleEndian(b[TrajectoryLogFormat.FlagsOffset(n, m)..]);
    }

    public void Dispose() => _stream.Dispose();
}
