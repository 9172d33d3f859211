using System.Buffers;
using System.Diagnostics;
using System.Text.Json;
using RobotPG.Messaging;
using RobotPG.Sim.Devices;
using RobotPG.Sim.Robots;

namespace RobotPG.Sim.Serving;

/// <summary>
/// The simulated robot as an MQTT peer (DESIGN.md, "Simulator in the loop"): publishes a
/// <see cref="SimSensorFrame"/> per control tick on robotpg/{id}/sensors, replays each
/// <see cref="SimActuatorFrame"/> from robotpg/{id}/actuators on the emulated chips, answers
/// cmd/reset and cmd/randomize, publishes the ground truth (binary) and a JSON status. Usable in
/// process (the demo, the integration tests) and behind <c>robotpg-sim serve</c>.
/// With its own embedded broker the server publishes and receives frames inside the broker's process
/// (no client socket, no thread hop on the simulator's side: about half of a lockstep round trip's
/// wake-ups); its MQTT client then carries only commands. With an external broker the frames take their own
/// connection (<see cref="MqttFrameLink"/>: its reader thread applies an actuator frame and sends the next tick). Bad frames never escape: each is counted by outcome in <see cref="ActuatorFrames"/> and dropped.
/// </summary>
public sealed class SimulationServer : IAsyncDisposable
{
    private const int RealtimeQueueLength = 64;

    private readonly SimulationServerOptions _options;
    private readonly SimulatedRobot _robot;
    private volatile EmbeddedBroker? _broker;
    private readonly ResilientMqttClient _client;
    private readonly MqttFrameLink? _frames;
    private readonly SimLink? _link;
    private readonly long _brokerRestartAt;
    private Task? _brokerRestart;
    private readonly object _gate = new();
    private readonly SimSensorFrame _sensor = new();
    private readonly GroundTruthFrame _truth = new();
    private readonly SimActuatorFrame _received = new();
    private readonly byte[] _sensorBytes = new byte[SimSensorFrame.MaxEncodedLength];
    private readonly byte[] _truthBytes = new byte[GroundTruthFrame.MaxEncodedLength];
    private readonly CancellationTokenSource _stop = new();
    private readonly string _telemetryTopic;
    private readonly string _clientId;

    // Realtime: frames waiting for their actuation time, oldest first.
    private readonly SimActuatorFrame[] _queue = new SimActuatorFrame[RealtimeQueueLength];
    private readonly long[] _queueDue = new long[RealtimeQueueLength];
    private int _queueStart, _queueCount;

    private int _sensorLength;
    private ulong _sequence;
    private ulong _lastAnswered;
    private bool _answeredAny;
    private long _lastProgressTimestamp;
    private long _sensorFramesPublished;
    private long _ticksAtLastStatus;
    private long _statusTimestamp;
    private Task? _background;

    private SimulationServer(SimulationServerOptions options, SimulatedRobot robot, EmbeddedBroker? broker, MqttEndpoint endpoint)
    {
        _options = options;
        _robot = robot;
        _broker = broker;
        Topics = new Topics(options.RobotId ?? robot.Name);
        _telemetryTopic = Topics.Telemetry(TelemetryKinds.Sim);
        BrokerHost = endpoint.Host;
        BrokerPort = endpoint.Port;
        _clientId = endpoint.ClientId;
        _client = new ResilientMqttClient(endpoint, new ResilientMqttClientOptions { QueueCapacity = 256, MaxPayloadLength = FrameFormat.MaxFrameLength });
        if (broker is null)
            _frames = new MqttFrameLink(endpoint with { ClientId = endpoint.ClientId + "-frames", Will = null }, Topics.Actuators, Topics.Sensors, OnActuatorFrame);
        for (int i = 0; i < RealtimeQueueLength; i++) _queue[i] = new SimActuatorFrame();
        var link = new SimLink(options.Faults, options.Seed);
        _link = link.HasFaults ? link : null;
        _brokerRestartAt = options.Faults.FirstOrDefault(f => f.Kind == SimFaultKind.BrokerRestart)?.FromFrame ?? -1;
    }

    /// <summary>The injected MQTT link faults (<c>--fault mqtt-…</c>), null when there are none.</summary>
    public SimLink? Link => _link;

    /// <summary>Restarts of the embedded broker done (<c>--fault broker-restart@N</c>).</summary>
    public long BrokerRestarts => Interlocked.Read(ref _brokerRestarts);
    private long _brokerRestarts;

    private static long NowMs => Stopwatch.GetTimestamp() * 1000 / Stopwatch.Frequency;

    /// <summary>A QoS 0 message into our embedded broker in process, or through the client to an external broker.</summary>
    private bool Publish(string topic, ReadOnlySpan<byte> payload) =>
        _broker is { } broker ? broker.TryPublish(topic, payload, _clientId) : _client.TryPublish(topic, payload);

    /// <summary>A sensor frame to the broker: in process into the embedded one, else over the frame link.</summary>
    private bool PublishSensorFrame(ReadOnlySpan<byte> frame) => _frames?.TryPublish(frame) ?? Publish(Topics.Sensors, frame);

    /// <summary>The frames' own connection to an external broker (null with the embedded broker).</summary>
    public MqttFrameLink? FrameLink => _frames;

    /// <summary>A sensor frame onto the link (or straight to the broker without link faults). Caller holds the lock.</summary>
    private void PublishSensorsLocked(ReadOnlySpan<byte> frame)
    {
        if (_link is null)
        {
            if (PublishSensorFrame(frame)) Interlocked.Increment(ref _sensorFramesPublished);
            return;
        }
        _link.Send(SimLinkDirection.Sensors, frame, NowMs, ActuatorFrames.Accepted);
        PumpLinkLocked();
    }

    /// <summary>Hands on what the faulty link has due: sensor frames to the broker, actuator frames to the robot. Caller holds the lock.</summary>
    private void PumpLinkLocked()
    {
        if (_link is null) return;
        long now = NowMs;
        _link.Pump(SimLinkDirection.Sensors, now, bytes =>
        {
            if (PublishSensorFrame(bytes)) Interlocked.Increment(ref _sensorFramesPublished);
        });
        _link.Pump(SimLinkDirection.Actuators, now, bytes => HandleActuatorFrame(bytes));
    }

    /// <summary>--fault broker-restart@N: the embedded broker goes away and comes back on its port; clients reconnect.</summary>
    private async Task RestartBrokerAsync()
    {
        var old = _broker!;
        await old.DisposeAsync().ConfigureAwait(false);
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                var broker = await EmbeddedBroker.StartAsync(new EmbeddedBrokerOptions
                {
                    Port = BrokerPort, UserName = _options.EmbeddedUserName, Password = _options.EmbeddedPassword, Certificate = _options.EmbeddedCertificate,
                }).ConfigureAwait(false);
                // Clients reconnect after ≥ 50 ms of backoff; a frame published before this line is answered by the republish.
                broker.OnPublished(Topics.Actuators, OnActuatorMessage);
                _broker = broker;
                Interlocked.Increment(ref _brokerRestarts);
                return;
            }
            catch (System.Net.Sockets.SocketException) when (attempt < 50 && !_stop.IsCancellationRequested)
            {
                await Task.Delay(100).ConfigureAwait(false); // the port is still held by the old listener's sockets
            }
        }
    }

    public Topics Topics { get; }

    public string BrokerHost { get; }

    /// <summary>The broker's port (the OS-chosen one when the embedded broker was asked for port 0).</summary>
    public int BrokerPort { get; }

    public SimulationServerOptions Options => _options;

    /// <summary>Actuator frames by outcome (accepted, each malformation, out of order).</summary>
    public FrameCounters ActuatorFrames { get; } = new();

    /// <summary>Command messages that could not be understood.</summary>
    public long BadCommands => Interlocked.Read(ref _badCommands);
    private long _badCommands;

    public long SensorFramesPublished => Interlocked.Read(ref _sensorFramesPublished);

    /// <summary>Sequence number of the latest sensor frame (monotonic across resets).</summary>
    public ulong Sequence
    {
        get
        {
            lock (_gate) return _sequence;
        }
    }

    public ResilientMqttClient Client => _client;

    /// <summary>Builds the robot, starts (or connects to) the broker, subscribes and publishes tick 0.</summary>
    public static async Task<SimulationServer> StartAsync(SimulationServerOptions options, TimeSpan? connectTimeout = null)
    {
        string? idProblem = options.RobotId is null ? null : Topics.ValidateRobotId(options.RobotId);
        if (idProblem is not null) throw new ArgumentException(idProblem, nameof(options));
        var physics = RobotPhysicsConfigLoader.LoadRobot(options.Robot, options.PhysicsDirectory);
        if (options.ControlRateHz is double rate)
        {
            if (!(rate > 0 && rate <= physics.PhysicsRateHz))
                throw new ArgumentException($"control rate {rate} Hz must be in (0, {physics.PhysicsRateHz}] (the physics rate)", nameof(options));
            physics = WithControlRate(physics, rate);
        }
        var robot = SimulatedRobot.Create(physics, options.Seed);
        robot.SensorNoiseScale = options.SensorNoiseScale;
        robot.SetFaults(options.Faults);

        EmbeddedBroker? broker = null;
        MqttEndpoint endpoint;
        if (options.Broker is null)
        {
            broker = await EmbeddedBroker.StartAsync(new EmbeddedBrokerOptions
            {
                Port = options.EmbeddedPort, UserName = options.EmbeddedUserName, Password = options.EmbeddedPassword,
                Certificate = options.EmbeddedCertificate,
            }).ConfigureAwait(false);
            endpoint = new MqttEndpoint(broker.Host, broker.Port, $"robotpg-sim-{options.RobotId ?? robot.Name}", options.EmbeddedUserName, options.EmbeddedPassword)
            {
                UseTls = options.EmbeddedCertificate is not null,
                CaFile = options.EmbeddedCaFile,
            };
        }
        else
        {
            endpoint = options.Broker;
        }

        var server = new SimulationServer(options, robot, broker, endpoint);
        try
        {
            await server.StartCoreAsync(connectTimeout ?? TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return server;
    }

    private static RobotPhysicsConfig WithControlRate(RobotPhysicsConfig c, double rate) => new()
    {
        Robot = c.Robot, PhysicsRateHz = c.PhysicsRateHz, ControlRateHz = rate, Gravity = c.Gravity, TiltLimitDeg = c.TiltLimitDeg,
        InitialTiltStdDeg = c.InitialTiltStdDeg, Body = c.Body, Wheels = c.Wheels, Cart = c.Cart, Pole = c.Pole, Motor = c.Motor,
        Imu = c.Imu, Pca9685Address = c.Pca9685Address, Motors = c.Motors, Encoders = c.Encoders, Randomization = c.Randomization,
    };

    private async Task StartCoreAsync(TimeSpan connectTimeout)
    {
        _client.Start();
        if (!await _client.WaitConnectedAsync(connectTimeout).ConfigureAwait(false))
            throw new IOException($"cannot reach the MQTT broker at {BrokerHost}:{BrokerPort} within {connectTimeout.TotalSeconds:0.#} s: {_client.LastError ?? "no answer"}");
        if (_broker is { } broker) broker.OnPublished(Topics.Actuators, OnActuatorMessage);
        else
        {
            _frames!.Start();
            if (!_frames.WaitConnected(connectTimeout))
                throw new IOException($"the frame link to the MQTT broker at {BrokerHost}:{BrokerPort} did not connect within {connectTimeout.TotalSeconds:0.#} s: {_frames.LastError ?? "no answer"}");
        }
        await _client.SubscribeAsync(Topics.CommandAll, OnCommandMessage).ConfigureAwait(false);
        lock (_gate)
        {
            _statusTimestamp = Stopwatch.GetTimestamp();
            PublishTickLocked();
        }
        _background = _options.Clock == SimClockMode.Lockstep
            ? Task.Run(LockstepHousekeepingAsync)
            : Task.Factory.StartNew(RealtimeLoop, TaskCreationOptions.LongRunning);
    }

    /// <summary>Runs <paramref name="action"/> on the robot under the server's lock (tests and the demo peek at the physics).</summary>
    public T Inspect<T>(Func<SimulatedRobot, T> action)
    {
        lock (_gate) return action(_robot);
    }

    /// <summary>Raised (on the receive thread, under the server's lock: keep it short) after each actuator message was counted.</summary>
    public event Action? ActuatorMessageCounted;

    /// <summary>Raised (under the server's lock: keep it short) after each new sensor frame was queued, with its sequence.</summary>
    public event Action<ulong>? TickPublished;

    /// <summary>An actuator frame through the embedded broker (a single segment in practice; anything else is copied).</summary>
    private void OnActuatorMessage(string topic, in ReadOnlySequence<byte> payload) =>
        OnActuatorFrame(payload.IsSingleSegment ? payload.FirstSpan : payload.ToArray());

    private void OnActuatorFrame(ReadOnlySpan<byte> payload)
    {
        try
        {
            if (_link is null)
            {
                HandleActuatorFrame(payload);
            }
            else
            {
                byte[] bytes = payload.ToArray();
                lock (_gate)
                {
                    _link.Send(SimLinkDirection.Actuators, bytes, NowMs, ActuatorFrames.Accepted);
                    PumpLinkLocked();
                }
            }
        }
        finally
        {
            ActuatorMessageCounted?.Invoke();
        }
    }

    private void HandleActuatorFrame(ReadOnlySpan<byte> payload)
    {
        if (_options.Clock == SimClockMode.Lockstep)
        {
            lock (_gate)
            {
                var status = _received.TryDecode(payload);
                if (status != FrameStatus.Ok)
                {
                    ActuatorFrames.Record(status);
                    return;
                }
                if (_received.AnswersTick != _sequence)
                {
                    ActuatorFrames.RecordOutOfOrder();
                    return;
                }
                ActuatorFrames.Record(FrameStatus.Ok);
                _robot.ApplyActuators(_received);
                if (_received.RequestsReset) ResetRobotLocked(seed: null, scale: 1.0, randomize: false);
                else _robot.Advance();
                _sequence++;
                PublishTickLocked();
                if (ActuatorFrames.Accepted == _brokerRestartAt && _broker is not null && _brokerRestart is null)
                    _brokerRestart = Task.Run(RestartBrokerAsync);
            }
            return;
        }

        lock (_gate)
        {
            int slot = (_queueStart + _queueCount) % RealtimeQueueLength;
            if (_queueCount == RealtimeQueueLength)
            {
                // Queue full: the oldest pending frame is superseded anyway.
                _queueStart = (_queueStart + 1) % RealtimeQueueLength;
                _queueCount--;
                ActuatorFrames.RecordOutOfOrder();
            }
            var status = _queue[slot].TryDecode(payload);
            if (status != FrameStatus.Ok)
            {
                ActuatorFrames.Record(status);
                return;
            }
            var frame = _queue[slot];
            if (frame.AnswersTick > _sequence || (_answeredAny && frame.AnswersTick < _lastAnswered))
            {
                ActuatorFrames.RecordOutOfOrder();
                return;
            }
            _queueDue[slot] = Stopwatch.GetTimestamp() + (long)(_options.ActuationLatency.TotalSeconds * Stopwatch.Frequency);
            _queueCount++;
        }
    }

    private void OnCommandMessage(string topic, in ReadOnlySequence<byte> payload)
    {
        bool reset = topic == Topics.CommandReset;
        bool randomize = topic == Topics.CommandRandomize;
        if (!reset && !randomize) return; // other commands belong to the controller
        ulong? seed = null;
        double scale = 1.0;
        if (payload.Length > 0)
        {
            try
            {
                var reader = new Utf8JsonReader(payload);
                if (reset) seed = JsonSerializer.Deserialize(ref reader, MessagingJsonContext.Default.ResetCommand)?.Seed;
                else
                {
                    var command = JsonSerializer.Deserialize(ref reader, MessagingJsonContext.Default.RandomizeCommand);
                    seed = command?.Seed;
                    scale = command?.Scale ?? 1.0;
                }
            }
            catch (JsonException)
            {
                Interlocked.Increment(ref _badCommands);
                return;
            }
            if (!(scale >= 0 && scale < 10))
            {
                Interlocked.Increment(ref _badCommands);
                return;
            }
        }
        lock (_gate)
        {
            ResetRobotLocked(seed, scale, randomize);
            _sequence++;
            PublishTickLocked();
        }
    }

    /// <summary>A new episode (cmd/reset, cmd/randomize, or an actuator frame that asks for one). Caller holds the lock.</summary>
    private void ResetRobotLocked(ulong? seed, double scale, bool randomize)
    {
        if (randomize || _options.RandomizeOnReset) _robot.Randomize(seed, scale);
        else _robot.Reset(seed);
        // Frames still waiting answered the old episode: counted and dropped.
        for (int i = 0; i < _queueCount; i++) ActuatorFrames.RecordOutOfOrder();
        _queueCount = 0;
    }

    /// <summary>Encodes and queues the current tick's sensor frame (and truth). Caller holds the lock.</summary>
    private void PublishTickLocked()
    {
        _robot.FillSensorFrame(_sensor);
        _sensor.Sequence = _sequence;
        _sensorLength = _sensor.Encode(_sensorBytes);
        PublishSensorsLocked(_sensorBytes.AsSpan(0, _sensorLength));
        if (_options.PublishTruth)
        {
            _robot.FillTruth(_truth);
            _truth.Sequence = _sequence;
            Publish(Topics.Truth, _truthBytes.AsSpan(0, _truth.Encode(_truthBytes)));
        }
        _lastProgressTimestamp = Stopwatch.GetTimestamp();
        TickPublished?.Invoke(_sequence);
    }

    private async Task LockstepHousekeepingAsync()
    {
        var period = _link is not null
            ? TimeSpan.FromMilliseconds(2) // late frames (mqtt-delay) go out within a few ms of their time
            : TimeSpan.FromMilliseconds(Math.Max(10, Math.Min(_options.LockstepRepublish.TotalMilliseconds, _options.StatusPeriod.TotalMilliseconds) / 2));
        using var timer = new PeriodicTimer(period);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                lock (_gate)
                {
                    // Nobody answered (a controller that subscribed after our publish): say it again, same bytes.
                    if (Stopwatch.GetElapsedTime(_lastProgressTimestamp) >= _options.LockstepRepublish && _sensorLength > 0)
                    {
                        PublishSensorsLocked(_sensorBytes.AsSpan(0, _sensorLength));
                        _lastProgressTimestamp = Stopwatch.GetTimestamp();
                    }
                    PumpLinkLocked();
                }
                PublishStatusIfDue();
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }

    private void RealtimeLoop()
    {
        long periodTicks = (long)(_robot.ControlPeriod * Stopwatch.Frequency);
        long next = Stopwatch.GetTimestamp() + periodTicks;
        var token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            long now = Stopwatch.GetTimestamp();
            long wait = next - now;
            if (wait > 0)
            {
                // Sleep most of the wait, spin the last millisecond: ticks land within tens of µs.
                double ms = wait * 1000.0 / Stopwatch.Frequency;
                if (ms > 1.5) token.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(ms - 1.0));
                else Thread.SpinWait(50);
                continue;
            }
            next += periodTicks;
            if (now - next > 10 * periodTicks) next = now + periodTicks; // fell far behind (debugger, suspend): don't burst
            lock (_gate)
            {
                PumpLinkLocked();
                // Apply every frame whose actuation time has come, in arrival order; the last one wins for pins.
                bool reset = false;
                while (_queueCount > 0 && _queueDue[_queueStart] <= now)
                {
                    var frame = _queue[_queueStart];
                    ActuatorFrames.Record(FrameStatus.Ok);
                    _robot.ApplyActuators(frame);
                    _lastAnswered = frame.AnswersTick;
                    _answeredAny = true;
                    _queueStart = (_queueStart + 1) % RealtimeQueueLength;
                    _queueCount--;
                    if (frame.RequestsReset)
                    {
                        ResetRobotLocked(seed: null, scale: 1.0, randomize: false);
                        reset = true;
                        break;
                    }
                }
                // This tick shows the reset robot, as after cmd/reset.
                if (!reset) _robot.Advance();
                _sequence++;
                PublishTickLocked();
            }
            PublishStatusIfDue();
        }
    }

    private void PublishStatusIfDue()
    {
        SimStatusTelemetry status;
        lock (_gate)
        {
            long now = Stopwatch.GetTimestamp();
            double elapsed = Stopwatch.GetElapsedTime(_statusTimestamp, now).TotalSeconds;
            if (elapsed < _options.StatusPeriod.TotalSeconds) return;
            long published = SensorFramesPublished;
            status = new SimStatusTelemetry(Topics.RobotId, _robot.Name, _options.Clock == SimClockMode.Lockstep ? "lockstep" : "realtime",
                _sequence, _robot.SimTime, _robot.Fallen, _robot.Resets, published, ActuatorFrames.Accepted,
                ActuatorFrames.Dropped - ActuatorFrames.OutOfOrder, ActuatorFrames.OutOfOrder, _client.Dropped + _client.DroppedWhileDisconnected + (_frames?.Dropped ?? 0),
                (published - _ticksAtLastStatus) / elapsed);
            _ticksAtLastStatus = published;
            _statusTimestamp = now;
        }
        LastStatus = status;
        Publish(_telemetryTopic, JsonSerializer.SerializeToUtf8Bytes(status, MessagingJsonContext.Default.SimStatusTelemetry));
    }

    /// <summary>The last status published on telemetry/sim.</summary>
    public SimStatusTelemetry? LastStatus { get; private set; }

    public async Task StopAsync()
    {
        if (!_stop.IsCancellationRequested) _stop.Cancel();
        if (_background is not null) await _background.ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        if (_brokerRestart is not null) await _brokerRestart.ConfigureAwait(false);
        _frames?.Dispose();
        await _client.DisposeAsync().ConfigureAwait(false);
        if (_broker is not null) await _broker.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }
}
