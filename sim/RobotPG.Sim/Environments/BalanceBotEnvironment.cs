using RobotPG.Controller.Configuration;
using RobotPG.Controller.Hosting;
using RobotPG.Controller.Simulation;
using RobotPG.Hardware;
using RobotPG.Messaging;
using RobotPG.Sim.Robots;

namespace RobotPG.Sim.Environments;

/// <summary>
/// The simulated balance bot in process, wired exactly as the controller sees it over MQTT but
/// without the network: the controller's drivers on a <see cref="SimBus"/> whose actuator frames are
/// replayed on the sim's chips inline (one physics tick per control step) and whose sensor frames
/// come straight back. A <see cref="RobotPG.Controller.Control.ControlLoop"/> over <see cref="Io"/>
/// therefore computes the same observation and reward (the controller's BalanceBotTask) as on the
/// robot, so a checkpoint pre-trained here transfers unchanged. Not thread-safe: one stepping thread.
/// </summary>
public sealed class BalanceBotEnvironment : IActuatorFrameSink, IDisposable
{
    private readonly SimulatedRobot _robot;
    private readonly SimBus _bus;
    private readonly DriverRobotIo _io;
    private readonly SimActuatorFrame _actuators = new();
    private readonly SimSensorFrame _sensors = new();
    private readonly byte[] _encoded = new byte[SimSensorFrame.MaxEncodedLength];
    private readonly bool _randomizeOnReset;
    private ulong _sequence;

    /// <param name="config">The controller's robot config (wiring, control rate).</param>
    /// <param name="physics">The sim's physics; its control rate is replaced by the config's.</param>
    public BalanceBotEnvironment(RobotConfig config, RobotPhysicsConfig physics, ulong seed, bool randomizeOnReset = false)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(physics);
        if (!(config.ControlRateHz > 0 && config.ControlRateHz <= physics.PhysicsRateHz))
            throw new ArgumentException($"control rate {config.ControlRateHz} Hz must be in (0, {physics.PhysicsRateHz}] (the physics rate)", nameof(config));
        _robot = SimulatedRobot.Create(WithControlRate(physics, config.ControlRateHz), seed);
        _randomizeOnReset = randomizeOnReset;
        var pins = new EncoderPins[config.Encoders.Length];
        for (int i = 0; i < pins.Length; i++) pins[i] = new EncoderPins(config.Encoders[i].PinA, config.Encoders[i].PinB);
        _bus = new SimBus(new SimBusOptions { Encoders = pins, FrameTimeout = TimeSpan.FromSeconds(1) }, this);
        Publish();
        _io = new DriverRobotIo(DriverOptionsMapping.ToDriverOptions(config), _bus);
    }

    public IRobotIo Io => _io;

    public SimulatedRobot Robot => _robot;

    /// <summary>Simulated seconds since construction (all episodes).</summary>
    public double SimSeconds { get; private set; }

    /// <summary>Stands the robot up again (with new physical parameters when randomising), as <c>cmd/reset</c> does.</summary>
    public void ResetRobot()
    {
        if (_randomizeOnReset) _robot.Randomize();
        else _robot.Reset();
        _sequence++;
        Publish();
    }

    /// <summary>The controller's actuator frame for the current tick: replay it, advance one tick, answer with the next sensor frame.</summary>
    public void Send(ReadOnlySpan<byte> encodedFrame)
    {
        if (_actuators.TryDecode(encodedFrame) != FrameStatus.Ok || _actuators.AnswersTick != _sequence) return;
        _robot.ApplyActuators(_actuators);
        _robot.Advance();
        SimSeconds += _robot.ControlPeriod;
        _sequence++;
        Publish();
    }

    private void Publish()
    {
        _robot.FillSensorFrame(_sensors);
        _sensors.Sequence = _sequence; // monotonic across resets, as the server's
        int length = _sensors.Encode(_encoded);
        _bus.ReceiveSensorFrame(_encoded.AsSpan(0, length));
    }

    /// <summary>The physics with another control rate (the controller config's).</summary>
    public static RobotPhysicsConfig WithControlRate(RobotPhysicsConfig c, double rate) => new()
    {
        Robot = c.Robot, PhysicsRateHz = c.PhysicsRateHz, ControlRateHz = rate, Gravity = c.Gravity, TiltLimitDeg = c.TiltLimitDeg,
        InitialTiltStdDeg = c.InitialTiltStdDeg, Body = c.Body, Wheels = c.Wheels, Cart = c.Cart, Pole = c.Pole, Motor = c.Motor,
        Imu = c.Imu, Pca9685Address = c.Pca9685Address, Motors = c.Motors, Encoders = c.Encoders, Randomization = c.Randomization,
    };

    public void Dispose()
    {
        _io.Dispose();
        _bus.Dispose();
    }
}
