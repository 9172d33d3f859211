using System.Globalization;
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
        Assert.Equal("step,time_s,obs0,obs1,action0,log_prob,reward,terminated,truncated,safety_stop,idle", lines[0]);
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
    public void Export_without_csv_is_a_usage_error()
    {
        var error = new StringWriter();
        Assert.Equal(2, RobotPgCli.Run(["log", "export", "x.rpglog"], new StringWriter(), error));
        Assert.Single(error.ToString().TrimEnd().Split('\n'));
    }
}
