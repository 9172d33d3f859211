using System.Buffers;
using RobotPG.Controller.Configuration;
using RobotPG.Controller.Control;
using RobotPG.Controller.Simulation;
using RobotPG.Hardware;
using RobotPG.Messaging;

namespace RobotPG.Controller.Hosting;

/// <summary>
/// The robot served by <c>robotpg-sim</c> over MQTT: the unchanged drivers on a <see cref="SimBus"/>
/// whose sensor frames arrive on <c>robotpg/{id}/sensors</c> and whose actuator frames a publisher
/// thread sends on <c>robotpg/{id}/actuators</c>. In lockstep the loop is paced by the simulator's
/// frames (each step waits for the next tick), in real time by the wall clock. In lockstep the MQTT
/// receive thread that delivered a tick waits, spinning for up to <see cref="AnswerSpin"/>, for the
/// control step's answer and publishes it itself: one thread wake-up less per tick than through the
/// publisher thread (which still sends whatever comes later: start-up writes, a late answer, the last frame).
/// </summary>
public sealed class SimRobotConnection : RobotConnection
{
    private readonly ResilientMqttClient _client;
    private readonly ActuatorFrameQueue _queue = new();
    private readonly SimBus _bus;
    private readonly Thread _publisher;
    private readonly CancellationTokenSource _stop = new();
    private readonly string _actuatorTopic;
    private readonly DriverRobotIo? _io;
    private readonly bool _answerOnReceive;
    private readonly object _publishGate = new(); // publisher and receive thread take turns: each frame once, in order
    private readonly byte[] _receiveThreadBuffer = new byte[SimActuatorFrame.MaxEncodedLength];
    private long _answeredOnReceive;

    /// <summary>
    /// How long the receive thread spins for the answer to a lockstep tick before leaving it to the publisher
    /// thread: a control step takes a few µs once its thread is running; the rest is the wake-up (median ≈ 30 µs,
    /// tail ≈ 100 µs on a loaded 2-core machine).
    /// </summary>
    public static readonly TimeSpan AnswerSpin = TimeSpan.FromMicroseconds(250);
    private static readonly long AnswerSpinTicks = (long)(AnswerSpin.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);

    private SimRobotConnection(RobotConfig config, ResilientMqttClient client, TimeSpan startTimeout)
    {
        _client = client;
        _answerOnReceive = config.Bus.Clock == SimClock.Lockstep;
        var topics = new Topics(config.RobotId);
        _actuatorTopic = topics.Actuators;
        var pins = new EncoderPins[config.Encoders.Length];
        for (int i = 0; i < pins.Length; i++)
            pins[i] = new EncoderPins(config.Encoders[i].PinA, config.Encoders[i].PinB);
        _bus = new SimBus(new SimBusOptions { Encoders = pins, FrameTimeout = startTimeout }, _queue);
        _publisher = new Thread(PublishActuatorFrames) { IsBackground = true, Name = "robotpg-sim-actuators" };
        _publisher.Start();
        try
        {
            _client.SubscribeAsync(topics.Sensors, OnSensorFrame).GetAwaiter().GetResult();
            _bus.WaitForFirstFrame(startTimeout);
            // The PCA9685 is read back as on the Pi, so a chip the simulator reports as not acknowledging
            // (robotpg-sim serve --fault i2c-nack:0x40:...) or browned out is caught the same way.
            _io = new DriverRobotIo(DriverOptionsMapping.ToDriverOptions(config) with
            {
                Pca9685CheckEveryReads = Math.Max(1, (int)(config.ControlRateHz / 4)),
            }, _bus);
        }
        catch
        {
            Dispose();
            throw;
        }
        // Each second without a lockstep tick counts toward the stale-sensor rule (ControlLoop.Run).
        Clock = config.Bus.Clock == SimClock.Lockstep ? new LockstepClock(_bus, TimeSpan.FromSeconds(1)) : new RealTimeClock();
        Description = $"sim over MQTT {client.Endpoint.Host}:{client.Endpoint.Port}, {(config.Bus.Clock == SimClock.Lockstep ? "lockstep" : "real time")}";
    }

    /// <summary>
    /// Connects to the simulator through <paramref name="client"/> (started, owned by the caller) and
    /// initialises the drivers over it. Throws <see cref="TimeoutException"/> when no simulator answers.
    /// </summary>
    public static SimRobotConnection Open(RobotConfig config, ResilientMqttClient client, TimeSpan startTimeout) =>
        new(config, client, startTimeout);

    public override IRobotIo Io => _io!;

    public override IStepClock Clock { get; }

    public override string Description { get; }

    public SimBus Bus => _bus;

    public override void FlushActuators() => _bus.Flush();

    /// <summary>Actuator frames published by the MQTT receive thread right after the tick they answer (lockstep).</summary>
    public long AnsweredOnReceive => Interlocked.Read(ref _answeredOnReceive);

    private void OnSensorFrame(string topic, in ReadOnlySequence<byte> payload)
    {
        if (!_answerOnReceive)
        {
            _bus.ReceiveSensorFrame(payload);
            return;
        }
        // Before the control thread can see the tick, so that its answer cannot slip past to the publisher thread.
        _queue.ExpectAnswer();
        var status = _bus.ReceiveSensorFrame(payload);
        if (_queue.WaitForAnswer(status == FrameStatus.Ok ? AnswerSpinTicks : 0))
        {
            Interlocked.Increment(ref _answeredOnReceive);
            PublishQueued(_receiveThreadBuffer);
        }
    }

    private void PublishQueued(byte[] buffer)
    {
        lock (_publishGate)
        {
            while (_queue.TryDequeue(buffer, out int length))
                _client.TryPublish(_actuatorTopic, buffer.AsSpan(0, length));
        }
    }

    private void PublishActuatorFrames()
    {
        var buffer = new byte[SimActuatorFrame.MaxEncodedLength];
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                if (!_queue.WaitForFrame(TimeSpan.FromMilliseconds(100), _stop.Token))
                    continue;
                PublishQueued(buffer);
            }
        }
        catch (OperationCanceledException)
        {
            // Disposing: the last frames were flushed before.
        }
    }

    public override void Dispose()
    {
        _io?.Dispose();
        // Let the publisher hand the final (motors-off) frames to the client before it stops.
        var buffer = new byte[SimActuatorFrame.MaxEncodedLength];
        _stop.Cancel();
        if (_publisher.IsAlive)
            _publisher.Join();
        PublishQueued(buffer);
        _bus.Dispose();
        _queue.Dispose();
        _stop.Dispose();
    }

    /// <summary>Lockstep pacing: a step starts when the simulator's next tick has arrived; a wait that timed out is no period (the loop counts it toward the stale-sensor rule).</summary>
    private sealed class LockstepClock(SimBus bus, TimeSpan timeout) : IStepClock
    {
        public bool PeriodPassed { get; private set; }

        public long WaitUntil(long deadline)
        {
            PeriodPassed = bus.WaitForNextTick(timeout);
            return System.Diagnostics.Stopwatch.GetTimestamp();
        }
    }
}
