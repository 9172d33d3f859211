using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using RobotPG.Messaging;
using RobotPG.Sim.Robots;
using RobotPG.Sim.Serving;

namespace RobotPG.Benchmarks;

/// <summary>
/// Simulator throughput: physics ticks in process, and lockstep round trips (sensor frame → stub
/// controller → actuator frame → next tick) over loopback MQTT with the embedded broker and with a
/// real mosquitto (skipped when it is not installed). With the embedded broker the simulator publishes and
/// receives inside the broker's process; <see cref="LockstepBreakdownBenchmarks"/> shows where the time goes. Run:
/// <c>dotnet run -c Release --project tests/RobotPG.Benchmarks -- --filter '*SimBenchmarks*' --job short</c>.
/// Each round-trip operation is one lockstep tick; BenchmarkDotNet reports time per tick.
/// </summary>
[MemoryDiagnoser]
public class SimBenchmarks
{
    private const int TicksPerInvoke = 2000;

    private SimulatedRobot _robot = null!;
    private SimulationServer? _embeddedServer, _mosquittoServer;
    private SimStubController? _embeddedStub, _mosquittoStub;
    private Process? _mosquitto;

    [GlobalSetup(Target = nameof(PhysicsTicksInProcess))]
    public void SetupPhysics()
    {
        _robot = SimulatedRobot.Create(RobotPhysicsConfigLoader.LoadRobot("balance-bot"), 1);
    }

    /// <summary>One control tick = 5 RK4 steps at 1 kHz + IMU registers + encoder counts.</summary>
    [Benchmark(OperationsPerInvoke = TicksPerInvoke)]
    public void PhysicsTicksInProcess()
    {
        for (int i = 0; i < TicksPerInvoke; i++)
        {
            _robot.Advance();
            if (_robot.Fallen) _robot.Reset();
        }
    }

    [GlobalSetup(Target = nameof(LockstepRoundTripEmbeddedBroker))]
    public void SetupEmbedded()
    {
        _embeddedServer = SimulationServer.StartAsync(new SimulationServerOptions { RobotId = "bench-embedded", PublishTruth = false }).GetAwaiter().GetResult();
        _embeddedStub = SimStubController.ConnectAsync(new MqttEndpoint(_embeddedServer.BrokerHost, _embeddedServer.BrokerPort, "bench-stub"),
            "bench-embedded", StubPolicies.FollowLean).GetAwaiter().GetResult();
    }

    [Benchmark(OperationsPerInvoke = TicksPerInvoke)]
    public async Task LockstepRoundTripEmbeddedBroker() => await RoundTrips(_embeddedStub!);

    [GlobalSetup(Target = nameof(LockstepRoundTripMosquitto))]
    public void SetupMosquitto()
    {
        _mosquitto = BenchMosquitto.Start(out int port);
        var endpoint = new MqttEndpoint("127.0.0.1", port, "bench-sim");
        // The sim's client retries with backoff until mosquitto listens.
        _mosquittoServer = SimulationServer.StartAsync(new SimulationServerOptions { RobotId = "bench-mosquitto", Broker = endpoint, PublishTruth = false })
            .GetAwaiter().GetResult();
        _mosquittoStub = SimStubController.ConnectAsync(endpoint with { ClientId = "bench-stub" }, "bench-mosquitto", StubPolicies.FollowLean)
            .GetAwaiter().GetResult();
    }

    [Benchmark(OperationsPerInvoke = TicksPerInvoke)]
    public async Task LockstepRoundTripMosquitto() => await RoundTrips(_mosquittoStub!);

    private static async Task RoundTrips(SimStubController stub)
    {
        if (!await stub.WaitForStepsAsync(stub.Steps + TicksPerInvoke, TimeSpan.FromSeconds(60)))
            throw new TimeoutException($"lockstep stalled at {stub.Steps} steps");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _embeddedStub?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _embeddedServer?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _mosquittoStub?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _mosquittoServer?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        BenchMosquitto.Stop(_mosquitto);
    }
}
