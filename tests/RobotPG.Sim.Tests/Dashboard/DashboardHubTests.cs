using System.Buffers;
using System.Net;
using System.Text;
using System.Text.Json;
using RobotPG.Sim.Cli;
using RobotPG.Sim.Dashboard;
using RobotPG.Sim.Tests.Cli;
using Xunit;

namespace RobotPG.Sim.Tests.Dashboard;

public sealed class DashboardHubTests
{
    [Theory]
    [InlineData("robotpg/bot-1/status", "bot-1", "status")]
    [InlineData("robotpg/bot-1/telemetry/learning", "bot-1", "learning")]
    [InlineData("robotpg/bot-1/telemetry/learning-episode", "bot-1", "learning-episode")]
    [InlineData("robotpg/bot-1/telemetry/a/b", "bot-1", "a/b")]
    public void Robot_topics_split_into_robot_and_kind(string topic, string robot, string kind)
    {
        Assert.True(DashboardHub.TryParseTopic(topic, out string r, out string k));
        Assert.Equal((robot, kind), (r, k));
    }

    [Theory]
    [InlineData("robotpg/bot-1/telemetry/")]
    [InlineData("robotpg/bot-1/status/extra")]
    [InlineData("robotpg/bot-1/sim/sensors")]
    [InlineData("other/bot-1/status")]
    [InlineData("robotpg/bad id/status")]
    [InlineData("robotpg/bot-1")]
    public void Other_topics_are_not_robot_events(string topic) =>
        Assert.False(DashboardHub.TryParseTopic(topic, out _, out _));

    [Fact]
    public void Json_payloads_pass_through_verbatim_and_anything_else_becomes_a_json_string()
    {
        string json = DashboardHub.EventLine("r", "learning", 1234, new ReadOnlySequence<byte>("""{"approx_kl":0.5,"n":[1,2]}"""u8.ToArray()));
        Assert.Equal("""data: {"robot":"r","kind":"learning","time_ms":1234,"payload":{"approx_kl":0.5,"n":[1,2]}}""" + "\n\n", json);
        string text = DashboardHub.EventLine("r", "status", 5, new ReadOnlySequence<byte>("online"u8.ToArray()));
        Assert.Equal("""data: {"robot":"r","kind":"status","time_ms":5,"payload":"online"}""" + "\n\n", text);
        // Two JSON values, or a value cut short, are not JSON: sent as text (the page never sees broken JSON).
        string two = DashboardHub.EventLine("r", "x", 5, new ReadOnlySequence<byte>("{} {}"u8.ToArray()));
        Assert.Equal("{} {}", JsonDocument.Parse(two[6..]).RootElement.GetProperty("payload").GetString());
        string cut = DashboardHub.EventLine("r", "x", 5, new ReadOnlySequence<byte>("{\"a\":"u8.ToArray()));
        Assert.Equal("{\"a\":", JsonDocument.Parse(cut[6..]).RootElement.GetProperty("payload").GetString());
    }

    [Fact]
    public void A_page_opened_late_gets_the_latest_status_and_the_history_then_live_events()
    {
        var hub = new DashboardHub();
        hub.OnMessage("robotpg/a/status", Payload("offline"));
        hub.OnMessage("robotpg/a/status", Payload("online"));
        for (int i = 0; i < DashboardHub.HistoryPerRobot + 10; i++)
            hub.OnMessage("robotpg/a/telemetry/episode", Payload($"{{\"episode\":{i}}}"));
        hub.OnMessage("robotpg/fleet/x/policy", Payload("{}")); // not on the filters' shape: ignored
        using var page = hub.OpenPage();
        Assert.Equal(1 + DashboardHub.HistoryPerRobot, page.Backlog.Count);
        Assert.Contains("\"payload\":\"online\"", page.Backlog[0]); // only the latest status
        Assert.Contains("\"payload\":{\"episode\":10}", page.Backlog[1]); // the oldest 10 episodes dropped
        hub.OnMessage("robotpg/b/telemetry/learning", Payload("{\"update\":1}"));
        Assert.True(page.Live.TryRead(out string? live));
        Assert.Contains("\"robot\":\"b\"", live);
        Assert.Equal(["a", "b"], hub.Robots);
        Assert.Equal(1, hub.Ignored);
    }

    [Fact]
    public async Task Server_serves_the_page_and_vendored_chart_library_on_loopback_and_nothing_else()
    {
        var hub = new DashboardHub();
        await using var server = DashboardServer.Start(hub, IPAddress.Loopback, 0);
        Assert.StartsWith("http://127.0.0.1:", server.Url);
        using var http = new HttpClient();
        string page = await http.GetStringAsync(server.Url);
        Assert.Contains("<script src=\"/uPlot.iife.min.js\"></script>", page);
        Assert.DoesNotContain("https://", page); // no CDN: everything comes from this server
        byte[] js = await http.GetByteArrayAsync(server.Url + "uPlot.iife.min.js");
        Assert.Equal(File.ReadAllBytes(Path.Combine(RepoRoot(), "sim", "RobotPG.Sim", "Dashboard", "vendor", "uPlot.iife.min.js")), js);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(server.Url + "secrets.json")).StatusCode);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await http.PostAsync(server.Url, new StringContent("x"))).StatusCode);
    }

    [Fact]
    public void Vendored_uplot_is_the_npm_package_pinned_in_tests_js()
    {
        string vendor = Path.Combine(RepoRoot(), "sim", "RobotPG.Sim", "Dashboard", "vendor");
        string js = File.ReadAllText(Path.Combine(vendor, "uPlot.iife.min.js"));
        string package = File.ReadAllText(Path.Combine(RepoRoot(), "tests", "js", "package.json"));
        string version = JsonDocument.Parse(package).RootElement.GetProperty("dependencies").GetProperty("uplot").GetString()!;
        Assert.StartsWith($"/*! https://github.com/leeoniya/uPlot (v{version}) */", js);
    }

    [Theory]
    [InlineData(new[] { "--broker", "ws://x:1" }, "robotpg-sim dashboard: --broker: broker 'ws://x:1': only mqtt://host:port and mqtts://host:port are supported")]
    [InlineData(new[] { "--broker", "mqtt://h:1", "--listen", "localhost" }, "robotpg-sim dashboard: --listen 'localhost' is not an IP address")]
    [InlineData(new[] { "--broker", "mqtt://h:1", "--port", "70000" }, "robotpg-sim dashboard: --port must be 0–65535")]
    public void Bad_options_are_one_line_and_exit_code_2(string[] args, string message)
    {
        var (exit, _, stderr) = CliTestRun.Invoke(DashboardCommand.Create(), args);
        Assert.Equal(2, exit);
        Assert.Equal(message, stderr.TrimEnd());
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void A_credentials_file_others_can_read_is_refused_in_one_line_that_shows_no_secret()
    {
        string dir = CliTestRun.TempDirectory();
        string file = Path.Combine(dir, "dashboard.cred");
        File.WriteAllText(file, "username=viewer\npassword=s3cret\n");
        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        var (exit, _, stderr) = CliTestRun.Invoke(DashboardCommand.Create(), "--broker", "mqtt://h:1", "--credentials", file);
        Assert.Equal(2, exit);
        Assert.Equal($"robotpg-sim dashboard: --credentials: {file}: credentials file is readable by group or others (chmod 600 it)", stderr.TrimEnd());
        Assert.DoesNotContain("s3cret", stderr);
        Directory.Delete(dir, recursive: true);
    }

    private static ReadOnlySequence<byte> Payload(string text) => new(Encoding.UTF8.GetBytes(text));

    private static string RepoRoot([System.Runtime.CompilerServices.CallerFilePath] string here = "")
    {
        var dir = new DirectoryInfo(Path.GetDirectoryName(here)!);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "RobotPG.sln")))
            dir = dir.Parent;
        return dir!.FullName;
    }
}
