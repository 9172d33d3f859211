using RobotPG.Messaging;
using RobotPG.Sim.Serving;
using Xunit;

namespace RobotPG.Sim.Tests.Serving;

public class LockstepServingTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    internal static async Task<(ulong Hash, ulong Sequence, long Accepted, bool Fallen)> RunAsync(ulong seed, int steps, MqttEndpoint? broker = null, string robotId = "bb-test")
    {
        await using var server = await SimulationServer.StartAsync(new SimulationServerOptions
        {
            Robot = "balance-bot", RobotId = robotId, Seed = seed, Broker = broker, PublishTruth = true,
        });
        var endpoint = new MqttEndpoint(server.BrokerHost, server.BrokerPort, "stub-" + robotId);
        await using var stub = await SimStubController.ConnectAsync(endpoint, robotId, BalancingStubPolicy.Act);
        Assert.True(await stub.WaitForStepsAsync(steps, Timeout), $"lockstep stalled at {stub.Steps} of {steps} steps");
        Assert.Equal(0, server.ActuatorFrames.Dropped - server.ActuatorFrames.OutOfOrder);
        return (stub.SensorHash, stub.LastSequence, server.ActuatorFrames.Accepted, server.Inspect(r => r.Fallen));
    }

    [Fact]
    public async Task SameSeedAndActionsGiveBitIdenticalFramesOverTheEmbeddedBroker()
    {
        var first = await RunAsync(seed: 7, steps: 400);
        var second = await RunAsync(seed: 7, steps: 400);
        var other = await RunAsync(seed: 8, steps: 400);
        Assert.Equal(399UL, first.Sequence); // frames 0..399 answered
        Assert.True(first.Accepted >= 399);
        Assert.Equal(first.Hash, second.Hash);
        Assert.NotEqual(first.Hash, other.Hash);
    }
}
