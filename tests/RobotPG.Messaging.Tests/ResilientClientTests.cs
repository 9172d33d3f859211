using System.Buffers;
using Xunit;

namespace RobotPG.Messaging.Tests;

public class ResilientClientTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task PublishesThroughTheEmbeddedBrokerWithoutWaiting()
    {
        await using var broker = await EmbeddedBroker.StartAsync();
        Assert.NotEqual(0, broker.Port);
        await using var receiver = new ResilientMqttClient(new MqttEndpoint(broker.Host, broker.Port, "rx"));
        await using var sender = new ResilientMqttClient(new MqttEndpoint(broker.Host, broker.Port, "tx"));
        receiver.Start();
        sender.Start();
        Assert.True(await receiver.WaitConnectedAsync(Timeout));
        Assert.True(await sender.WaitConnectedAsync(Timeout));
        var got = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        await receiver.SubscribeAsync("robotpg/+/telemetry/#", (string topic, in ReadOnlySequence<byte> payload) =>
        {
            if (topic == "robotpg/x/telemetry/episode") got.TrySetResult(payload.ToArray());
        });
        Assert.True(sender.TryPublish("robotpg/x/telemetry/episode", [1, 2, 3]));
        var done = await Task.WhenAny(got.Task, Task.Delay(Timeout));
        Assert.Same(got.Task, done);
        Assert.Equal(new byte[] { 1, 2, 3 }, got.Task.Result);
    }

    [Fact]
    public async Task MessagesFromOneThreadArriveInOrderWhetherSentInlineOrQueued()
    {
        await using var broker = await EmbeddedBroker.StartAsync();
        await using var receiver = new ResilientMqttClient(new MqttEndpoint(broker.Host, broker.Port, "rx"));
        await using var sender = new ResilientMqttClient(new MqttEndpoint(broker.Host, broker.Port, "tx"), new ResilientMqttClientOptions { QueueCapacity = 1024 });
        receiver.Start();
        sender.Start();
        Assert.True(await receiver.WaitConnectedAsync(Timeout));
        Assert.True(await sender.WaitConnectedAsync(Timeout));
        const int messages = 1000;
        var got = new List<int>();
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await receiver.SubscribeAsync("robotpg/x/seq", (string topic, in ReadOnlySequence<byte> payload) =>
        {
            lock (got)
            {
                got.Add(BitConverter.ToInt32(payload.FirstSpan));
                if (got.Count == messages) all.TrySetResult();
            }
        });
        // A burst: the first goes out on this thread, the rest queue behind it while the socket is busy,
        // then inline again once the queue drained. Every QoS 1 one must wait in the queue.
        for (int i = 0; i < messages; i++)
            Assert.True(sender.TryPublish("robotpg/x/seq", BitConverter.GetBytes(i), i % 100 == 50 ? MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce : default));
        Assert.Same(all.Task, await Task.WhenAny(all.Task, Task.Delay(Timeout)));
        lock (got) Assert.Equal(Enumerable.Range(0, messages), got);
        Assert.True(await sender.FlushAsync(Timeout));
        Assert.Equal(messages, sender.Published);
        Assert.Equal(0, sender.Dropped + sender.PublishFailures);
    }

    [Fact]
    public async Task AFullQueueDropsAndCountsInsteadOfBlocking()
    {
        // Nothing listens on this port: the client keeps retrying in the background.
        await using var client = new ResilientMqttClient(new MqttEndpoint("127.0.0.1", 1, "nobody"),
            new ResilientMqttClientOptions { QueueCapacity = 4, MaxPayloadLength = 16 });
        Assert.False(client.TryPublish("t", new byte[17])); // too large
        int accepted = 0;
        for (int i = 0; i < 10; i++) if (client.TryPublish("t", [1])) accepted++;
        Assert.Equal(4, accepted); // not started: nothing drains
        Assert.Equal(7, client.Dropped);
    }

    [Fact]
    public async Task ReconnectsAndResubscribesAfterTheBrokerRestarts()
    {
        var broker = await EmbeddedBroker.StartAsync();
        int port = broker.Port;
        await using var receiver = new ResilientMqttClient(new MqttEndpoint(broker.Host, port, "rx2"),
            new ResilientMqttClientOptions { MinReconnectDelay = TimeSpan.FromMilliseconds(20), MaxReconnectDelay = TimeSpan.FromMilliseconds(200) });
        receiver.Start();
        Assert.True(await receiver.WaitConnectedAsync(Timeout));
        var got = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await receiver.SubscribeAsync("a/b", (string _, in ReadOnlySequence<byte> _) => got.TrySetResult());
        var reconnected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        receiver.Connected += count => { if (count >= 2) reconnected.TrySetResult(); };
        await broker.DisposeAsync();

        broker = await EmbeddedBroker.StartAsync(port);
        try
        {
            Assert.Same(reconnected.Task, await Task.WhenAny(reconnected.Task, Task.Delay(Timeout)));
            Assert.True(receiver.Connects >= 2);
            await using var sender = new ResilientMqttClient(new MqttEndpoint(broker.Host, port, "tx2"));
            sender.Start();
            Assert.True(await sender.WaitConnectedAsync(Timeout));
            // Connected fires after the resubscription was acknowledged, so one publish must be heard.
            Assert.True(sender.TryPublish("a/b", [7]));
            Assert.Same(got.Task, await Task.WhenAny(got.Task, Task.Delay(Timeout)));
        }
        finally
        {
            await broker.DisposeAsync();
        }
    }

    [Theory]
    [InlineData(MqttProtocol.V5)]
    [InlineData(MqttProtocol.V311)]
    public async Task A_dispose_right_after_the_last_status_delivers_it_and_the_broker_keeps_no_will(MqttProtocol protocol)
    {
        // The clean-shutdown order of the controller: queue the final retained status, then dispose at once. Dispose
        // lets the queue drain before it cancels anything and ends with a DISCONNECT, so the broker neither loses the
        // status nor publishes the last will over it.
        await using var broker = await EmbeddedBroker.StartAsync();
        var robot = new ResilientMqttClient(new MqttEndpoint(broker.Host, broker.Port, "robot-" + protocol)
        {
            Protocol = protocol, Will = new MqttLastWill("robotpg/r/status", "offline"u8.ToArray()),
        });
        robot.Start();
        Assert.True(await robot.WaitConnectedAsync(Timeout));
        for (int i = 0; i < 30; i++)
            Assert.True(robot.TryPublish("robotpg/r/status", System.Text.Encoding.UTF8.GetBytes($"online {i}"), MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce, retain: true));
        Assert.True(robot.TryPublish("robotpg/r/status", "stopped"u8, MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce, retain: true));
        await robot.DisposeAsync();
        Assert.Equal(31, robot.Published);

        await using var desk = new ResilientMqttClient(new MqttEndpoint(broker.Host, broker.Port, "desk-" + protocol));
        var statuses = new System.Collections.Concurrent.BlockingCollection<string>();
        await desk.SubscribeAsync("robotpg/r/status", (string _, in ReadOnlySequence<byte> p) => statuses.Add(System.Text.Encoding.UTF8.GetString(p.ToArray())));
        desk.Start();
        Assert.True(await desk.WaitConnectedAsync(Timeout));
        Assert.True(statuses.TryTake(out string? retained, Timeout));
        Assert.Equal("stopped", retained);
    }
}
