using System.Net;
using System.Text;
using System.Text.Json;
using RobotPG.Messaging;
using RobotPG.Sim.Dashboard;
using RobotPG.Sim.Demo;
using RobotPG.Sim.Serving;
using Xunit;

namespace RobotPG.Integration.Tests;

/// <summary>The live dashboard against a learning robot (embedded broker, headless Chromium) and against mosquitto.</summary>
public sealed class DashboardTests
{
    [Fact]
    public async Task Browser_sees_the_demo_robot_online_and_its_return_chart_grow()
    {
        string outDir = Path.Combine(Path.GetTempPath(), "robotpg-dash-" + Guid.NewGuid().ToString("N"));
        string artifacts = Path.Combine(OnDeviceSetup.RepoRoot(), "artifacts", "dashboard");
        Directory.CreateDirectory(artifacts);
        string screenshot = Path.Combine(artifacts, "dashboard.png");
        File.Delete(screenshot);
        await using var broker = await EmbeddedBroker.StartAsync(0);
        await using var dashboard = await FleetDashboard.StartAsync(new MqttEndpoint(broker.Host, broker.Port, "dash-test"), IPAddress.Loopback, 0);
        Assert.True(await dashboard.WaitConnectedAsync(TimeSpan.FromSeconds(10)));
        var run = new DemoRun(new DemoOptions
        {
            DurationSeconds = 3600, // cancelled once the browser has seen enough
            Algorithm = "ppo",
            Seed = 7,
            Clock = SimClockMode.Lockstep,
            FromScratch = true,
            OutputDirectory = outDir,
            PhysicsDirectory = OnDeviceSetup.PhysicsDirectory,
            Broker = new MqttEndpoint("127.0.0.1", broker.Port, DemoRun.SimClientId),
        }, new StringWriter());
        var demo = Task.Run(run.RunAsync);
        try
        {
            var (code, stdout, stderr) = NodeChecks.Run(TimeSpan.FromSeconds(120), "dashboard-check.mjs", dashboard.Server.Url, "balance-bot", screenshot);
            Assert.True(code == 0, $"dashboard-check failed: {stderr}");
            var result = JsonDocument.Parse(stdout).RootElement;
            Assert.Equal("online", result.GetProperty("listedStatus").GetString());
            Assert.Equal("online", result.GetProperty("tileStatus").GetString());
            Assert.True(result.GetProperty("returnPointsAfter").GetInt32() > result.GetProperty("returnPointsBefore").GetInt32(), stdout);
            // The controller's lockstep holds and silent waits, as numbers (a field name the page does not know leaves "–").
            Assert.Matches(@"^\d+ ms · \d+ · \d+$", result.GetProperty("waitsTile").GetString());
            // A PNG was written (signature bytes), for the CI artefacts.
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(screenshot)[..4]);
        }
        finally
        {
            run.Cancel();
            Assert.Equal(0, await demo.WaitAsync(TimeSpan.FromSeconds(60)));
            if (Directory.Exists(outDir)) Directory.Delete(outDir, recursive: true);
        }
    }

    [Fact]
    public async Task Over_mosquitto_a_page_gets_the_retained_status_and_live_telemetry_as_sent()
    {
        await using var mosquitto = await MosquittoBroker.StartAsync(TimeSpan.FromSeconds(20));
        await using var robot = new ResilientMqttClient(new MqttEndpoint(mosquitto.Host, mosquitto.Port, "robot-r1"));
        robot.Start();
        Assert.True(await robot.WaitConnectedAsync(TimeSpan.FromSeconds(10)));
        // Retained before the dashboard exists: it must still be the first thing the page learns.
        Assert.True(robot.TryPublish("robotpg/r1/status", "online"u8, MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce, retain: true));

        await using var dashboard = await FleetDashboard.StartAsync(new MqttEndpoint(mosquitto.Host, mosquitto.Port, "dash-mosq"), IPAddress.Loopback, 0);
        Assert.True(await dashboard.WaitConnectedAsync(TimeSpan.FromSeconds(10)));
        using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        using var response = await http.GetAsync(dashboard.Server.Url + "events", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());

        const string learning = """{"update":3,"approx_kl":0.0125,"clip_fraction":0.2,"entropy":1.5,"explained_variance":0.75}""";
        var seen = new List<JsonElement>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        bool published = false;
        while (seen.Count < 2)
        {
            if (!published && seen.Count == 1)
            {
                Assert.True(robot.TryPublish("robotpg/r1/telemetry/learning", Encoding.UTF8.GetBytes(learning)));
                published = true;
            }
            string? line = await reader.ReadLineAsync(timeout.Token);
            Assert.NotNull(line);
            if (line.StartsWith("data: ", StringComparison.Ordinal))
                seen.Add(JsonDocument.Parse(line[6..]).RootElement.Clone());
        }
        Assert.Equal("r1", seen[0].GetProperty("robot").GetString());
        Assert.Equal("status", seen[0].GetProperty("kind").GetString());
        Assert.Equal("online", seen[0].GetProperty("payload").GetString());
        Assert.Equal("learning", seen[1].GetProperty("kind").GetString());
        Assert.Equal(learning, seen[1].GetProperty("payload").GetRawText());
        Assert.Equal(["r1"], dashboard.Hub.Robots);
    }
}
