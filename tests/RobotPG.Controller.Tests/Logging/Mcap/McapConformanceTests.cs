using System.Buffers.Binary;
using System.Globalization;
using System.IO.Hashing;
using System.Text;
using System.Text.Json;
using RobotPG.Controller.Logging.Mcap;

namespace RobotPG.Controller.Tests.Logging.Mcap;

/// <summary>
/// The MCAP project's own conformance vectors (tests/conformance/data in github.com/foxglove/mcap, MIT):
/// each JSON lists every record a streamed reader sees in a file written with chunks, message indexes,
/// chunk indexes, statistics, repeated schemas/channels and summary offsets — with every offset, length and
/// CRC. The writer is fed the vector's input records, the output is decoded here field by field, and the
/// whole record list must equal the vector's: one byte out of place changes an offset or a CRC.
/// </summary>
public sealed class McapConformanceTests
{
    [Theory]
    [InlineData("OneMessage-ch-chx-mx-rch-rsh-st-sum.json")]
    [InlineData("TenMessages-ch-chx-mx-rch-rsh-st-sum.json")]
    [InlineData("OneSchemalessMessage-ch-chx-mx-rch-st-sum.json")]
    [InlineData("NoData-st-sum.json")]
    public void Writer_reproduces_the_conformance_vector(string vector)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoPaths.Root, "tests", "RobotPG.Controller.Tests", "Logging", "Mcap", "conformance", vector)));
        var expected = doc.RootElement.GetProperty("records").EnumerateArray().ToList();

        var stream = new MemoryStream();
        var header = Fields(expected[0]);
        using (var writer = new McapWriter(stream, profile: header["profile"].GetString()!, library: header["library"].GetString()!, leaveOpen: true))
        {
            foreach (var record in expected)
            {
                var f = Fields(record);
                switch (record.GetProperty("type").GetString())
                {
                    case "Schema":
                        Assert.Equal(U(f["id"]), writer.AddSchema(f["name"].GetString()!, f["encoding"].GetString()!, Bytes(f["data"])));
                        break;
                    case "Channel":
                        var metadata = f["metadata"].EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
                        Assert.Equal(U(f["id"]), writer.AddChannel((ushort)U(f["schema_id"]), f["topic"].GetString()!, f["message_encoding"].GetString()!, metadata));
                        break;
                    case "Message":
                        writer.WriteMessage((ushort)U(f["channel_id"]), (uint)U(f["sequence"]), U(f["log_time"]), U(f["publish_time"]), Bytes(f["data"]));
                        break;
                    case "DataEnd":
                        goto done; // everything after is written by Finish
                }
            }
        done:;
        }

        var actual = StreamedRecords(stream.ToArray());
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].GetProperty("type").GetString(), actual[i].Type);
            var want = Fields(expected[i]);
            Assert.Equal(want.Keys.Order(), actual[i].Fields.Keys.Order());
            foreach (var (name, value) in want)
                Assert.True(JsonElement.DeepEquals(value, actual[i].Fields[name]), $"record {i} {actual[i].Type}.{name}: want {value}, got {actual[i].Fields[name]}");
        }
    }

    [Fact]
    public void Chunks_close_at_the_chunk_size_and_each_is_indexed()
    {
        var stream = new MemoryStream();
        using (var writer = new McapWriter(stream, chunkSize: 100, leaveOpen: true))
        {
            ushort channel = writer.AddChannel(0, "t", "json");
            for (uint i = 0; i < 10; i++)
                writer.WriteMessage(channel, i, 1000 + i, 1000 + i, new byte[40]);
        }
        var records = StreamedRecords(stream.ToArray());
        var chunkIndexes = records.Where(r => r.Type == "ChunkIndex").ToList();
        var stats = records.Single(r => r.Type == "Statistics").Fields;
        Assert.Equal(chunkIndexes.Count.ToString(CultureInfo.InvariantCulture), stats["chunk_count"].GetString());
        // Channel record 9+2+2+5+8+4 = 30 bytes, message 9+2+4+8+8+40 = 71: the first chunk closes at
        // 30 + 71 = 101 ≥ 100, the next ones at two messages (142), the last holds message 9 alone.
        Assert.Equal(6, chunkIndexes.Count);
        Assert.Equal("101", chunkIndexes[0].Fields["uncompressed_size"].GetString());
        Assert.Equal("142", chunkIndexes[1].Fields["uncompressed_size"].GetString());
        Assert.Equal("1001", chunkIndexes[1].Fields["message_start_time"].GetString());
        Assert.Equal("1002", chunkIndexes[1].Fields["message_end_time"].GetString());
        Assert.Equal("71", chunkIndexes[5].Fields["uncompressed_size"].GetString());
        Assert.Equal("1009", chunkIndexes[5].Fields["message_start_time"].GetString());
        Assert.Equal("10", stats["message_count"].GetString());
        Assert.Equal("1000", stats["message_start_time"].GetString());
        Assert.Equal("1009", stats["message_end_time"].GetString());
    }

    private static Dictionary<string, JsonElement> Fields(JsonElement record) =>
        record.GetProperty("fields").EnumerateArray().ToDictionary(p => p[0].GetString()!, p => p[1].Clone());

    private static ulong U(JsonElement e) => ulong.Parse(e.GetString()!, CultureInfo.InvariantCulture);

    private static byte[] Bytes(JsonElement e) => e.EnumerateArray().Select(x => byte.Parse(x.GetString()!, CultureInfo.InvariantCulture)).ToArray();

    public sealed record Decoded(string Type, Dictionary<string, JsonElement> Fields);

    /// <summary>
    /// What the MCAP conformance "streamed reader" reports: every record in file order, chunks expanded in
    /// place, Chunk and Message Index records themselves left out. Checks the magic at both ends and each
    /// chunk's CRC on the way.
    /// </summary>
    public static List<Decoded> StreamedRecords(byte[] file)
    {
        Assert.True(file.AsSpan(0, 8).SequenceEqual(McapWriter.Magic), "leading magic");
        Assert.True(file.AsSpan(file.Length - 8).SequenceEqual(McapWriter.Magic), "trailing magic");
        var result = new List<Decoded>();
        Walk(file.AsSpan(8, file.Length - 16), result);
        return result;
    }

    private static void Walk(ReadOnlySpan<byte> span, List<Decoded> result)
    {
        while (span.Length > 0)
        {
            byte op = span[0];
            int length = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(span[1..]));
            var body = new Reader(span.Slice(9, length).ToArray());
            span = span[(9 + length)..];
            var f = new Dictionary<string, object>();
            string type;
            switch (op)
            {
                case McapWriter.OpHeader:
                    type = "Header"; f["profile"] = body.Str(); f["library"] = body.Str();
                    break;
                case McapWriter.OpFooter:
                    type = "Footer"; f["summary_start"] = body.U64(); f["summary_offset_start"] = body.U64(); f["summary_crc"] = body.U32();
                    break;
                case McapWriter.OpSchema:
                    type = "Schema"; f["id"] = body.U16(); f["name"] = body.Str(); f["encoding"] = body.Str(); f["data"] = body.Bytes(checked((int)body.U32()));
                    break;
                case McapWriter.OpChannel:
                    type = "Channel"; f["id"] = body.U16(); f["schema_id"] = body.U16(); f["topic"] = body.Str(); f["message_encoding"] = body.Str();
                    f["metadata"] = body.Map(() => body.Str(), () => body.Str());
                    break;
                case McapWriter.OpMessage:
                    type = "Message"; f["channel_id"] = body.U16(); f["sequence"] = body.U32(); f["log_time"] = body.U64(); f["publish_time"] = body.U64();
                    f["data"] = body.Bytes(body.Remaining);
                    break;
                case McapWriter.OpChunk:
                {
                    body.U64(); body.U64();
                    ulong uncompressedSize = body.U64();
                    uint crc = body.U32();
                    Assert.Equal("", body.Str());
                    byte[] records = body.Bytes(checked((int)body.U64()));
                    Assert.Equal(uncompressedSize, (ulong)records.Length);
                    Assert.Equal(crc, Crc32.HashToUInt32(records));
                    Walk(records, result);
                    continue;
                }
                case McapWriter.OpMessageIndex:
                    continue;
                case McapWriter.OpChunkIndex:
                    type = "ChunkIndex"; f["message_start_time"] = body.U64(); f["message_end_time"] = body.U64(); f["chunk_start_offset"] = body.U64();
                    f["chunk_length"] = body.U64(); f["message_index_offsets"] = body.Map(() => body.U16(), () => body.U64());
                    f["message_index_length"] = body.U64(); f["compression"] = body.Str(); f["compressed_size"] = body.U64(); f["uncompressed_size"] = body.U64();
                    break;
                case McapWriter.OpStatistics:
                    type = "Statistics"; f["message_count"] = body.U64(); f["schema_count"] = body.U16(); f["channel_count"] = body.U32();
                    f["attachment_count"] = body.U32(); f["metadata_count"] = body.U32(); f["chunk_count"] = body.U32();
                    f["message_start_time"] = body.U64(); f["message_end_time"] = body.U64(); f["channel_message_counts"] = body.Map(() => body.U16(), () => body.U64());
                    break;
                case McapWriter.OpSummaryOffset:
                    type = "SummaryOffset"; f["group_opcode"] = body.U8(); f["group_start"] = body.U64(); f["group_length"] = body.U64();
                    break;
                case McapWriter.OpDataEnd:
                    type = "DataEnd"; f["data_section_crc"] = body.U32();
                    break;
                default:
                    throw new InvalidDataException($"unexpected opcode 0x{op:x2}");
            }
            Assert.Equal(0, body.Remaining);
            result.Add(new Decoded(type, f.ToDictionary(p => p.Key, p => ToJson(p.Value))));
        }
    }

    /// <summary>The conformance JSON's value form: integers as strings, bytes as arrays of strings, maps as objects.</summary>
    private static JsonElement ToJson(object value)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
            Write(w, value);
        return JsonDocument.Parse(buffer.ToArray()).RootElement.Clone();

        static void Write(Utf8JsonWriter w, object v)
        {
            switch (v)
            {
                case string s: w.WriteStringValue(s); break;
                case byte[] bytes:
                    w.WriteStartArray();
                    foreach (byte b in bytes) w.WriteStringValue(b.ToString(CultureInfo.InvariantCulture));
                    w.WriteEndArray();
                    break;
                case List<(object Key, object Value)> map:
                    w.WriteStartObject();
                    foreach (var (k, val) in map)
                    {
                        w.WritePropertyName(Convert.ToString(k, CultureInfo.InvariantCulture)!);
                        Write(w, val);
                    }
                    w.WriteEndObject();
                    break;
                default: w.WriteStringValue(Convert.ToString(v, CultureInfo.InvariantCulture)); break;
            }
        }
    }

    private sealed class Reader(byte[] data)
    {
        private int _at;

        public int Remaining => data.Length - _at;

        public byte U8() => data[_at++];

        public ushort U16() { var v = BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(_at)); _at += 2; return v; }

        public uint U32() { var v = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(_at)); _at += 4; return v; }

        public ulong U64() { var v = BinaryPrimitives.ReadUInt64LittleEndian(data.AsSpan(_at)); _at += 8; return v; }

        public byte[] Bytes(int n) { var v = data.AsSpan(_at, n).ToArray(); _at += n; return v; }

        public string Str() => Encoding.UTF8.GetString(Bytes(checked((int)U32())));

        public List<(object, object)> Map(Func<object> key, Func<object> value)
        {
            int end = _at + 4 + checked((int)U32());
            var map = new List<(object, object)>();
            while (_at < end)
                map.Add((key(), value()));
            Assert.Equal(end, _at);
            return map;
        }
    }
}
