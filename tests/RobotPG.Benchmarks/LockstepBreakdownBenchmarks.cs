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
/// (publish interceptor + injected message, how the simulator attaches to its embedded broker) — the
/// floor through mosquitto (two blocking sockets speaking minimal MQTT 3.1.1, RobotPG's real per-tick work,
/// no MQTTnet) — and RobotPG's own work per round trip without any network (frame codecs; physics and actuators).
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

    // The floor through mosquitto: the same work per round trip as the MQTTnet stub, on two blocking sockets.
    private RawMqttClient? _rawSim, _rawStub;
    private Thread? _rawStubThread;
    private volatile Exception? _rawStubFault;
    private int _rawSensorLength;

    [GlobalSetup(Target = nameof(RawSocketsMosquitto))]
    public void SetupRawSockets()
    {
        _mosquitto = BenchMosquitto.Start(out int port);
        _robot = SimulatedRobot.Create(RobotPhysicsConfigLoader.LoadRobot("balance-bot"), 1);
        // Stub first, so the sensor subscription exists before the sim publishes (SUBACK means it is in place).
        _rawStub = RawMqttClient.Connect(port, "bench-raw-stub", publishTopic: ActuatorTopic, subscribeTopic: SensorTopic, receiveTimeoutMs: 0);
        _rawSim = RawMqttClient.Connect(port, "bench-raw-sim", publishTopic: SensorTopic, subscribeTopic: ActuatorTopic, receiveTimeoutMs: 10_000);
        _step = 0;
        _robot.FillSensorFrame(_simSensor);
        _simSensor.Sequence = 0;
        _rawSensorLength = _simSensor.Encode(_rawSim.PublishPayload);
        _rawStubThread = new Thread(RawStubLoop) { IsBackground = true, Name = "bench-raw-controller" };
        _rawStubThread.Start();
    }

    /// <summary>
    /// Ping-pong through mosquitto with two plain blocking TCP sockets (no MQTTnet, no thread hand-off): the
    /// controller side on its own thread (read sensors → decode → stub policy → encode → send), the sim side here
    /// (send sensors → read the answer → decode → actuators, physics tick → encode the next sensor frame).
    /// </summary>
    [Benchmark(OperationsPerInvoke = RoundTripsPerInvoke)]
    public int RawSocketsMosquitto()
    {
        var sim = _rawSim!;
        var status = FrameStatus.Ok;
        for (int i = 0; i < RoundTripsPerInvoke; i++)
        {
            sim.Publish(_rawSensorLength);
            if (!sim.TryReceivePublish(out var payload))
                throw new InvalidOperationException("raw-socket ping-pong: the controller side closed its connection", _rawStubFault);
            status = _simActuator.TryDecode(payload);
            // The simulator's own lockstep checks: a bad frame or an answer to another tick would not advance it.
            if (status != FrameStatus.Ok || _simActuator.AnswersTick != _simSensor.Sequence)
                throw new InvalidDataException($"raw-socket ping-pong: actuator frame {status}, answers tick {_simActuator.AnswersTick} instead of {_simSensor.Sequence}");
            _robot.ApplyActuators(_simActuator);
            _robot.Advance();
            if (_robot.Fallen) _robot.Reset();
            _robot.FillSensorFrame(_simSensor);
            _simSensor.Sequence = (ulong)++_step;
            _rawSensorLength = _simSensor.Encode(sim.PublishPayload);
        }
        return (int)status;
    }

    /// <summary>The controller side: what the stub controller does per sensor frame, minus MQTTnet.</summary>
    private void RawStubLoop()
    {
        var stub = _rawStub!;
        long steps = 0;
        try
        {
            while (stub.TryReceivePublish(out var payload))
            {
                var status = _stubSensor.TryDecode(payload);
                if (status != FrameStatus.Ok) throw new InvalidDataException($"raw-socket ping-pong: sensor frame {status}");
                _stubActuator.Clear();
                _stubActuator.AnswersTick = _stubSensor.Sequence;
                _stubActuator.Sequence = (ulong)steps;
                StubPolicies.FollowLean(steps++, _stubSensor, _stubActuator);
                stub.Publish(_stubActuator.Encode(stub.PublishPayload));
            }
        }
        catch (Exception e)
        {
            // Cleanup closes the socket under a blocked read (expected); anything else surfaces on the sim side.
            _rawStubFault = e;
            stub.Shutdown();
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _rawStub?.Shutdown(); // wakes the controller thread's blocked read with end of stream
        _rawStubThread?.Join(TimeSpan.FromSeconds(5));
        _rawStub?.Dispose();
        _rawSim?.Dispose();
        _sim?.Dispose();
        _stub?.Dispose();
        _server?.StopAsync().GetAwaiter().GetResult();
        _server?.Dispose();
        BenchMosquitto.Stop(_mosquitto);
    }

    /// <summary>
    /// Just enough MQTT 3.1.1 on one blocking TCP socket for the floor benchmark: CONNECT, SUBSCRIBE, QoS 0 PUBLISH
    /// out of one preformatted buffer (payload encoded in place), and buffered reads of whole packets. A measuring
    /// instrument, not a client: no keep-alive, no QoS 1/2, no reconnect.
    /// </summary>
    private sealed class RawMqttClient : IDisposable
    {
        private const byte PublishQos0 = 0x30, ConnectPacket = 0x10, ConnAckPacket = 0x20, SubscribePacket = 0x82, SubAckPacket = 0x90;
        private readonly Socket _socket;
        private readonly byte[] _send, _receive = new byte[16 * 1024];
        private readonly int _payloadStart;
        private int _start, _end;

        private RawMqttClient(Socket socket, string publishTopic)
        {
            _socket = socket;
            byte[] topic = System.Text.Encoding.UTF8.GetBytes(publishTopic);
            // Layout: [type][remaining length, 1–2 bytes, right-aligned][topic length][topic][payload].
            _payloadStart = 3 + 2 + topic.Length;
            _send = new byte[_payloadStart + SimSensorFrame.MaxEncodedLength + SimActuatorFrame.MaxEncodedLength];
            _send[3] = (byte)(topic.Length >> 8);
            _send[4] = (byte)topic.Length;
            topic.CopyTo(_send, 5);
        }

        public Span<byte> PublishPayload => _send.AsSpan(_payloadStart);

        public static RawMqttClient Connect(int port, string clientId, string publishTopic, string subscribeTopic, int receiveTimeoutMs)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveTimeout = receiveTimeoutMs };
            for (int attempt = 0; ; attempt++)
            {
                try
                {
                    socket.Connect(IPAddress.Loopback, port);
                    break;
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused && attempt < 50)
                {
                    Thread.Sleep(100); // mosquitto still starting
                }
            }
            var client = new RawMqttClient(socket, publishTopic);
            byte[] id = System.Text.Encoding.UTF8.GetBytes(clientId);
            // Protocol name "MQTT", level 4 (3.1.1), clean session, keep-alive 0 (off: idle between iterations is fine).
            client.SendPacket(ConnectPacket, [0, 4, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 4, 0x02, 0, 0, (byte)(id.Length >> 8), (byte)id.Length, .. id]);
            client.Expect(ConnAckPacket, "CONNACK", body => body.Length == 2 && body[1] == 0);
            byte[] filter = System.Text.Encoding.UTF8.GetBytes(subscribeTopic);
            client.SendPacket(SubscribePacket, [0, 1, (byte)(filter.Length >> 8), (byte)filter.Length, .. filter, 0]);
            client.Expect(SubAckPacket, "SUBACK granting QoS 0", body => body.Length == 3 && body[0] == 0 && body[1] == 1 && body[2] == 0);
            return client;
        }

        /// <summary>Sends a QoS 0 PUBLISH whose payload was encoded into <see cref="PublishPayload"/>.</summary>
        public void Publish(int payloadLength)
        {
            int remaining = _payloadStart - 3 + payloadLength;
            if (remaining >= 128 * 128) throw new InvalidOperationException($"publish of {remaining} bytes needs more than 2 length bytes");
            int start;
            if (remaining < 128)
            {
                start = 1;
                _send[2] = (byte)remaining;
            }
            else
            {
                start = 0;
                _send[1] = (byte)(remaining & 0x7F | 0x80);
                _send[2] = (byte)(remaining >> 7);
            }
            _send[start] = PublishQos0;
            SendAll(_send.AsSpan(start, _payloadStart - start + payloadLength));
        }

        /// <summary>Blocks for the next packet, which must be a QoS 0 PUBLISH; false at end of stream.</summary>
        public bool TryReceivePublish(out ReadOnlySpan<byte> payload)
        {
            if (!TryReceivePacket(out byte type, out var body))
            {
                payload = default;
                return false;
            }
            if (type != PublishQos0) throw new InvalidDataException($"raw MQTT: expected a QoS 0 PUBLISH, got packet type 0x{type:X2}");
            int topicLength = body[0] << 8 | body[1];
            payload = body[(2 + topicLength)..];
            return true;
        }

        private bool TryReceivePacket(out byte type, out ReadOnlySpan<byte> body)
        {
            while (true)
            {
                // Fixed header: type byte, then a variable-length remaining length of 1–4 bytes.
                int available = _end - _start, remaining = 0, lengthBytes = 0;
                bool lengthComplete = false;
                for (int i = 1; i < available && i <= 4; i++)
                {
                    byte b = _receive[_start + i];
                    remaining |= (b & 0x7F) << (7 * (i - 1));
                    lengthBytes = i;
                    if ((b & 0x80) == 0)
                    {
                        lengthComplete = true;
                        break;
                    }
                }
                if (lengthComplete && available >= 1 + lengthBytes + remaining)
                {
                    type = _receive[_start];
                    body = _receive.AsSpan(_start + 1 + lengthBytes, remaining);
                    _start += 1 + lengthBytes + remaining;
                    if (_start == _end) _start = _end = 0; // the usual case: one packet per read
                    return true;
                }
                if (lengthComplete && 1 + lengthBytes + remaining > _receive.Length)
                    throw new InvalidDataException($"raw MQTT: a packet of {remaining} bytes is larger than the read buffer");
                if (_end == _receive.Length)
                {
                    _receive.AsSpan(_start, available).CopyTo(_receive);
                    _start = 0;
                    _end = available;
                }
                int read = _socket.Receive(_receive.AsSpan(_end));
                if (read == 0)
                {
                    type = 0;
                    body = default;
                    return false;
                }
                _end += read;
            }
        }

        private delegate bool BodyCheck(ReadOnlySpan<byte> body);

        private void Expect(byte expectedType, string expected, BodyCheck check)
        {
            if (!TryReceivePacket(out byte type, out var body)) throw new IOException($"raw MQTT: mosquitto closed the connection instead of a {expected}");
            if (type != expectedType || !check(body)) throw new InvalidDataException($"raw MQTT: expected a {expected}, got packet 0x{type:X2} with {body.Length} bytes");
        }

        private void SendPacket(byte type, byte[] body)
        {
            if (body.Length >= 128) throw new InvalidOperationException("set-up packets are short");
            SendAll([type, (byte)body.Length, .. body]);
        }

        private void SendAll(ReadOnlySpan<byte> bytes)
        {
            while (!bytes.IsEmpty) bytes = bytes[_socket.Send(bytes)..];
        }

        public void Shutdown()
        {
            try
            {
                _socket.Shutdown(SocketShutdown.Both);
            }
            catch (SocketException)
            {
                // Already gone: nothing left to wake.
            }
            catch (ObjectDisposedException)
            {
                // Disposed already: likewise.
            }
        }

        public void Dispose() => _socket.Dispose();
    }
}
