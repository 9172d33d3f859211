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
        await using var stub = await SimStubController.ConnectAsync(endpoint, robotId, StubPolicies.FollowLean, stepLimit: steps);
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

    [Fact]
    public async Task OverItsOwnBrokerTheSimulatorExchangesFramesInProcess()
    {
        await using var server = await SimulationServer.StartAsync(new SimulationServerOptions { RobotId = "bb-inproc", PublishTruth = true });
        var endpoint = new MqttEndpoint(server.BrokerHost, server.BrokerPort, "stub-inproc");
        await using var stub = await SimStubController.ConnectAsync(endpoint, "bb-inproc", StubPolicies.FollowLean, stepLimit: 300);
        Assert.True(await stub.WaitForStepsAsync(300, Timeout), $"lockstep stalled at {stub.Steps} of 300 steps");
        Assert.True(server.SensorFramesPublished >= 300);
        Assert.Equal(0, server.Client.Published);   // no frame took the socket path...
        Assert.Equal(0, server.Client.Received);    // ...in either direction
        Assert.True(server.ActuatorFrames.Accepted >= 299);
        Assert.Equal(0, server.ActuatorFrames.Dropped);
    }
}

public class ServingRobustnessTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task MalformedOversizedAndOutOfOrderFramesAreCountedAndDropped()
    {
        await using var server = await SimulationServer.StartAsync(new SimulationServerOptions { RobotId = "bb-bad", PublishTruth = false });
        await using var sender = new ResilientMqttClient(new MqttEndpoint(server.BrokerHost, server.BrokerPort, "bad-sender"));
        sender.Start();
        Assert.True(await sender.WaitConnectedAsync(Timeout));
        const int messages = 4;
        int counted = 0;
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        server.ActuatorMessageCounted += () => { if (Interlocked.Increment(ref counted) == messages) all.TrySetResult(); };

        var wrongTick = new SimActuatorFrame { AnswersTick = 99 };
        var bytes = new byte[SimActuatorFrame.MaxEncodedLength];
        Assert.True(sender.TryPublish(server.Topics.Actuators, [1, 2, 3]));                                  // too short
        Assert.True(sender.TryPublish(server.Topics.Actuators, new byte[FrameFormat.MaxFrameLength]));       // garbage of the largest size
        Assert.True(sender.TryPublish(server.Topics.Actuators, bytes.AsSpan(0, wrongTick.Encode(bytes))));   // answers a tick that never was
        var good = new SimActuatorFrame { AnswersTick = 0 };
        Assert.True(sender.TryPublish(server.Topics.Actuators, bytes.AsSpan(0, good.Encode(bytes))));
        Assert.Same(all.Task, await Task.WhenAny(all.Task, Task.Delay(Timeout)));

        Assert.Equal(1, server.ActuatorFrames[FrameStatus.TooShort]);
        Assert.Equal(1, server.ActuatorFrames[FrameStatus.BadMagic]);
        Assert.Equal(1, server.ActuatorFrames.OutOfOrder);
        Assert.Equal(1, server.ActuatorFrames.Accepted);
        Assert.Equal(1UL, server.Sequence); // only the good frame moved the sim
    }

    [Fact]
    public async Task ResetCommandRestartsTheEpisodeWithTheGivenSeed()
    {
        await using var server = await SimulationServer.StartAsync(new SimulationServerOptions { RobotId = "bb-reset", Seed = 3 });
        double initialPitch = server.Inspect(r => ((RobotPG.Sim.Robots.SimulatedBalanceBot)r).Physics.State[0]);
        await using var sender = new ResilientMqttClient(new MqttEndpoint(server.BrokerHost, server.BrokerPort, "cmd-sender"));
        sender.Start();
        Assert.True(await sender.WaitConnectedAsync(Timeout));
        var published = new TaskCompletionSource<ulong>(TaskCreationOptions.RunContinuationsAsynchronously);
        server.TickPublished += sequence => published.TrySetResult(sequence);
        Assert.True(sender.TryPublish(server.Topics.CommandReset, "{\"seed\":3}"u8));
        Assert.Same(published.Task, await Task.WhenAny(published.Task, Task.Delay(Timeout)));
        Assert.Equal(1UL, published.Task.Result);
        Assert.Equal(1, server.Inspect(r => r.Resets));
        // Seed 3 again: the robot's stream restarts, the IMU biases were drawn at construction, so the first draw differs
        // from the constructor's (which followed the bias draws) — but it is the same as a fresh Prng(3)'s first tilt.
        double std = 3 * Math.PI / 180;
        var prng = new RobotPG.Numerics.Prng(3);
        double expected = Math.Clamp(std * prng.NextGaussian(), -20 * Math.PI / 180, 20 * Math.PI / 180);
        Assert.Equal(expected, server.Inspect(r => ((RobotPG.Sim.Robots.SimulatedBalanceBot)r).Physics.State[0]), 15);
        Assert.NotEqual(initialPitch, expected);
    }

    /// <summary>
    /// An actuator frame that asks for a reset is applied (its writes reach the chips), then the robot is reset
    /// instead of advanced: the next tick is the new episode's first. Without the flag the same frame advances the
    /// robot one control period.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task An_actuator_frame_that_requests_a_reset_is_applied_and_the_next_tick_is_the_reset_robot(bool requestsReset)
    {
        await using var server = await SimulationServer.StartAsync(new SimulationServerOptions { RobotId = "bb-frame-reset", Seed = 5, PublishTruth = false });
        await using var sender = new ResilientMqttClient(new MqttEndpoint(server.BrokerHost, server.BrokerPort, "frame-reset-sender"));
        sender.Start();
        Assert.True(await sender.WaitConnectedAsync(Timeout));
        var published = new TaskCompletionSource<ulong>(TaskCreationOptions.RunContinuationsAsynchronously);
        server.TickPublished += sequence => published.TrySetResult(sequence);

        var frame = new SimActuatorFrame { Sequence = 1, AnswersTick = 0, RequestsReset = requestsReset };
        Assert.True(frame.TryAddI2cWrite(0x40, [0xFE, 0x79])); // PCA9685 PRESCALE (written while asleep, as at power-on)
        var bytes = new byte[SimActuatorFrame.MaxEncodedLength];
        Assert.True(sender.TryPublish(server.Topics.Actuators, bytes.AsSpan(0, frame.Encode(bytes))));
        Assert.Same(published.Task, await Task.WhenAny(published.Task, Task.Delay(Timeout)));

        Assert.Equal(1UL, published.Task.Result);
        Assert.Equal(1, server.ActuatorFrames.Accepted);
        Assert.Equal(0x79, server.Inspect(r => r.Pca9685!.RegisterImage[0xFE]));
        Assert.Equal(requestsReset ? 1 : 0, server.Inspect(r => r.Resets));
        Assert.Equal(requestsReset ? 0 : 1 / 200.0, server.Inspect(r => r.SimTime), 12);
    }

    [Fact]
    public async Task In_real_time_a_frame_that_requests_a_reset_resets_the_robot_when_it_is_applied()
    {
        await using var server = await SimulationServer.StartAsync(new SimulationServerOptions
        {
            RobotId = "bb-rt-reset", Clock = SimClockMode.Realtime, ActuationLatency = TimeSpan.FromMilliseconds(5), PublishTruth = false,
        });
        await using var sender = new ResilientMqttClient(new MqttEndpoint(server.BrokerHost, server.BrokerPort, "rt-reset-sender"));
        sender.Start();
        Assert.True(await sender.WaitConnectedAsync(Timeout));
        var frame = new SimActuatorFrame { Sequence = 1, AnswersTick = server.Sequence, RequestsReset = true };
        Assert.True(frame.TryAddI2cWrite(0x40, [0xFE, 0x79]));
        var bytes = new byte[SimActuatorFrame.MaxEncodedLength];
        var resetTick = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        server.TickPublished += _ => { if (server.Inspect(r => r.Resets) == 1) resetTick.TrySetResult(); }; // under the server's lock
        Assert.True(sender.TryPublish(server.Topics.Actuators, bytes.AsSpan(0, frame.Encode(bytes))));

        Assert.Same(resetTick.Task, await Task.WhenAny(resetTick.Task, Task.Delay(Timeout)));
        Assert.Equal(0x79, server.Inspect(r => r.Pca9685!.RegisterImage[0xFE])); // applied first
        Assert.Equal(1, server.ActuatorFrames.Accepted);
    }

    [Fact]
    public async Task RealtimeTicksOnTheWallClockWithoutWaitingForTheController()
    {
        await using var server = await SimulationServer.StartAsync(new SimulationServerOptions
        {
            RobotId = "bb-rt", Clock = SimClockMode.Realtime, ActuationLatency = TimeSpan.FromMilliseconds(5),
        });
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        server.TickPublished += sequence => { if (sequence >= 40) reached.TrySetResult(); };
        Assert.Same(reached.Task, await Task.WhenAny(reached.Task, Task.Delay(Timeout)));
        Assert.Equal(0, server.ActuatorFrames.Total); // nobody answered, yet the sim ran

        var endpoint = new MqttEndpoint(server.BrokerHost, server.BrokerPort, "rt-stub");
        await using var stub = await SimStubController.ConnectAsync(endpoint, "bb-rt", StubPolicies.FollowLean);
        Assert.True(await stub.WaitForStepsAsync(40, Timeout));
        var applied = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        server.TickPublished += _ => { if (server.ActuatorFrames.Accepted > 10) applied.TrySetResult(); };
        Assert.Same(applied.Task, await Task.WhenAny(applied.Task, Task.Delay(Timeout)));
        Assert.Equal(0, server.ActuatorFrames.Dropped - server.ActuatorFrames.OutOfOrder);
    }
}
