using System.Buffers;
using System.Collections.Concurrent;
using Xunit;

namespace RobotPG.Messaging.Tests;

/// <summary>The embedded broker's in-process side: what its host publishes and receives without a client connection.</summary>
public class EmbeddedBrokerInProcessTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private static async Task<ResilientMqttClient> ConnectAsync(EmbeddedBroker broker, string id)
    {
        var client = new ResilientMqttClient(new MqttEndpoint(broker.Host, broker.Port, id));
        client.Start();
        Assert.True(await client.WaitConnectedAsync(Timeout));
        return client;
    }

    [Fact]
    public async Task InProcessPublishesReachSubscribersInOrderEachWithItsOwnBytes()
    {
        await using var broker = await EmbeddedBroker.StartAsync();
        await using var subscriber = await ConnectAsync(broker, "sub");
        const int messages = 200;
        var got = new ConcurrentQueue<byte[]>();
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await subscriber.SubscribeAsync("robotpg/x/sensors", (string topic, in ReadOnlySequence<byte> payload) =>
        {
            got.Enqueue(payload.ToArray());
            if (got.Count == messages) all.TrySetResult();
        });
        // One buffer rewritten before each publish, as the simulator reuses its frame buffer: the broker
        // sends later, from each subscriber's own loop, so it must hold a copy.
        var buffer = new byte[64];
        for (int i = 0; i < messages; i++)
        {
            Array.Fill(buffer, (byte)i);
            Assert.True(broker.TryPublish("robotpg/x/sensors", buffer.AsSpan(0, 1 + i % 64), "sim"));
        }
        Assert.Same(all.Task, await Task.WhenAny(all.Task, Task.Delay(Timeout)));
        var received = got.ToArray();
        for (int i = 0; i < messages; i++)
        {
            var expected = new byte[1 + i % 64];
            Array.Fill(expected, (byte)i);
            Assert.Equal(expected, received[i]);
        }
        Assert.Equal(messages, broker.Published);
    }

    [Fact]
    public async Task OnPublishedSeesExactlyItsTopicAndSubscribersStillGetTheMessage()
    {
        await using var broker = await EmbeddedBroker.StartAsync();
        var seen = new ConcurrentQueue<(string Topic, byte[] Payload)>();
        broker.OnPublished("robotpg/x/actuators", (string topic, in ReadOnlySequence<byte> payload) => seen.Enqueue((topic, payload.ToArray())));
        await using var subscriber = await ConnectAsync(broker, "sub");
        var routed = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        await subscriber.SubscribeAsync("robotpg/x/#", (string topic, in ReadOnlySequence<byte> payload) =>
        {
            if (topic == "robotpg/x/actuators") routed.TrySetResult(payload.ToArray());
        });
        await using var publisher = await ConnectAsync(broker, "pub");
        Assert.True(publisher.TryPublish("robotpg/x/actuators/more", [9]));  // a deeper topic is not ours
        Assert.True(publisher.TryPublish("robotpg/y/actuators", [8]));       // another robot's
        Assert.True(publisher.TryPublish("robotpg/x/actuators", [1, 2, 3]));
        Assert.Same(routed.Task, await Task.WhenAny(routed.Task, Task.Delay(Timeout)));
        Assert.Equal(new byte[] { 1, 2, 3 }, routed.Task.Result);
        // The interceptor runs before routing on the publisher's loop, and that loop handles messages in order.
        var only = Assert.Single(seen);
        Assert.Equal("robotpg/x/actuators", only.Topic);
        Assert.Equal(new byte[] { 1, 2, 3 }, only.Payload);
    }

    [Fact]
    public async Task AThrowingHandlerIsCountedAndThePublishersConnectionSurvives()
    {
        await using var broker = await EmbeddedBroker.StartAsync();
        int calls = 0;
        var second = new TaskCompletionSource<byte>(TaskCreationOptions.RunContinuationsAsynchronously);
        broker.OnPublished("robotpg/x/actuators", (string topic, in ReadOnlySequence<byte> payload) =>
        {
            if (Interlocked.Increment(ref calls) == 1) throw new InvalidOperationException("handler bug");
            second.TrySetResult(payload.FirstSpan[0]);
        });
        await using var publisher = await ConnectAsync(broker, "pub");
        Assert.True(publisher.TryPublish("robotpg/x/actuators", [1]));
        Assert.True(publisher.TryPublish("robotpg/x/actuators", [2]));
        Assert.Same(second.Task, await Task.WhenAny(second.Task, Task.Delay(Timeout)));
        Assert.Equal(2, second.Task.Result);
        Assert.Equal(1, broker.HandlerFailures);
        Assert.Equal(1, publisher.Connects); // never dropped and reconnected
        Assert.True(publisher.IsConnected);
    }

    [Fact]
    public async Task PublishingIntoAStoppedBrokerIsRefused()
    {
        var broker = await EmbeddedBroker.StartAsync();
        await broker.DisposeAsync();
        Assert.False(broker.TryPublish("robotpg/x/sensors", [1], "sim"));
        Assert.Equal(0, broker.Published);
    }
}
