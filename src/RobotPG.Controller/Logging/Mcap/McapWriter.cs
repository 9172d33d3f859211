using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace RobotPG.Controller.Logging.Mcap;

/// <summary>
/// Writes an MCAP file (https://mcap.dev/spec, major version 0): magic, Header, chunked and indexed data
/// (Schema, Channel and Message records in uncompressed chunks, each followed by its Message Index
/// records), Data End with the data-section CRC, then a summary (Schema, Channel, Statistics, Chunk Index
/// groups), one Summary Offset per group, the Footer with the summary CRC, and the closing magic.
/// Written from the spec: no C# MCAP library is served. Output goes to any writable stream (positions are
/// counted here, so it need not seek). Buffers grow to the largest chunk and are reused, so messages cost
/// no allocation once the chunk buffer and the per-channel index lists have reached their size.
/// </summary>
public sealed class McapWriter : IDisposable
{
    public const byte OpHeader = 0x01, OpFooter = 0x02, OpSchema = 0x03, OpChannel = 0x04, OpMessage = 0x05,
        OpChunk = 0x06, OpMessageIndex = 0x07, OpChunkIndex = 0x08, OpStatistics = 0x0B, OpSummaryOffset = 0x0E,
        OpDataEnd = 0x0F;

    public static ReadOnlySpan<byte> Magic => [0x89, (byte)'M', (byte)'C', (byte)'A', (byte)'P', 0x30, (byte)'\r', (byte)'\n'];

    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly int _chunkSize;
    private readonly Crc32 _fileCrc = new();
    private readonly RecordBuffer _chunk = new(1 << 16);
    private readonly RecordBuffer _scratch = new(256);
    private readonly List<byte[]> _schemas = [];
    private readonly List<byte[]> _channels = [];
    private readonly List<ChannelState> _channelState = [];
    private readonly List<byte[]> _chunkIndexes = [];
    private long _position;
    private ulong _messageCount;
    private ulong _firstTime = ulong.MaxValue, _lastTime;
    private ulong _chunkFirst = ulong.MaxValue, _chunkLast;
    private int _chunkMessages;
    private bool _finished;

    /// <param name="stream">Where the file goes; written from its current position as offset 0.</param>
    /// <param name="chunkSize">A chunk is closed once its records reach this many bytes.</param>
    /// <param name="profile">Header profile ("" for none).</param>
    /// <param name="library">Header library, free-form.</param>
    /// <param name="leaveOpen">Leave <paramref name="stream"/> open on dispose.</param>
    public McapWriter(Stream stream, int chunkSize = 1 << 20, string profile = "", string library = "robotpg", bool leaveOpen = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkSize, 1);
        _stream = stream;
        _leaveOpen = leaveOpen;
        _chunkSize = chunkSize;
        WriteRaw(Magic);
        _scratch.Clear();
        _scratch.BeginRecord(OpHeader);
        _scratch.String(profile);
        _scratch.String(library);
        _scratch.EndRecord();
        WriteRaw(_scratch.Written);
    }

    /// <summary>Messages written so far.</summary>
    public ulong MessageCount => _messageCount;

    /// <summary>Adds a schema (ids from 1, in call order); its record goes into the data section at once.</summary>
    public ushort AddSchema(string name, string encoding, ReadOnlySpan<byte> data)
    {
        ThrowIfFinished();
        ushort id = checked((ushort)(_schemas.Count + 1));
        var record = new RecordBuffer(64 + data.Length);
        record.BeginRecord(OpSchema);
        record.U16(id);
        record.String(name);
        record.String(encoding);
        record.U32((uint)data.Length);
        record.Bytes(data);
        record.EndRecord();
        _schemas.Add(record.Written.ToArray());
        _chunk.Bytes(record.Written);
        return id;
    }

    /// <summary>Adds a channel (ids from 1, in call order); schema 0 means none. Metadata keys are written sorted.</summary>
    public ushort AddChannel(ushort schemaId, string topic, string messageEncoding, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ThrowIfFinished();
        if (schemaId > _schemas.Count)
            throw new ArgumentOutOfRangeException(nameof(schemaId), schemaId, "no schema with this id was added");
        ushort id = checked((ushort)(_channels.Count + 1));
        var record = new RecordBuffer(128);
        record.BeginRecord(OpChannel);
        record.U16(id);
        record.U16(schemaId);
        record.String(topic);
        record.String(messageEncoding);
        int mapStart = record.ReserveU32();
        if (metadata is not null)
        {
            var keys = metadata.Keys.ToArray();
            Array.Sort(keys, StringComparer.Ordinal);
            foreach (string key in keys)
            {
                record.String(key);
                record.String(metadata[key]);
            }
        }
        record.PatchU32(mapStart, (uint)(record.Length - mapStart - 4));
        record.EndRecord();
        _channels.Add(record.Written.ToArray());
        _channelState.Add(new ChannelState());
        _chunk.Bytes(record.Written);
        return id;
    }

    /// <summary>Writes one message. Index entries keep write order, as the reference writers do (the conformance vectors pin it).</summary>
    public void WriteMessage(ushort channelId, uint sequence, ulong logTime, ulong publishTime, ReadOnlySpan<byte> data)
    {
        ThrowIfFinished();
        if (channelId == 0 || channelId > _channels.Count)
            throw new ArgumentOutOfRangeException(nameof(channelId), channelId, "no channel with this id was added");
        var state = _channelState[channelId - 1];
        state.Index.Add((logTime, (ulong)_chunk.Length));
        state.Count++;
        _chunk.BeginRecord(OpMessage);
        _chunk.U16(channelId);
        _chunk.U32(sequence);
        _chunk.U64(logTime);
        _chunk.U64(publishTime);
        _chunk.Bytes(data);
        _chunk.EndRecord();
        _messageCount++;
        _chunkMessages++;
        _chunkFirst = Math.Min(_chunkFirst, logTime);
        _chunkLast = Math.Max(_chunkLast, logTime);
        _firstTime = Math.Min(_firstTime, logTime);
        _lastTime = Math.Max(_lastTime, logTime);
        if (_chunk.Length >= _chunkSize)
            FlushChunk();
    }

    /// <summary>Closes the open chunk and writes Data End, the summary, the summary offsets, the footer and the magic.</summary>
    public void Finish()
    {
        if (_finished) return;
        FlushChunk();
        _scratch.Clear();
        _scratch.BeginRecord(OpDataEnd);
        _scratch.U32(_fileCrc.GetCurrentHashAsUInt32());
        _scratch.EndRecord();
        WriteRaw(_scratch.Written);

        long summaryStart = _position;
        var summaryCrc = new Crc32();
        var groups = new List<(byte Opcode, long Start, long Length)>();
        void Group(byte opcode, List<byte[]> records)
        {
            if (records.Count == 0) return;
            long start = _position;
            foreach (var r in records)
            {
                summaryCrc.Append(r);
                WriteRaw(r);
            }
            groups.Add((opcode, start, _position - start));
        }
        Group(OpSchema, _schemas);
        Group(OpChannel, _channels);
        Group(OpStatistics, [StatisticsRecord()]);
        Group(OpChunkIndex, _chunkIndexes);

        long summaryOffsetStart = _position;
        foreach (var (opcode, start, length) in groups)
        {
            _scratch.Clear();
            _scratch.BeginRecord(OpSummaryOffset);
            _scratch.U8(opcode);
            _scratch.U64((ulong)start);
            _scratch.U64((ulong)length);
            _scratch.EndRecord();
            summaryCrc.Append(_scratch.Written);
            WriteRaw(_scratch.Written);
        }

        _scratch.Clear();
        _scratch.BeginRecord(OpFooter);
        _scratch.U64((ulong)summaryStart);
        _scratch.U64((ulong)summaryOffsetStart);
        _scratch.PatchU64(1, 20); // the length is part of what the summary CRC covers
        summaryCrc.Append(_scratch.Written);
        _scratch.U32(summaryCrc.GetCurrentHashAsUInt32());
        _scratch.EndRecord();
        WriteRaw(_scratch.Written);
        WriteRaw(Magic);
        _stream.Flush();
        _finished = true;
    }

    private byte[] StatisticsRecord()
    {
        var r = new RecordBuffer(64 + 10 * _channels.Count);
        r.BeginRecord(OpStatistics);
        r.U64(_messageCount);
        r.U16((ushort)_schemas.Count);
        r.U32((uint)_channels.Count);
        r.U32(0); // attachments
        r.U32(0); // metadata
        r.U32((uint)_chunkIndexes.Count);
        r.U64(_messageCount == 0 ? 0 : _firstTime);
        r.U64(_messageCount == 0 ? 0 : _lastTime);
        int mapStart = r.ReserveU32();
        for (int c = 0; c < _channelState.Count; c++)
        {
            r.U16((ushort)(c + 1));
            r.U64(_channelState[c].Count);
        }
        r.PatchU32(mapStart, (uint)(r.Length - mapStart - 4));
        r.EndRecord();
        return r.Written.ToArray();
    }

    private void FlushChunk()
    {
        if (_chunk.Length == 0) return;
        ReadOnlySpan<byte> records = _chunk.Written;
        ulong first = _chunkMessages == 0 ? 0 : _chunkFirst, last = _chunkMessages == 0 ? 0 : _chunkLast;
        long chunkStart = _position;
        _scratch.Clear();
        _scratch.BeginRecord(OpChunk);
        _scratch.U64(first);
        _scratch.U64(last);
        _scratch.U64((ulong)records.Length);
        _scratch.U32(Crc32.HashToUInt32(records));
        _scratch.String("");
        _scratch.U64((ulong)records.Length);
        // The record length covers the records that follow the prefix written here.
        _scratch.PatchU64(1, (ulong)(_scratch.Length - 9 + records.Length));
        WriteRaw(_scratch.Written);
        WriteRaw(records);
        long chunkLength = _position - chunkStart;

        // One Message Index per channel with messages in this chunk, in channel-id order.
        long indexStart = _position;
        var index = new RecordBuffer(32 + 10 * _channelState.Count);
        index.BeginRecord(OpChunkIndex);
        index.U64(first);
        index.U64(last);
        index.U64((ulong)chunkStart);
        index.U64((ulong)chunkLength);
        int mapStart = index.ReserveU32();
        for (int c = 0; c < _channelState.Count; c++)
        {
            var entries = _channelState[c].Index;
            if (entries.Count == 0) continue;
            index.U16((ushort)(c + 1));
            index.U64((ulong)_position);
            _scratch.Clear();
            _scratch.BeginRecord(OpMessageIndex);
            _scratch.U16((ushort)(c + 1));
            _scratch.U32((uint)(entries.Count * 16));
            foreach (var (time, offset) in entries)
            {
                _scratch.U64(time);
                _scratch.U64(offset);
            }
            _scratch.EndRecord();
            WriteRaw(_scratch.Written);
            entries.Clear();
        }
        index.PatchU32(mapStart, (uint)(index.Length - mapStart - 4));
        index.U64((ulong)(_position - indexStart));
        index.String("");
        index.U64((ulong)records.Length);
        index.U64((ulong)records.Length);
        index.EndRecord();
        _chunkIndexes.Add(index.Written.ToArray());

        _chunk.Clear();
        _chunkMessages = 0;
        _chunkFirst = ulong.MaxValue;
        _chunkLast = 0;
    }

    private void WriteRaw(ReadOnlySpan<byte> bytes)
    {
        _stream.Write(bytes);
        _fileCrc.Append(bytes);
        _position += bytes.Length;
    }

    private void ThrowIfFinished()
    {
        ObjectDisposedException.ThrowIf(_finished, this);
    }

    /// <summary>Finishes the file (if not yet) and closes the stream unless told to leave it open.</summary>
    public void Dispose()
    {
        Finish();
        if (!_leaveOpen)
            _stream.Dispose();
    }

    private sealed class ChannelState
    {
        public readonly List<(ulong Time, ulong Offset)> Index = [];
        public ulong Count;
    }

    /// <summary>A growable little-endian byte buffer that builds records: opcode, u64 length patched at the end.</summary>
    private sealed class RecordBuffer(int capacity)
    {
        private byte[] _buffer = new byte[capacity];
        private int _recordStart = -1;

        public int Length { get; private set; }

        public ReadOnlySpan<byte> Written => _buffer.AsSpan(0, Length);

        public void Clear() => Length = 0;

        public void BeginRecord(byte opcode)
        {
            _recordStart = Length;
            U8(opcode);
            U64(0);
        }

        public void EndRecord()
        {
            PatchU64(_recordStart + 1, (ulong)(Length - _recordStart - 9));
            _recordStart = -1;
        }

        public void U8(byte value) => Span(1)[0] = value;

        public void U16(ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(Span(2), value);

        public void U32(uint value) => BinaryPrimitives.WriteUInt32LittleEndian(Span(4), value);

        public void U64(ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(Span(8), value);

        public void Bytes(ReadOnlySpan<byte> value) => value.CopyTo(Span(value.Length));

        public void String(string value)
        {
            int n = Encoding.UTF8.GetByteCount(value);
            U32((uint)n);
            Encoding.UTF8.GetBytes(value, Span(n));
        }

        /// <summary>Reserves a u32 (an array or map byte length) and returns where it is.</summary>
        public int ReserveU32()
        {
            int at = Length;
            U32(0);
            return at;
        }

        public void PatchU32(int at, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(at), value);

        public void PatchU64(int at, ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(_buffer.AsSpan(at), value);

        private Span<byte> Span(int count)
        {
            if (Length + count > _buffer.Length)
                Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, Length + count));
            var span = _buffer.AsSpan(Length, count);
            Length += count;
            return span;
        }
    }
}
