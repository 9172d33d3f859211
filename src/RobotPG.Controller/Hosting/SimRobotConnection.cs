using RobotPG.Controller.Configuration;
using RobotPG.Controller.Control;
using RobotPG.Controller.Simulation;
using RobotPG.Hardware;
using RobotPG.Messaging;

namespace RobotPG.Controller.Hosting;

/// <summary>
/// The robot served by <c>robotpg-sim</c> over MQTT: the unchanged drivers on a <see cref="SimBus"/>
/// whose sensor frames arrive on <c>robotpg/{id}/sim/sensors</c> and whose actuator frames go out on
/// <c>robotpg/{id}/sim/actuators</c>, both over the frames' own connection (<see cref="MqttFrameLink"/>,
/// same broker and credentials as the MQTTnet client, client id + <c>-frames</c>).
/// <para>
/// Lockstep: the loop is paced by the simulator's ticks, and nothing else happens between a tick and its answer,
/// so one thread does it all: whoever waits for a frame (the control thread, or the start-up code before it runs)
/// reads the socket itself (<see cref="MqttFrameLink.Pump"/>), and each committed actuator frame is sent on the
/// committing thread. No thread wake-up of the controller's own in a round trip.
/// </para>
/// <para>
/// Real time: the loop is paced by the wall clock and must never wait on the network: the link's reader thread
/// delivers sensor frames as they come, and a publisher thread sends the actuator frames the control thread queues.
/// </para>
/// </summary>
public sealed class SimRobotConnection : RobotConnection
{
    private readonly MqttFrameLink _link;
    private readonly ActuatorFrameQueue? _queue;
    private readonly SimBus _bus;
    private readonly Thread? _publisher;
    private readonly CancellationTokenSource _stop = new();
    private readonly DriverRobotIo? _io;

    private SimRobotConnection(RobotConfig config, ResilientMqttClient client, TimeSpan startTimeout)
    {
        bool lockstep = config.Bus.Clock == SimClock.Lockstep;
        var topics = new Topics(config.RobotId);
        var pins = new EncoderPins[config.Encoders.Length];
        for (int i = 0; i < pins.Length; i++)
            pins[i] = new EncoderPins(config.Encoders[i].PinA, config.Encoders[i].PinB);
        if (!lockstep) _queue = new ActuatorFrameQueue();
        _bus = new SimBus(new SimBusOptions { Encoders = pins, FrameTimeout = startTimeout }, _queue ?? (IActuatorFrameSink)new SendOnCommit(this));
        _link = new MqttFrameLink(client.Endpoint with { ClientId = client.Endpoint.ClientId + "-frames", Will = null },
            topics.Sensors, topics.Actuators, OnSensorFrame,
            new MqttFrameLinkOptions { KeepAlive = TimeSpan.FromSeconds(config.Mqtt?.KeepAliveSeconds ?? 10) }, pumped: lockstep);
        if (lockstep) _bus.Pump = _link.Pump;
        if (_queue is not null)
        {
            _publisher = new Thread(PublishActuatorFrames) { IsBackground = true, Name = "robotpg-sim-actuators" };
            _publisher.Start();
        }
        try
        {
            _link.Start();
            if (!_link.WaitConnected(startTimeout))
                throw new TimeoutException($"no frame link to the broker at {client.Endpoint.Host}:{client.Endpoint.Port} within {startTimeout.TotalSeconds:0.#} s: {_link.LastError ?? "no answer"}");
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
        Clock = lockstep ? new LockstepClock(_bus, LockstepWait) : new RealTimeClock();
        Description = $"sim over MQTT {client.Endpoint.Host}:{client.Endpoint.Port}, {(lockstep ? "lockstep" : "real time")}";
    }

    /// <summary>
    /// Connects to the simulator through <paramref name="client"/>'s broker (started, owned by the caller) and
    /// initialises the drivers over it. Throws <see cref="TimeoutException"/> when no simulator answers.
    /// </summary>
    public static SimRobotConnection Open(RobotConfig config, ResilientMqttClient client, TimeSpan startTimeout) =>
        new(config, client, startTimeout);

    public override IRobotIo Io => _io!;

    public override IStepClock Clock { get; }

    public override string Description { get; }

    public SimBus Bus => _bus;

    /// <summary>How long a lockstep step waits for the simulator's next tick; a wait that ends without one is no step, and counts toward the stale-sensor rule (ControlLoop.Run).</summary>
    public static readonly TimeSpan LockstepWait = TimeSpan.FromSeconds(1);

    /// <summary>The frames' own MQTT connection: its counters (published, dropped, reconnects) and last error.</summary>
    public MqttFrameLink Link => _link;

    public override void FlushActuators() => _bus.Flush();

    private void OnSensorFrame(ReadOnlySpan<byte> payload) => _bus.ReceiveSensorFrame(payload);

    /// <summary>Lockstep: the committed frame goes out on the committing thread (a lost one is resent when the simulator republishes its tick).</summary>
    private sealed class SendOnCommit(SimRobotConnection connection) : IActuatorFrameSink
    {
        public void Send(ReadOnlySpan<byte> encodedFrame) => connection._link.TryPublish(encodedFrame);
    }

    private void PublishQueued(byte[] buffer)
    {
        while (_queue!.TryDequeue(buffer, out int length))
            _link.TryPublish(buffer.AsSpan(0, length));
    }

    private void PublishActuatorFrames()
    {
        var buffer = new byte[SimActuatorFrame.MaxEncodedLength];
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                if (!_queue!.WaitForFrame(TimeSpan.FromMilliseconds(100), _stop.Token))
                    continue;
                PublishQueued(buffer);
            }
        }
        catch (OperationCanceledException)
        {
            // Disposing: the last frames are flushed there.
        }
    }

    public override void Dispose()
    {
        // The drivers' last writes (motors off) are committed here: sent at once in lockstep, queued in real time.
        _io?.Dispose();
        _stop.Cancel();
        if (_publisher is { IsAlive: true })
            _publisher.Join();
        // Let the publisher's last frames reach the link before it closes.
        if (_queue is not null) PublishQueued(new byte[SimActuatorFrame.MaxEncodedLength]);
        _link.Dispose();
        _bus.Dispose();
        _queue?.Dispose();
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
