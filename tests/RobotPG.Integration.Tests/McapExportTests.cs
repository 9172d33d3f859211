using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using RobotPG.Controller.Cli;
using RobotPG.Sim.Demo;
using RobotPG.Sim.Serving;
using Xunit;

namespace RobotPG.Integration.Tests;

/// <summary>
/// A lockstep demo's trajectory log, exported with <c>robotpg log export --mcap</c>, read back by the MCAP
/// project's own reader (@mcap/core, tests/js/mcap-check.mjs): every record, chunk and message index, the
/// chunk, data-section and summary CRCs; its per-channel counts and first/last log times must equal what
/// <c>robotpg log info</c> reports for the same log, learning updates included; every message holds exactly its
/// channel's JSON Schema fields.
/// </summary>
public sealed class McapExportTests
{
    [Fact]
    public async Task Exported_demo_log_reads_back_with_mcap_core_and_matches_log_info()
    {
        string outDir = Path.Combine(Path.GetTempPath(), "robotpg-mcap-" + Guid.NewGuid().ToString("N"));
        try
        {
            var run = new DemoRun(new DemoOptions
            {
                DurationSeconds = 50, // 2 500 steps at 50 Hz: several 256 KiB chunks of JSON and learning updates (batches of 1 024)
                Algorithm = "ppo",
                Seed = 5,
                Clock = SimClockMode.Lockstep,
                FromScratch = true, // an untrained policy falls often: many episodes and safety stops
                OutputDirectory = outDir,
                PhysicsDirectory = OnDeviceSetup.PhysicsDirectory,
            }, new StringWriter());
            Assert.Equal(0, await run.RunAsync().WaitAsync(TimeSpan.FromSeconds(60)));
            string log = Directory.GetFiles(Path.Combine(outDir, "robot", "logs"), "*.rpglog").Single();

            var info = new StringWriter();
            Assert.Equal(0, RobotPgCli.Run(["log", "info", log], info, new StringWriter()));
            string text = info.ToString();
            long records = long.Parse(InfoValue(text, "records"), CultureInfo.InvariantCulture);
            var times = Regex.Match(text, @"^log time: (\d+)\.\.(\d+) ns$", RegexOptions.Multiline);
            var ends = Regex.Match(text, @"^episode ends: (\d+), steps under safety stop: \d+, safety stops: (\d+)$", RegexOptions.Multiline);
            var updates = Regex.Match(text, @"^learning updates: (\d+) \(accepted (\d+), rejected \d+, rolled back \d+; 0 corrupt skipped, 0 torn tail bytes\)$", RegexOptions.Multiline);
            Assert.True(times.Success && ends.Success && updates.Success, text);
            long updateCount = long.Parse(updates.Groups[1].Value, CultureInfo.InvariantCulture);
            Assert.True(updateCount >= 1, text);

            // Each update is stamped with the step and loop time of a logged transition: the log's own clock.
            var timeOfStep = new Dictionary<long, long>();
            using (var reader = RobotPG.Controller.Logging.TrajectoryLogReader.Open(log))
                while (reader.TryReadNext(out var r)) timeOfStep[r.Step] = r.TimeNs;
            foreach (var u in RobotPG.Controller.Logging.LearningUpdateLog.ReadFor(log).Records)
                Assert.Equal(timeOfStep[u.Step], u.TimeNs);

            string mcap = Path.Combine(outDir, "run.mcap");
            Assert.Equal(0, RobotPgCli.Run(["log", "export", log, "--mcap", mcap], new StringWriter(), new StringWriter()));

            var (code, stdout, stderr) = NodeChecks.Run(TimeSpan.FromSeconds(60), "mcap-check.mjs", mcap);
            Assert.True(code == 0, $"mcap-check failed: {stderr}");
            var summary = JsonDocument.Parse(stdout).RootElement;
            var topics = summary.GetProperty("topics");
            Assert.Equal(2500, records);
            Assert.Equal(updateCount, topics.GetProperty("/learning").GetInt64());
            Assert.Equal(3 * records + topics.GetProperty("/episode").GetInt64() + topics.GetProperty("/safety").GetInt64() + 1 + updateCount,
                summary.GetProperty("schemaChecked").GetInt64());
            Assert.Equal(records, topics.GetProperty("/observation").GetInt64());
            Assert.Equal(records, topics.GetProperty("/action").GetInt64());
            Assert.Equal(records, topics.GetProperty("/reward").GetInt64());
            Assert.Equal(long.Parse(ends.Groups[1].Value, CultureInfo.InvariantCulture), topics.GetProperty("/episode").GetInt64());
            Assert.Equal(long.Parse(ends.Groups[2].Value, CultureInfo.InvariantCulture), topics.GetProperty("/safety").GetInt64());
            Assert.Equal(1, topics.GetProperty("/policy").GetInt64());
            Assert.Equal(times.Groups[1].Value, summary.GetProperty("firstLogTimeNs").GetString());
            Assert.Equal(times.Groups[2].Value, summary.GetProperty("lastLogTimeNs").GetString());
            Assert.True(summary.GetProperty("chunks").GetInt32() >= 2, stdout);
            Assert.True(topics.GetProperty("/episode").GetInt64() >= 2, stdout);
        }
        finally
        {
            if (Directory.Exists(outDir)) Directory.Delete(outDir, recursive: true);
        }
    }

    [Fact]
    public void Mcap_check_rejects_a_file_with_one_flipped_byte_in_a_chunk()
    {
        // The checker must catch what it is there to catch: flip a byte inside a message of a written file.
        string dir = Path.Combine(Path.GetTempPath(), "robotpg-mcapbad-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string path = Path.Combine(dir, "bad.mcap");
            using (var file = File.Create(path))
            using (var writer = new RobotPG.Controller.Logging.Mcap.McapWriter(file))
            {
                ushort schema = writer.AddSchema("s", "jsonschema", "{}"u8);
                ushort channel = writer.AddChannel(schema, "/x", "json");
                for (uint i = 0; i < 5; i++)
                    writer.WriteMessage(channel, i, 100 + i, 100 + i, "{\"v\":1}"u8);
            }
            var (okCode, _, okErr) = NodeChecks.Run(TimeSpan.FromSeconds(30), "mcap-check.mjs", path);
            Assert.True(okCode == 0, okErr);
            byte[] bytes = File.ReadAllBytes(path);
            int at = bytes.AsSpan().IndexOf("{\"v\":1}"u8) + 5;
            bytes[at] = (byte)'2';
            File.WriteAllBytes(path, bytes);
            var (code, _, stderr) = NodeChecks.Run(TimeSpan.FromSeconds(30), "mcap-check.mjs", path);
            Assert.Equal(1, code);
            Assert.Contains("CRC", stderr);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("""{"v":"x"}""", "field v")]
    [InlineData("""{"v":1,"w":2}""", "are not the schema's")]
    public void Mcap_check_rejects_a_message_that_does_not_follow_its_channels_schema(string message, string expected)
    {
        string dir = Path.Combine(Path.GetTempPath(), "robotpg-mcapschema-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string path = Path.Combine(dir, "bad.mcap");
            using (var file = File.Create(path))
            using (var writer = new RobotPG.Controller.Logging.Mcap.McapWriter(file))
            {
                ushort schema = writer.AddSchema("s", "jsonschema", """{"type":"object","properties":{"v":{"type":"integer"}}}"""u8);
                ushort channel = writer.AddChannel(schema, "/x", "json");
                writer.WriteMessage(channel, 0, 100, 100, """{"v":1}"""u8);
                writer.WriteMessage(channel, 1, 101, 101, System.Text.Encoding.UTF8.GetBytes(message));
            }
            var (code, _, stderr) = NodeChecks.Run(TimeSpan.FromSeconds(30), "mcap-check.mjs", path);
            Assert.Equal(1, code);
            Assert.Contains(expected, stderr);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static string InfoValue(string text, string key) =>
        Regex.Match(text, $"^{key}: (.*)$", RegexOptions.Multiline).Groups[1].Value.Trim();
}
