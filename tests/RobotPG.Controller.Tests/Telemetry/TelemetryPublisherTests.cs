using System.Buffers;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using RobotPG.Controller.Control;
using RobotPG.Controller.Telemetry;
using RobotPG.Controller.Tests.Control;
using RobotPG.Messaging;

namespace RobotPG.Controller.Tests.Telemetry;

public sealed class TelemetryPublisherTests
{
    /// <summary>A loopback port nobody listens on (the publisher's client never connects: the tests read what it would send).</summary>
    internal static int ClosedPort()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    [Fact]
    public async Task Status_reports_the_loops_counters()
    {
        var f = new LoopFixture();
        f.Steps(30);
        f.Safety.RequestEmergencyStop();
        f.Steps(1);
        await using var client = new ResilientMqttClient(new MqttEndpoint("127.0.0.1", ClosedPort(), "t"));
        using var publisher = new TelemetryPublisher(f.Loop, 200, null, null, client, new Topics("bot"), "zero", 5);
        var s = publisher.Snapshot();
        Assert.Equal("bot", s.RobotId);
        Assert.Equal(31, s.Steps);
        Assert.True(s.Safety.MotorsOff);
        Assert.Equal("emergency-stop", s.Safety.Cause);
        Assert.Equal(1, s.Safety.EmergencyStopEvents);
        // The stop cuts the episode: 30 steps + the step that tripped.
        Assert.Equal(1, s.Episodes);
        Assert.Equal(31, s.LastEpisodeLength);
        Assert.Equal(0, s.EpisodeLength);
    }

    [Fact]
    public async Task A_full_send_queue_rejects_publications_and_says_so()
    {
        var f = new LoopFixture();
        f.Steps(10);
        // Not started: nothing drains the queue of 16, so the first 16 status messages are accepted and the rest refused.
        await using var client = new ResilientMqttClient(new MqttEndpoint("127.0.0.1", ClosedPort(), "stuck"), new ResilientMqttClientOptions { QueueCapacity = 16 });
        using var publisher = new TelemetryPublisher(f.Loop, 200, null, null, client, new Topics("bot"), "zero", 5);
        for (int i = 0; i < 1000; i++)
            publisher.PublishOnce();
        Assert.Equal(16, publisher.Published);
        Assert.Equal(984, publisher.Rejected);
        Assert.Equal(984, client.Dropped);
    }

    [Fact]
    public async Task A_dead_broker_drops_what_was_accepted_and_delivers_nothing()
    {
        var f = new LoopFixture();
        f.Steps(10);
        await using var client = new ResilientMqttClient(new MqttEndpoint("127.0.0.1", ClosedPort(), "dead"));
        client.Start();
        using var publisher = new TelemetryPublisher(f.Loop, 200, null, null, client, new Topics("bot"), "zero", 5);
        for (int i = 0; i < 1000; i++)
            publisher.PublishOnce();
        Assert.Equal(1000, publisher.Published + publisher.Rejected);
        Assert.Equal(publisher.Rejected, client.Dropped);
        // Every accepted message leaves the queue as dropped-while-disconnected; none is published.
        var drained = Stopwatch.StartNew();
        while (client.DroppedWhileDisconnected < publisher.Published && drained.Elapsed < TimeSpan.FromSeconds(20)) await Task.Delay(10);
        Assert.Equal(publisher.Published, client.DroppedWhileDisconnected);
        Assert.Equal(0, client.Published);
        Assert.False(client.IsConnected);
    }

    [Fact]
    public async Task Status_episode_and_safety_reach_a_subscriber_as_json()
    {
        await using var broker = await EmbeddedBroker.StartAsync();
        var f = new LoopFixture();
        f.Io.SetPitch(0.6); // 34°: past the 30° done tilt, short of the 35° limit
        f.Steps(3);         // the first step ends the episode at once (the filter starts at the accelerometer)

        var received = new Dictionary<string, TaskCompletionSource<string>>
        {
            ["robotpg/bot/telemetry/controller"] = new(TaskCreationOptions.RunContinuationsAsynchronously),
            ["robotpg/bot/telemetry/episode"] = new(TaskCreationOptions.RunContinuationsAsynchronously),
            ["robotpg/bot/telemetry/safety"] = new(TaskCreationOptions.RunContinuationsAsynchronously),
        };
        await using var watcher = new ResilientMqttClient(new MqttEndpoint(broker.Host, broker.Port, "watcher"));
        watcher.Start();
        Assert.True(await watcher.WaitConnectedAsync(TimeSpan.FromSeconds(10)));
        await watcher.SubscribeAsync("robotpg/bot/telemetry/#", (string topic, in ReadOnlySequence<byte> payload) =>
        {
            if (received.TryGetValue(topic, out var tcs))
                tcs.TrySetResult(Encoding.UTF8.GetString(payload.ToArray()));
        });

        await using var client = new ResilientMqttClient(new MqttEndpoint(broker.Host, broker.Port, "controller"));
        client.Start();
        Assert.True(await client.WaitConnectedAsync(TimeSpan.FromSeconds(10)));
        using var publisher = new TelemetryPublisher(f.Loop, 200, null, null, client, new Topics("bot"), "zero", 5);
        f.Safety.RequestEmergencyStop();
        f.Steps(1);
        publisher.PublishOnce();

        using var status = JsonDocument.Parse(await received["robotpg/bot/telemetry/controller"].Task.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(4, status.RootElement.GetProperty("steps").GetInt64());
        Assert.Equal(1, status.RootElement.GetProperty("episodes").GetInt64());
        Assert.True(status.RootElement.GetProperty("loop").TryGetProperty("periodErrorP99Us", out _));
        using var episode = JsonDocument.Parse(await received["robotpg/bot/telemetry/episode"].Task.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(1, episode.RootElement.GetProperty("episode").GetInt64());
        Assert.Equal(1, episode.RootElement.GetProperty("steps").GetInt64());
        using var safety = JsonDocument.Parse(await received["robotpg/bot/telemetry/safety"].Task.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal("emergency-stop", safety.RootElement.GetProperty("kind").GetString());
    }
}
