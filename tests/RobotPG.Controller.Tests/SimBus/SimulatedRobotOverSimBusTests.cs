using RobotPG.Controller.Simulation;
using RobotPG.Hardware;
using RobotPG.Messaging;
using RobotPG.Sim.Robots;

namespace RobotPG.Controller.Tests.SimBus;

/// <summary>
/// The drivers over the sim bus against the simulator's own balancing robot (physics, chips, pins),
/// in-process and in lockstep: what the controller reads and drives is what the robot does.
/// </summary>
public sealed class SimulatedRobotOverSimBusTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);

    /// <summary>The simulator's tick loop, run inline on each actuator frame (lockstep).</summary>
    private sealed class RobotPeer(SimulatedRobot robot) : IActuatorFrameSink
    {
        private readonly SimActuatorFrame _actuators = new();
        private readonly SimSensorFrame _sensors = new();
        private readonly byte[] _encoded = new byte[SimSensorFrame.MaxEncodedLength];
        private Controller.Simulation.SimBus? _bus;

        public long OutOfOrder { get; private set; }

        public void Attach(Controller.Simulation.SimBus bus)
        {
            _bus = bus;
            Publish();
        }

        public void Send(ReadOnlySpan<byte> encodedFrame)
        {
            Assert.Equal(FrameStatus.Ok, _actuators.TryDecode(encodedFrame));
            if (_actuators.AnswersTick != robot.Tick)
            {
                OutOfOrder++;
                return;
            }
            robot.ApplyActuators(_actuators);
            robot.Advance();
            Publish();
        }

        private void Publish()
        {
            robot.FillSensorFrame(_sensors);
            int length = _sensors.Encode(_encoded);
            _bus!.ReceiveSensorFrame(_encoded.AsSpan(0, length));
        }
    }

    private static RobotPhysicsConfig UprightBalanceBot()
    {
        // Start exactly upright: with no initial tilt the unstable equilibrium holds while the gyro calibrates.
        string path = RepoPaths.FirmwareConfig(Path.Combine("robots", "balance-bot.physics.json"));
        string json = File.ReadAllText(path);
        Assert.Contains("\"initialTiltStdDeg\": 3", json);
        return RobotPhysicsConfigLoader.Parse(json.Replace("\"initialTiltStdDeg\": 3", "\"initialTiltStdDeg\": 0"), path);
    }

    /// <summary>The controller's wiring taken from the physics file, with the mirror-mounted parts inverted.</summary>
    private static DriverRobotIoOptions WiringOf(RobotPhysicsConfig physics) => new()
    {
        Imu = new Mpu6050Options { ResetDelay = TimeSpan.Zero, GyroCalibrationSamples = 100 },
        Pca9685 = new Pca9685Options { OscillatorStartup = TimeSpan.Zero, Address = physics.Pca9685Address!.Value },
        Motors = physics.Motors.Select(m => new MotorWiring
        {
            Pwm = new PwmSource.Pca9685Channel(m.PwmChannel),
            DirectionPin1 = m.In1Pin,
            DirectionPin2 = m.In2Pin,
            Motor = new HBridgeMotorOptions { Inverted = m.Mirrored },
        }).ToArray(),
        Encoders = physics.Encoders.Select(e => new EncoderWiring
        {
            PinA = e.PinA,
            PinB = e.PinB,
            Encoder = new QuadratureEncoderOptions { CountsPerRevolution = e.CountsPerRevolution, Inverted = e.Mirrored },
        }).ToArray(),
    };

    [Fact]
    public void Balance_bot_reads_gravity_calibrates_and_drives_both_wheels_forward()
    {
        var physics = UprightBalanceBot();
        var robot = SimulatedRobot.Create(physics, seed: 11);
        var peer = new RobotPeer(robot);
        var encoders = physics.Encoders.Select(e => new EncoderPins(e.PinA, e.PinB)).ToArray();
        using var bus = new Controller.Simulation.SimBus(new SimBusOptions { Encoders = encoders, FrameTimeout = Wait }, peer);
        peer.Attach(bus);
        bus.WaitForFirstFrame(Wait);
        using var io = new DriverRobotIo(WiringOf(physics), bus);

        // The bias the sim drew for this seed comes back from the calibration (noise 0.001 rad/s over
        // 100 samples, half an LSB at ±500 °/s = 1.3e-4 rad/s: 1e-3 is ample).
        var truth = robot.Imu!.Imperfections;
        var (bx, by, bz) = io.Imu!.GyroBias;
        Assert.InRange(bx, truth.GyroBiasX - 1e-3, truth.GyroBiasX + 1e-3);
        Assert.InRange(by, truth.GyroBiasY - 1e-3, truth.GyroBiasY + 1e-3);
        Assert.InRange(bz, truth.GyroBiasZ - 1e-3, truth.GyroBiasZ + 1e-3);

        var frame = new SensorFrame(io.EncoderCount);
        io.Read(frame);
        // Upright at rest: +1 g on the IMU's up axis (+z), within bias (σ 0.05) and noise (σ 0.04) m/s².
        Assert.InRange(frame.AccelZ, 9.80665 - 0.4, 9.80665 + 0.4);
        Assert.InRange(Math.Abs(frame.AccelX), 0, 0.4);
        Assert.Equal(0, frame.EncoderTicks[0]);
        Assert.Equal(0, frame.EncoderTicks[1]);

        float[] velocityMidway = [0, 0];
        for (int step = 0; step < 40; step++)
        {
            io.Drive([0.6f, 0.6f]);
            Assert.True(bus.WaitForNewFrame(Wait));
            io.Read(frame);
            if (step == 10)
            {
                // Still upright this early; later the body pitches past the tilt limit and the sim freezes it.
                Assert.False(robot.Fallen);
                frame.EncoderVelocity.CopyTo(velocityMidway, 0);
            }
        }
        // Both wheels turn forward relative to the body, at about the same rate (symmetric robot).
        Assert.True(frame.EncoderTicks[0] > 20, $"left wheel {frame.EncoderTicks[0]} counts");
        Assert.True(frame.EncoderTicks[1] > 20, $"right wheel {frame.EncoderTicks[1]} counts");
        Assert.InRange(frame.EncoderTicks[1], frame.EncoderTicks[0] * 0.9, frame.EncoderTicks[0] * 1.1);
        Assert.True(velocityMidway[0] > 0 && velocityMidway[1] > 0, $"wheel velocities {velocityMidway[0]}, {velocityMidway[1]} rad/s");
        Assert.Equal(0, peer.OutOfOrder);

        io.StopMotors();
        bus.Flush();
        Assert.Equal(0.0, robot.Pca9685!.DutyCycle(0));
        Assert.Equal(0.0, robot.Pca9685!.DutyCycle(1));
    }
}
