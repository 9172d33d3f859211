using System.Buffers.Binary;
using System.Text;
using RobotPG.Controller.Logging.Mcap;

namespace RobotPG.Controller.Tests.Logging.Mcap;

/// <summary>
/// What the conformance vectors (one channel) do not reach: indexes of several channels per chunk, channels
/// without messages in a chunk, out-of-order log times, a message larger than the chunk buffer, metadata order,
/// and the writer's refusals. Checked against the MCAP spec's definitions (https://mcap.dev/spec): a Chunk
/// Index's message index offsets are file offsets of Message Index records, whose entries are offsets of
/// Message records within the chunk's records.
/// </summary>
public sealed class McapWriterTests
{
    private sealed record Raw(long Offset, byte Opcode, byte[] Body);

    /// <summary>The top-level records in file order (chunks not expanded), after checking both magics.</summary>
    private static List<Raw> TopLevel(byte[] file)
    {
        Assert.True(file.AsSpan(0, 8).SequenceEqual(McapWriter.Magic));
        Assert.True(file.AsSpan(file.Length - 8).SequenceEqual(McapWriter.Magic));
        var list = new List<Raw>();
        long at = 8;
        while (at < file.Length - 8)
        {
            int length = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan((int)at + 1)));
            list.Add(new Raw(at, file[at], file.AsSpan((int)at + 9, length).ToArray()));
            at += 9 + length;
        }
        Assert.Equal(file.Length - 8, at);
        return list;
    }

    private static ulong U64(byte[] b, int at) => BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(at));

    private static ushort U16(byte[] b, int at) => BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(at));

    private static uint U32(byte[] b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(at));

    /// <summary>Chunk body → its records bytes (no compression).</summary>
    private static byte[] ChunkRecords(byte[] chunk)
    {
        int at = 8 + 8 + 8 + 4;
        int compressionLength = (int)U32(chunk, at);
        at += 4 + compressionLength;
        int n = checked((int)U64(chunk, at));
        return chunk.AsSpan(at + 8, n).ToArray();
    }

    /// <summary>(channel, log time) of every message the chunk indexes say it holds, resolved through the Message Index records.</summary>
    private static List<(ushort Channel, ulong Time)> Indexed(byte[] file, Raw chunkIndex, out ulong start, out ulong end)
    {
        var b = chunkIndex.Body;
        start = U64(b, 0);
        end = U64(b, 8);
        long chunkStart = (long)U64(b, 16), chunkLength = (long)U64(b, 24);
        int mapLength = (int)U32(b, 32);
        ulong indexLength = U64(b, 36 + mapLength);
        Assert.Equal(McapWriter.OpChunk, file[chunkStart]);
        byte[] records = ChunkRecords(file.AsSpan((int)chunkStart + 9, (int)chunkLength - 9).ToArray());
        var found = new List<(ushort, ulong)>();
        ulong indexBytes = 0;
        ushort previous = 0;
        for (int at = 36; at < 36 + mapLength; at += 10)
        {
            ushort channel = U16(b, at);
            Assert.True(channel > previous, "message indexes in channel-id order");
            previous = channel;
            long offset = (long)U64(b, at + 2);
            Assert.Equal(McapWriter.OpMessageIndex, file[offset]);
            int length = (int)BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan((int)offset + 1));
            indexBytes += 9 + (ulong)length;
            byte[] index = file.AsSpan((int)offset + 9, length).ToArray();
            Assert.Equal(channel, U16(index, 0));
            int entries = (int)U32(index, 2);
            Assert.Equal(length - 6, entries);
            for (int e = 0; e < entries; e += 16)
            {
                ulong time = U64(index, 6 + e);
                int messageAt = (int)U64(index, 6 + e + 8);
                Assert.Equal(McapWriter.OpMessage, records[messageAt]);
                Assert.Equal(channel, U16(records, messageAt + 9));
                Assert.Equal(time, U64(records, messageAt + 9 + 2 + 4));
                found.Add((channel, time));
            }
        }
        Assert.Equal(indexLength, indexBytes);
        if (mapLength > 0) // the indexes follow their chunk at once
            Assert.Equal(chunkStart + chunkLength, (long)U64(b, 38));
        return found;
    }

    private static byte[] Write(int chunkSize, Action<McapWriter> body)
    {
        var stream = new MemoryStream();
        using (var writer = new McapWriter(stream, chunkSize, leaveOpen: true))
            body(writer);
        return stream.ToArray();
    }

    [Theory]
    [InlineData(1 << 20, 1)] // one chunk: both channels indexed
    [InlineData(1, 3)]       // a chunk per message: only the channel with a message in it is indexed
    public void Every_message_is_indexed_under_its_channel_and_the_times_bound_each_chunk(int chunkSize, int chunks)
    {
        byte[] file = Write(chunkSize, w =>
        {
            ushort schema = w.AddSchema("s", "jsonschema", "{}"u8);
            ushort a = w.AddChannel(schema, "/a", "json");
            ushort b = w.AddChannel(0, "/b", "json");
            w.WriteMessage(b, 0, 50, 49, "{\"v\":1}"u8);
            w.WriteMessage(a, 1, 10, 9, "{\"v\":2}"u8);
            w.WriteMessage(b, 2, 30, 29, "{\"v\":3}"u8);
            Assert.Equal(3UL, w.MessageCount);
        });
        var records = TopLevel(file);
        var chunkIndexes = records.Where(r => r.Opcode == McapWriter.OpChunkIndex).ToList();
        Assert.Equal(chunks, chunkIndexes.Count);
        Assert.Equal(chunks, records.Count(r => r.Opcode == McapWriter.OpChunk));
        var all = new List<(ushort, ulong)>();
        var bounds = new List<(ulong, ulong)>();
        foreach (var ci in chunkIndexes)
        {
            all.AddRange(Indexed(file, ci, out ulong start, out ulong end));
            bounds.Add((start, end));
        }
        if (chunks == 1)
        {
            Assert.Equal([(1, 10UL), (2, 50UL), (2, 30UL)], all); // channel 1's index, then channel 2's in write order
            Assert.Equal([(10UL, 50UL)], bounds);
        }
        else
        {
            Assert.Equal([(2, 50UL), (1, 10UL), (2, 30UL)], all);
            Assert.Equal([(50UL, 50UL), (10UL, 10UL), (30UL, 30UL)], bounds);
        }
        var stats = records.Single(r => r.Opcode == McapWriter.OpStatistics).Body;
        Assert.Equal(3UL, U64(stats, 0));          // messages
        Assert.Equal(1, U16(stats, 8));            // schemas
        Assert.Equal(2u, U32(stats, 10));          // channels
        Assert.Equal((uint)chunks, U32(stats, 22)); // chunks
        Assert.Equal(10UL, U64(stats, 26));        // earliest log time, not the first written
        Assert.Equal(50UL, U64(stats, 34));
        Assert.Equal(20u, U32(stats, 42));         // two (u16 channel, u64 count) entries
        Assert.Equal((ushort)1, U16(stats, 46));
        Assert.Equal(1UL, U64(stats, 48));
        Assert.Equal((ushort)2, U16(stats, 56));
        Assert.Equal(2UL, U64(stats, 58));
        Assert.Equal(66, stats.Length);
    }

    [Fact]
    public void A_file_with_a_channel_and_no_messages_has_zero_times_not_sentinels()
    {
        byte[] file = Write(1 << 20, w => w.AddChannel(0, "/quiet", "json"));
        var records = TopLevel(file);
        var chunkIndex = records.Single(r => r.Opcode == McapWriter.OpChunkIndex);
        Assert.Empty(Indexed(file, chunkIndex, out ulong start, out ulong end));
        Assert.Equal(0UL, start);
        Assert.Equal(0UL, end);
        var chunk = records.Single(r => r.Opcode == McapWriter.OpChunk).Body;
        Assert.Equal(0UL, U64(chunk, 0));
        Assert.Equal(0UL, U64(chunk, 8));
        var stats = records.Single(r => r.Opcode == McapWriter.OpStatistics).Body;
        Assert.Equal(0UL, U64(stats, 0));
        Assert.Equal(0UL, U64(stats, 26));
        Assert.Equal(0UL, U64(stats, 34));
        Assert.Equal(10u, U32(stats, 42)); // the channel with a count of 0
        Assert.Equal(0UL, U64(stats, 48));
    }

    [Fact]
    public void A_message_larger_than_the_chunk_buffer_is_written_whole()
    {
        var data = new byte[300_000]; // the chunk buffer starts at 64 KiB
        new Random(7).NextBytes(data);
        byte[] file = Write(1 << 20, w =>
        {
            ushort c = w.AddChannel(0, "/big", "raw");
            w.WriteMessage(c, 1, 5, 5, data);
            w.WriteMessage(c, 2, 6, 6, data.AsSpan(0, 3));
        });
        var messages = McapConformanceTests.StreamedRecords(file).Where(r => r.Type == "Message").ToList();
        Assert.Equal(2, messages.Count);
        Assert.Equal(data, messages[0].Fields["data"].EnumerateArray().Select(x => byte.Parse(x.GetString()!)).ToArray());
        Assert.Equal(data[..3], messages[1].Fields["data"].EnumerateArray().Select(x => byte.Parse(x.GetString()!)).ToArray());
    }

    [Fact]
    public void Channel_metadata_is_written_with_keys_in_ordinal_order()
    {
        byte[] file = Write(1 << 20, w => w.AddChannel(0, "t", "json", new Dictionary<string, string> { ["b"] = "2", ["a"] = "1", ["B"] = "3" }));
        var chunk = TopLevel(file).Single(r => r.Opcode == McapWriter.OpChunk).Body;
        byte[] channel = ChunkRecords(chunk);
        Assert.Equal(McapWriter.OpChannel, channel[0]);
        // id, schema id, "t", "json", then the map: byte length, then key/value strings.
        int at = 9 + 2 + 2 + 4 + 1 + 4 + 4;
        Assert.Equal(3u * (4 + 1 + 4 + 1), U32(channel, at));
        var text = Encoding.ASCII.GetString(channel, at + 4, channel.Length - at - 4);
        Assert.Equal("\u0001\0\0\0B\u0001\0\0\03\u0001\0\0\0a\u0001\0\0\01\u0001\0\0\0b\u0001\0\0\02", text);
    }

    [Fact]
    public void Ids_that_were_not_added_and_a_chunk_size_below_one_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new McapWriter(new MemoryStream(), chunkSize: 0));
        using var w = new McapWriter(new MemoryStream(), chunkSize: 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => w.AddChannel(1, "t", "json"));
        Assert.Equal((ushort)1, w.AddSchema("s", "e", []));
        Assert.Equal((ushort)2, w.AddSchema("s2", "e", []));
        Assert.Throws<ArgumentOutOfRangeException>(() => w.AddChannel(3, "t", "json"));
        Assert.Equal((ushort)1, w.AddChannel(2, "t", "json"));
        Assert.Throws<ArgumentOutOfRangeException>(() => w.WriteMessage(0, 0, 0, 0, []));
        Assert.Throws<ArgumentOutOfRangeException>(() => w.WriteMessage(2, 0, 0, 0, []));
        w.WriteMessage(1, 0, 0, 0, []);
        Assert.Equal(1UL, w.MessageCount);
    }

    private sealed class TrackedStream : MemoryStream
    {
        public bool Disposed;

        protected override void Dispose(bool disposing)
        {
            Disposed = true;
            base.Dispose(disposing);
        }
    }

    [Fact]
    public void Finish_ends_the_file_once_and_nothing_can_be_added_after()
    {
        var stream = new TrackedStream();
        var w = new McapWriter(stream, leaveOpen: true);
        ushort c = w.AddChannel(0, "t", "json");
        w.WriteMessage(c, 0, 1, 1, "1"u8);
        w.Finish();
        byte[] once = stream.ToArray();
        TopLevel(once); // ends in the magic
        w.Finish();
        w.Dispose();
        Assert.Equal(once, stream.ToArray());
        Assert.False(stream.Disposed);
        Assert.Throws<ObjectDisposedException>(() => w.AddSchema("s", "e", []));
        Assert.Throws<ObjectDisposedException>(() => w.AddChannel(0, "t2", "json"));
        Assert.Throws<ObjectDisposedException>(() => w.WriteMessage(c, 1, 2, 2, []));

        var owned = new TrackedStream();
        new McapWriter(owned).Dispose();
        Assert.True(owned.Disposed);
    }
}
