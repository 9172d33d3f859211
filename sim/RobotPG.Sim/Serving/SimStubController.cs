using System.Buffers;
using System.IO.Hashing;
using RobotPG.Messaging;

namespace RobotPG.Sim.Serving;

/// <summary>Fills the actuator frame answering a sensor frame (the frame arrives cleared, sequence numbers set).</summary>
public delegate void StubPolicy(long step, SimSensorFrame sensors, SimActuatorFrame actuators);

/// <summary>
/// A minimal controller peer for tests and benchmarks: answers every new sensor frame of a
/// <see cref="SimulationServer"/> with an actuator frame from a <see cref="StubPolicy"/>, over MQTT,
/// and hashes every sensor frame it accepted (XxHash64 over the raw bytes) so two runs can be
/// compared bit for bit. A repeated frame (the server's lockstep republish) is ignored.
/// </summary>
public sealed class SimStubController : IAsyncDisposable
{
    private readonly ResilientMqttClient _client;
    private readonly Topics _topics;
    private readonly StubPolicy _policy;
    private readonly SimSensorFrame _sensor = new();
    private readonly SimActuatorFrame _actuator = new();
    private readonly byte[] _actuatorBytes = new byte[SimActuatorFrame.MaxEncodedLength];
    private readonly byte[] _scratch = new byte[FrameFormat.MaxFrameLength];
    private readonly XxHash64 _hash = new();
    private readonly object _gate = new();
    private ulong _lastSequence;
    private bool _seenAny;
    private long _steps;
    private long _target = long.MaxValue;
    private readonly long _stepLimit;
    private TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private SimStubController(MqttEndpoint endpoint, string robotId, StubPolicy policy, long stepLimit)
    {
        _stepLimit = stepLimit;
        _client = new ResilientMqttClient(endpoint);
        _topics = new Topics(robotId);
        _policy = policy;
    }

    /// <summary>Connects and subscribes; after <paramref name="stepLimit"/> answers the stub falls silent (the sim then waits).</summary>
    public static async Task<SimStubController> ConnectAsync(MqttEndpoint endpoint, string robotId, StubPolicy policy, long stepLimit = long.MaxValue, TimeSpan? timeout = null)
    {
        var stub = new SimStubController(endpoint, robotId, policy, stepLimit);
        stub._client.Start();
        if (!await stub._client.WaitConnectedAsync(timeout ?? TimeSpan.FromSeconds(10)).ConfigureAwait(false))
        {
            await stub.DisposeAsync().ConfigureAwait(false);
            throw new IOException($"stub controller cannot reach the broker at {endpoint.Host}:{endpoint.Port}");
        }
        await stub._client.SubscribeAsync(stub._topics.Sensors, stub.OnSensorMessage).ConfigureAwait(false);
        return stub;
    }

    public ResilientMqttClient Client => _client;

    /// <summary>Sensor frames by decode outcome; repeats of the last frame and frames past the step limit count as out of order.</summary>
    public FrameCounters SensorFrames { get; } = new();

    /// <summary>Actuator frames sent so far.</summary>
    public long Steps => Interlocked.Read(ref _steps);

    /// <summary>XxHash64 of every accepted sensor frame's bytes, in order.</summary>
    public ulong SensorHash
    {
        get
        {
            lock (_gate) return _hash.GetCurrentHashAsUInt64();
        }
    }

    /// <summary>Sequence of the last sensor frame answered.</summary>
    public ulong LastSequence
    {
        get
        {
            lock (_gate) return _lastSequence;
        }
    }

    /// <summary>The last accepted sensor frame, copied (for assertions).</summary>
    public SimSensorFrame LastSensorFrame()
    {
        var copy = new SimSensorFrame();
        lock (_gate) copy.CopyFrom(_sensor);
        return copy;
    }

    /// <summary>Completes once <paramref name="steps"/> actuator frames in total have been sent; false on timeout.</summary>
    public async Task<bool> WaitForStepsAsync(long steps, TimeSpan timeout)
    {
        Task done;
        lock (_gate)
        {
            if (_steps >= steps) return true;
            _target = steps;
            _done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            done = _done.Task;
        }
        return await Task.WhenAny(done, Task.Delay(timeout)).ConfigureAwait(false) == done;
    }

    private void OnSensorMessage(string topic, in ReadOnlySequence<byte> payload)
    {
        lock (_gate)
        {
            if (!FrameSequences.TryGetSpan(payload, _scratch, out var bytes, out var status))
            {
                SensorFrames.Record(status);
                return;
            }
            status = _sensor.TryDecode(bytes);
            if (status != FrameStatus.Ok)
            {
                SensorFrames.Record(status);
                return;
            }
            if (_steps >= _stepLimit || (_seenAny && _sensor.Sequence <= _lastSequence))
            {
                SensorFrames.RecordOutOfOrder();
                return;
            }
            SensorFrames.Record(FrameStatus.Ok);
            _seenAny = true;
            _lastSequence = _sensor.Sequence;
            _hash.Append(bytes);

            _actuator.Clear();
            _actuator.AnswersTick = _sensor.Sequence;
            _actuator.Sequence = (ulong)_steps;
            _policy(_steps, _sensor, _actuator);
            int length = _actuator.Encode(_actuatorBytes);
            _client.TryPublish(_topics.Actuators, _actuatorBytes.AsSpan(0, length));
            _steps++;
            if (_steps >= _target) _done.TrySetResult();
        }
    }

    public ValueTask DisposeAsync() => _client.DisposeAsync();
}
