using System.Globalization;
using System.Text;
using RobotPG.Controller.Cli;
using RobotPG.Controller.Logging;

namespace RobotPG.Controller.Tests.Logging;

public sealed class LogCommandTests
{
    private static string WriteLog(TempDirectory dir, int records)
    {
        var ring = new TrajectoryRing(2, 1, 64);
        using var writer = new TrajectoryLogWriter(ring, dir.Path, 1 << 20, "cli-bot", 42, DateTimeOffset.UnixEpoch);
        for (int s = 0; s < records; s++)
            Assert.True(ring.TryAppend(s, s * 1_000_000L, [s, 2 * s], [0.5f * s], -1f, 1f, s == records - 1 ? TransitionFlags.Terminated : TransitionFlags.None));
        Assert.True(writer.Flush(TimeSpan.FromSeconds(10)));
        return writer.Files[0];
    }

    [Fact]
    public void Info_reports_counts_and_torn_tail_of_a_cut_file()
    {
        using var dir = new TempDirectory();
        string file = WriteLog(dir, 10);
        using (var f = new FileStream(file, FileMode.Open))
            f.SetLength(f.Length - 5);
        var output = new StringWriter();
        var error = new StringWriter();
        Assert.Equal(0, RobotPgCli.Run(["log", "info", file], output, error));
        string text = output.ToString();
        Assert.Contains("robot: cli-bot", text);
        Assert.Contains("records: 9\n", text);
        // Record = 32 + 4·3 = 44 bytes; 5 bytes cut off leaves 39 of the last one.
        Assert.Contains("torn tail: 39 bytes", text);
        Assert.Contains("episode ends: 0", text);
        Assert.Equal("", error.ToString());
    }

    [Fact]
    public void Export_writes_one_csv_row_per_record()
    {
        using var dir = new TempDirectory();
        string file = WriteLog(dir, 3);
        string csv = dir.File("out.csv");
        Assert.Equal(0, RobotPgCli.Run(["log", "export", file, "--csv", csv], new StringWriter(), new StringWriter()));
        var lines = File.ReadAllLines(csv);
        Assert.Equal("step,time_s,obs0,obs1,motor0_duty,log_prob,reward,terminated,truncated,safety_stop,idle", lines[0]);
        Assert.Equal(4, lines.Length);
        Assert.Equal("2,0.002,2,4,1,-1,1,1,0,0,0", lines[3]);
        Assert.Equal(0.002, double.Parse(lines[3].Split(',')[1], CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Info_on_a_non_log_is_one_line_and_nonzero()
    {
        using var dir = new TempDirectory();
        string file = dir.File("junk.rpglog");
        File.WriteAllBytes(file, new byte[10]);
        var error = new StringWriter();
        Assert.Equal(2, RobotPgCli.Run(["log", "info", file], new StringWriter(), error));
        Assert.Equal($"{file}: the file holds 10 bytes, less than the 128-byte header{Environment.NewLine}", error.ToString());
    }

    [Fact]
    public void Export_without_csv_or_mcap_is_a_usage_error()
    {
        var error = new StringWriter();
        Assert.Equal(2, RobotPgCli.Run(["log", "export", "x.rpglog"], new StringWriter(), error));
        Assert.Equal("robotpg log export: give --csv OUT and/or --mcap OUT", error.ToString().TrimEnd());
    }

    /// <summary>
    /// A cart-pole log of 2 episodes: steps 0..3 (the last terminated), a safety stop over steps 4..5 that
    /// truncates at step 5, then idle step 6. Start time 1 s after the epoch, steps 10 ms apart.
    /// </summary>
    private static string WriteCartpoleLog(TempDirectory dir)
    {
        var ring = new TrajectoryRing(4, 1, 64);
        using var writer = new TrajectoryLogWriter(ring, dir.Path, 1 << 20, "rail-1", 0xABCDEFUL, DateTimeOffset.UnixEpoch.AddSeconds(1), task: "cartpole-rail");
        TransitionFlags[] flags =
        [
            TransitionFlags.None, TransitionFlags.None, TransitionFlags.None, TransitionFlags.Terminated,
            TransitionFlags.SafetyStop, TransitionFlags.SafetyStop | TransitionFlags.Truncated, TransitionFlags.Idle,
        ];
        for (int s = 0; s < flags.Length; s++)
            Assert.True(ring.TryAppend(s, s * 10_000_000L, [0.25f * s, 1f, -0.5f, s], [0.125f * s], -0.75f, s + 0.5f, flags[s]));
        Assert.True(writer.Flush(TimeSpan.FromSeconds(10)));
        return writer.Files[0];
    }

    [Fact]
    public void Csv_columns_are_named_from_the_task_in_the_log_header()
    {
        using var dir = new TempDirectory();
        string file = WriteCartpoleLog(dir);
        string csv = dir.File("out.csv");
        Assert.Equal(0, RobotPgCli.Run(["log", "export", file, "--csv", csv], new StringWriter(), new StringWriter()));
        var lines = File.ReadAllLines(csv);
        Assert.Equal("step,time_s,cart_position_m,cart_velocity_m_per_s,pole_angle_rad,pole_rate_rad_per_s,motor0_duty,log_prob,reward,terminated,truncated,safety_stop,idle", lines[0]);
        Assert.Equal("3,0.03,0.75,1,-0.5,3,0.375,-0.75,3.5,1,0,0,0", lines[4]);
    }

    [Fact]
    public void Mcap_export_holds_one_message_per_step_on_each_channel_with_task_named_fields_and_log_times()
    {
        using var dir = new TempDirectory();
        string file = WriteCartpoleLog(dir);
        string mcap = dir.File("out.mcap");
        var output = new StringWriter();
        Assert.Equal(0, RobotPgCli.Run(["log", "export", file, "--mcap", mcap], output, new StringWriter()));
        Assert.Equal($"{mcap}: 7 steps, 2 episode ends, 1 safety stops, 0 learning updates (0 corrupt skipped, 0 torn tail bytes)", output.ToString().TrimEnd());

        var records = Mcap.McapConformanceTests.StreamedRecords(File.ReadAllBytes(mcap));
        var channels = records.Where(r => r.Type == "Channel").Take(6)
            .ToDictionary(r => r.Fields["id"].GetString()!, r => r.Fields["topic"].GetString()!);
        Assert.Equal(["/observation", "/action", "/reward", "/episode", "/safety", "/policy"], channels.Values);
        var messages = records.Where(r => r.Type == "Message")
            .Select(r => (Topic: channels[r.Fields["channel_id"].GetString()!], Time: ulong.Parse(r.Fields["log_time"].GetString()!, CultureInfo.InvariantCulture),
                Json: Encoding.UTF8.GetString(r.Fields["data"].EnumerateArray().Select(b => byte.Parse(b.GetString()!, CultureInfo.InvariantCulture)).ToArray())))
            .ToList();
        Assert.Equal(7, messages.Count(m => m.Topic == "/observation"));
        Assert.Equal(7, messages.Count(m => m.Topic == "/action"));
        Assert.Equal(7, messages.Count(m => m.Topic == "/reward"));
        var obs3 = messages.Where(m => m.Topic == "/observation").ElementAt(3);
        Assert.Equal(1_030_000_000UL, obs3.Time); // 1 s start + 30 ms
        Assert.Equal("""{"step":3,"cart_position_m":0.75,"cart_velocity_m_per_s":1,"pole_angle_rad":-0.5,"pole_rate_rad_per_s":3}""", obs3.Json);
        Assert.Equal("""{"step":3,"motor0_duty":0.375,"log_prob":-0.75}""", messages.Where(m => m.Topic == "/action").ElementAt(3).Json);
        Assert.Equal("""{"step":5,"reward":5.5,"terminated":false,"truncated":true,"safety_stop":true,"idle":false}""", messages.Where(m => m.Topic == "/reward").ElementAt(5).Json);
        // Returns: 0.5+1.5+2.5+3.5 = 8 over 4 steps; then steps 4, 5: 4.5+5.5 = 10.
        Assert.Equal(
            [
                """{"episode":1,"end_step":3,"steps":4,"return":8,"end_reason":"terminated"}""",
                """{"episode":2,"end_step":5,"steps":2,"return":10,"end_reason":"safety stop"}""",
            ],
            messages.Where(m => m.Topic == "/episode").Select(m => m.Json));
        Assert.Equal(["""{"step":4,"event":"motors held off"}"""], messages.Where(m => m.Topic == "/safety").Select(m => m.Json));
        Assert.Equal(["""{"robot_id":"rail-1","task":"cartpole-rail","policy_hash":"0000000000abcdef","file_index":0}"""], messages.Where(m => m.Topic == "/policy").Select(m => m.Json));
        var stats = records.Single(r => r.Type == "Statistics").Fields;
        Assert.Equal("1000000000", stats["message_start_time"].GetString());
        Assert.Equal("1060000000", stats["message_end_time"].GetString());

        // log info prints the same counts and the same first/last log times.
        var info = new StringWriter();
        Assert.Equal(0, RobotPgCli.Run(["log", "info", file], info, new StringWriter()));
        Assert.Contains("task: cartpole-rail\n", info.ToString());
        Assert.Contains("log time: 1000000000..1060000000 ns\n", info.ToString());
        Assert.Contains("episode ends: 2, steps under safety stop: 2, safety stops: 1\n", info.ToString());
    }

    [Fact]
    public void Mcap_export_to_an_unwritable_path_is_one_line_and_nonzero()
    {
        using var dir = new TempDirectory();
        string file = WriteCartpoleLog(dir);
        string bad = Path.Combine(dir.Path, "no-such-dir", "out.mcap");
        var error = new StringWriter();
        Assert.Equal(1, RobotPgCli.Run(["log", "export", file, "--mcap", bad], new StringWriter(), error));
        Assert.StartsWith($"{bad}: cannot write: ", error.ToString());
        Assert.Single(error.ToString().TrimEnd().Split('\n'));
    }
}
