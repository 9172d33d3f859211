using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using MQTTnet;
using MQTTnet.Server;
using RobotPG.Messaging;
using RobotPG.Sim.Robots;
using RobotPG.Sim.Serving;

namespace RobotPG.Benchmarks;

/// <summary>
/// Where a lockstep round trip's time goes (compare with <see cref="SimBenchmarks"/>): the same
/// ping-pong (a sensor-sized message one way, an actuator-sized one back, the next ping sent from the
/// handler of the pong) with plain MQTTnet and no RobotPG code — two TCP clients over an MQTTnet broker,
/// two TCP clients over mosquitto, and one TCP client against a broker whose host answers in process
/// (publish interceptor + injected message, how the simulator attaches to its embedded broker) — and
/// RobotPG's own work per round trip without any network (frame codecs; physics and actuators).
/// Run: <c>dotnet run -c Release --project tests/RobotPG.Benchmarks -- --filter '*LockstepBreakdown*' --job short --inProcess</c>.
/// </summary>
[MemoryDiagnoser]
public class LockstepBreakdownBenchmarks
{
    private const int RoundTripsPerInvoke = 2000;
    private const string SensorTopic = "bench/sensors", ActuatorTopic = "bench/actuators";

    private MqttServer? _server;
    private Process? _mosquitto;
    private IMqttClient? _sim, _stub;
    private MqttApplicationMessage _sensorMessage = null!, _actuatorMessage = null!;
    private int _remaining;
    private TaskCompletionSource _done = new();

    // RobotPG's own work.
    private SimulatedRobot _robot = null!;
    private readonly SimSensorFrame _simSensor = new(), _stubSensor = new();
    private readonly SimActuatorFrame _stubActuator = new(), _simActuator = new();
    private readonly byte[] _sensorBytes = new byte[SimSensorFrame.MaxEncodedLength];
    private readonly byte[] _actuatorBytes = new byte[SimActuatorFrame.MaxEncodedLength];
    private long _step;

    /// <summary>Real frame sizes from the balance-bot (the pong carries the stub's usual answer).</summary>
    private void BuildMessages()
    {
        var robot = SimulatedRobot.Create(RobotPhysicsConfigLoader.LoadRobot("balance-bot"), 1);
        var sensor = new SimSensorFrame();
        robot.FillSensorFrame(sensor);
        byte[] sensorBytes = new byte[SimSensorFrame.MaxEncodedLength];
        int sensorLength = sensor.Encode(sensorBytes);
        var actuator = new SimActuatorFrame();
        StubPolicies.FollowLean(1, sensor, actuator);
        byte[] actuatorBytes = new byte[SimActuatorFrame.MaxEncodedLength];
        int actuatorLength = actuator.Encode(actuatorBytes);
        _sensorMessage = new MqttApplicationMessageBuilder().WithTopic(SensorTopic).WithPayload(sensorBytes.AsMemory(0, sensorLength).ToArray()).Build();
        _actuatorMessage = new MqttApplicationMessageBuilder().WithTopic(ActuatorTopic).WithPayload(actuatorBytes.AsMemory(0, actuatorLength).ToArray()).Build();
    }

    private static async Task<IMqttClient> ConnectAsync(int port, string id, string topic, Func<MqttApplicationMessageReceivedEventArgs, Task> handler)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        client.ApplicationMessageReceivedAsync += handler;
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithClientId(id).WithCleanSession(true).Build());
                break;
            }
            catch (MQTTnet.Exceptions.MqttCommunicationException) when (attempt < 50)
            {
                await Task.Delay(100); // mosquitto still starting
            }
        }
        await client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter(topic).Build());
        return client;
    }

    private Task OnActuators(MqttApplicationMessageReceivedEventArgs e) => NextPing();

    private Task OnSensors(MqttApplicationMessageReceivedEventArgs e) => _stub!.PublishAsync(_actuatorMessage);

    private Task NextPing()
    {
        if (--_remaining > 0) return _sim is null ? InjectPing() : _sim.PublishAsync(_sensorMessage);
        _done.TrySetResult();
        return Task.CompletedTask;
    }

    private async Task ConnectPairAsync(int port)
    {
        _stub = await ConnectAsync(port, "bench-stub", SensorTopic, OnSensors);
        _sim = await ConnectAsync(port, "bench-sim", ActuatorTopic, OnActuators);
    }

    private int _port;

    private async Task<MqttServer> StartServerAsync()
    {
        _port = BenchMosquitto.FreePort();
        var options = new MqttServerFactory().CreateServerOptionsBuilder().WithDefaultEndpoint()
            .WithDefaultEndpointBoundIPAddress(IPAddress.Loopback).WithDefaultEndpointBoundIPV6Address(IPAddress.None)
            .WithDefaultEndpointPort(_port).Build();
        var server = new MqttServerFactory().CreateMqttServer(options);
        await server.StartAsync();
        return server;
    }

    [GlobalSetup(Target = nameof(MqttnetOnlyEmbeddedBroker))]
    public void SetupEmbedded()
    {
        BuildMessages();
        _server = StartServerAsync().GetAwaiter().GetResult();
        ConnectPairAsync(_port).GetAwaiter().GetResult();
    }

    /// <summary>Two MQTTnet TCP clients over MQTTnet's broker: the floor of the old lockstep path.</summary>
    [Benchmark(OperationsPerInvoke = RoundTripsPerInvoke)]
    public Task MqttnetOnlyEmbeddedBroker() => PingPong(() => _sim!.PublishAsync(_sensorMessage));

    [GlobalSetup(Target = nameof(MqttnetOnlyMosquitto))]
    public void SetupMosquitto()
    {
        BuildMessages();
        _mosquitto = BenchMosquitto.Start(out int port);
        ConnectPairAsync(port).GetAwaiter().GetResult();
    }

    /// <summary>Two MQTTnet TCP clients over mosquitto.</summary>
    [Benchmark(OperationsPerInvoke = RoundTripsPerInvoke)]
    public Task MqttnetOnlyMosquitto() => PingPong(() => _sim!.PublishAsync(_sensorMessage));

    [GlobalSetup(Target = nameof(MqttnetOnlyInProcessBroker))]
    public void SetupInProcess()
    {
        BuildMessages();
        _server = StartServerAsync().GetAwaiter().GetResult();
        _server.InterceptingPublishAsync += e => e.ApplicationMessage.Topic == ActuatorTopic ? NextPing() : Task.CompletedTask;
        _stub = ConnectAsync(_port, "bench-stub", SensorTopic, OnSensors).GetAwaiter().GetResult();
        _sim = null;
    }

    /// <summary>One MQTTnet TCP client; the broker's host answers from the publish interceptor and injects the next ping.</summary>
    [Benchmark(OperationsPerInvoke = RoundTripsPerInvoke)]
    public Task MqttnetOnlyInProcessBroker() => PingPong(InjectPing);

    private Task InjectPing() => _server!.InjectApplicationMessage(new InjectedMqttApplicationMessage(_sensorMessage) { SenderClientId = "bench-sim" });

    private async Task PingPong(Func<Task> first)
    {
        _remaining = RoundTripsPerInvoke;
        _done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await first();
        if (await Task.WhenAny(_done.Task, Task.Delay(TimeSpan.FromSeconds(60))) != _done.Task)
            throw new TimeoutException($"ping-pong stalled with {_remaining} round trips to go");
    }

    [GlobalSetup(Targets = [nameof(FrameCodecsPerRoundTrip), nameof(RobotPgWorkPerRoundTrip)])]
    public void SetupCodecs()
    {
        _robot = SimulatedRobot.Create(RobotPhysicsConfigLoader.LoadRobot("balance-bot"), 1);
        _robot.FillSensorFrame(_simSensor);
    }

    /// <summary>Encode the sensor frame, decode it, encode the answer, decode it (no physics, no network).</summary>
    [Benchmark]
    public int FrameCodecsPerRoundTrip()
    {
        int sensorLength = _simSensor.Encode(_sensorBytes);
        _stubSensor.TryDecode(_sensorBytes.AsSpan(0, sensorLength));
        _stubActuator.Clear();
        StubPolicies.FollowLean(1, _stubSensor, _stubActuator);
        int actuatorLength = _stubActuator.Encode(_actuatorBytes);
        return (int)_simActuator.TryDecode(new ReadOnlySequence<byte>(_actuatorBytes, 0, actuatorLength), _sensorBytes);
    }

    /// <summary>Everything RobotPG does per lockstep tick without the network: codecs, stub policy, actuators, physics tick, sensor registers.</summary>
    [Benchmark]
    public int RobotPgWorkPerRoundTrip()
    {
        _robot.FillSensorFrame(_simSensor);
        _simSensor.Sequence = (ulong)_step;
        int sensorLength = _simSensor.Encode(_sensorBytes);
        _stubSensor.TryDecode(_sensorBytes.AsSpan(0, sensorLength));
        _stubActuator.Clear();
        _stubActuator.AnswersTick = _stubSensor.Sequence;
        StubPolicies.FollowLean(_step++, _stubSensor, _stubActuator);
        int actuatorLength = _stubActuator.Encode(_actuatorBytes);
        var status = _simActuator.TryDecode(new ReadOnlySequence<byte>(_actuatorBytes, 0, actuatorLength), _sensorBytes);
        _robot.ApplyActuators(_simActuator);
        _robot.Advance();
        if (_robot.Fallen) _robot.Reset();
        return (int)status;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _sim?.Dispose();
        _stub?.Dispose();
        _server?.StopAsync().GetAwaiter().GetResult();
        _server?.Dispose();
        BenchMosquitto.Stop(_mosquitto);
    }
}
