using System.Globalization;
using System.Text;
using RobotPG.Controller.Logging;
using RobotPG.Controller.Logging.Mcap;

namespace RobotPG.Controller.Tests.Logging.Mcap;

/// <summary>
/// The MCAP export's edge cases the cart-pole walk-through does not reach: idle steps outside the episode sums,
/// an episode cut by its step limit, a second safety stop, a non-finite observation, a negative loop time,
/// learning updates before the first record and after the last, a log with no records, and the counts returned.
/// </summary>
public sealed class TrajectoryMcapExportTests
{
    private const ulong Start = 2_000_000_000; // the log starts 2 s after the epoch

    private sealed record Message(string Topic, ulong Time, string Json);

    private static (McapExportCounts Counts, List<Message> Messages, List<McapConformanceTests.Decoded> Records) Export(
        TempDirectory dir, (long TimeNs, float Obs0, float Reward, TransitionFlags Flags)[] steps, params LearningUpdateRecord[] updates)
    {
        var ring = new TrajectoryRing(2, 1, 64);
        string file;
        using (var writer = new TrajectoryLogWriter(ring, dir.Path, 1 << 20, "edge", 0x10, DateTimeOffset.UnixEpoch.AddSeconds(2)))
        {
            for (int s = 0; s < steps.Length; s++)
                Assert.True(ring.TryAppend(s, steps[s].TimeNs, [steps[s].Obs0, 1f], [0.5f], -1f, steps[s].Reward, steps[s].Flags));
            // A log with no records has no file from the writer; make the header-only file by hand.
            Assert.True(writer.Flush(TimeSpan.FromSeconds(10)));
            if (steps.Length == 0)
            {
                file = dir.File("empty.rpglog");
                var header = new byte[TrajectoryLogFormat.HeaderSize];
                TrajectoryLogFormat.WriteHeader(new TrajectoryLogHeader(2, 1, "edge", 0x10, DateTimeOffset.UnixEpoch.AddSeconds(2), 0), header);
                File.WriteAllBytes(file, header);
            }
            else
                file = writer.Files[0];
        }
        var output = new MemoryStream();
        McapExportCounts counts;
        using (var reader = TrajectoryLogReader.Open(file))
            counts = TrajectoryMcapExport.Write(reader, output, updates);
        var records = McapConformanceTests.StreamedRecords(output.ToArray());
        var topics = records.Where(r => r.Type == "Channel").Take(7).ToDictionary(r => r.Fields["id"].GetString()!, r => r.Fields["topic"].GetString()!);
        var messages = records.Where(r => r.Type == "Message")
            .Select(r => new Message(topics[r.Fields["channel_id"].GetString()!], ulong.Parse(r.Fields["log_time"].GetString()!, CultureInfo.InvariantCulture),
                Encoding.UTF8.GetString(r.Fields["data"].EnumerateArray().Select(b => byte.Parse(b.GetString()!, CultureInfo.InvariantCulture)).ToArray())))
            .ToList();
        return (counts, messages, records);
    }

    private static LearningUpdateRecord Accepted(long update, long timeNs) =>
        new(update, timeNs, update, 0.5f, 0.25f, 1f, float.PositiveInfinity, LearningUpdateEvent.Accepted, null);

    [Fact]
    public void Episodes_safety_stops_non_finite_values_and_updates_before_and_after_the_records()
    {
        using var dir = new TempDirectory();
        var (counts, messages, records) = Export(dir,
            [
                (-5, 0.25f, 1f, TransitionFlags.None),                 // a negative loop time is the file's start
                (10_000_000, float.NaN, 100f, TransitionFlags.Idle),   // idle: in no episode
                (20_000_000, 0.5f, 2f, TransitionFlags.Truncated),     // episode 1: steps 0 and 2, return 3
                (30_000_000, 0.5f, 0.5f, TransitionFlags.SafetyStop),
                (40_000_000, 0.5f, 0.25f, TransitionFlags.SafetyStop | TransitionFlags.Terminated), // episode 2
                (50_000_000, 0.5f, 0f, TransitionFlags.None),
                (60_000_000, 0.5f, 0f, TransitionFlags.SafetyStop),    // a second stop entered
            ],
            Accepted(1, -100), Accepted(2, 25_000_000), Accepted(3, 1_000_000_000));

        Assert.Equal(new McapExportCounts(7, 7, 7, 2, 2, 1, Start, Start + 1_000_000_000, 3), counts);
        Assert.Equal(
            [
                """{"episode":1,"end_step":2,"steps":2,"return":3,"end_reason":"step limit"}""",
                """{"episode":2,"end_step":4,"steps":2,"return":0.75,"end_reason":"terminated"}""",
            ],
            messages.Where(m => m.Topic == "/episode").Select(m => m.Json));
        Assert.Equal(
            [new Message("/safety", Start + 30_000_000, """{"step":3,"event":"motors held off"}"""),
             new Message("/safety", Start + 60_000_000, """{"step":6,"event":"motors held off"}""")],
            messages.Where(m => m.Topic == "/safety"));
        Assert.Equal(new Message("/observation", Start, """{"step":0,"obs0":0.25,"obs1":1}"""), messages.First(m => m.Topic == "/observation"));
        Assert.Equal("""{"step":1,"obs0":null,"obs1":1}""", messages.Where(m => m.Topic == "/observation").ElementAt(1).Json);
        Assert.Equal("""{"step":1,"reward":100,"terminated":false,"truncated":false,"safety_stop":false,"idle":true}""",
            messages.Where(m => m.Topic == "/reward").ElementAt(1).Json);
        Assert.Equal("""{"update":1,"step":1,"event":"accepted","accepted":true,"cause":"","approx_kl":0.5,"clip_fraction":0.25,"entropy":1,"explained_variance":null}""",
            messages.First(m => m.Topic == "/learning").Json);
        // Where each update goes: after the record whose time reaches its own (the first at the start, the last after every record).
        var order = messages.Select(m => m.Topic == "/learning" ? $"L@{m.Time - Start}" : m.Topic == "/reward" ? "r" : null).OfType<string>();
        Assert.Equal("r L@0 r r r L@25000000 r r r L@1000000000", string.Join(' ', order));
        Assert.Equal("/policy", messages[0].Topic);
        var stats = records.Single(r => r.Type == "Statistics").Fields;
        Assert.Equal(Start.ToString(CultureInfo.InvariantCulture), stats["message_start_time"].GetString());
        Assert.Equal((Start + 1_000_000_000).ToString(CultureInfo.InvariantCulture), stats["message_end_time"].GetString());
    }

    [Fact]
    public void A_log_without_records_exports_its_updates_and_their_time_span()
    {
        using var dir = new TempDirectory();
        var (counts, messages, _) = Export(dir, [], Accepted(1, 5_000_000), Accepted(2, 3_000_000));
        Assert.Equal(new McapExportCounts(0, 0, 0, 0, 0, 0, Start + 3_000_000, Start + 5_000_000, 2), counts);
        Assert.Equal([("/learning", Start + 5_000_000), ("/learning", Start + 3_000_000)], messages.Select(m => (m.Topic, m.Time)));
    }

    [Fact]
    public void Every_channel_carries_a_json_schema_naming_its_fields_with_numbers_nullable()
    {
        using var dir = new TempDirectory();
        var (_, _, records) = Export(dir, [(0, 1f, 1f, TransitionFlags.None)]);
        var schemas = records.Where(r => r.Type == "Schema").Take(7).ToList();
        Assert.Equal(
            ["robotpg.observation", "robotpg.action", "robotpg.reward", "robotpg.episode", "robotpg.safety", "robotpg.policy", "robotpg.learning"],
            schemas.Select(s => s.Fields["name"].GetString()));
        Assert.All(schemas, s => Assert.Equal("jsonschema", s.Fields["encoding"].GetString()));
        string Data(int i) => Encoding.UTF8.GetString(schemas[i].Fields["data"].EnumerateArray().Select(b => byte.Parse(b.GetString()!, CultureInfo.InvariantCulture)).ToArray());
        Assert.Equal(
            """{"$schema":"https://json-schema.org/draft/2020-12/schema","title":"Observation of the task (the policy\u0027s input before normalisation)","type":"object","properties":{"step":{"type":"integer"},"obs0":{"type":["number","null"]},"obs1":{"type":["number","null"]}}}""",
            Data(0));
        Assert.Contains("""{"episode":{"type":"integer"},"end_step":{"type":"integer"},"steps":{"type":"integer"},"return":{"type":["number","null"]},"end_reason":{"type":"string"}}""", Data(3));
        var channel = records.First(r => r.Type == "Channel").Fields;
        Assert.Equal("json", channel["message_encoding"].GetString());
        Assert.Equal("""{"file_index":"0","policy_hash":"0000000000000010","robot_id":"edge","task":""}""", channel["metadata"].GetRawText().Replace(" ", ""));
    }
}
