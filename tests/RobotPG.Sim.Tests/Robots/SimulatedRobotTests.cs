using System.Buffers.Binary;
using RobotPG.Messaging;
using RobotPG.Sim.Robots;
using Xunit;

namespace RobotPG.Sim.Tests.Robots;

public class SimulatedRobotTests
{
    private static short Word(ReadOnlySpan<byte> image, int register) => BinaryPrimitives.ReadInt16BigEndian(image[register..]);

    /// <summary>What a controller writes at start-up: IMU awake at ±2 g / ±250 °/s, PCA9685 at 1 kHz with auto-increment.</summary>
    private static SimActuatorFrame StartupFrame()
    {
        var frame = new SimActuatorFrame();
        frame.TryAddI2cWrite(0x68, [0x6B, 0x01]);
        frame.TryAddI2cWrite(0x40, [0x00, 0x30]); // sleep + AI
        frame.TryAddI2cWrite(0x40, [0xFE, 5]);    // 1 kHz
        frame.TryAddI2cWrite(0x40, [0x00, 0x20]); // wake
        return frame;
    }

    private static void Drive(SimActuatorFrame frame, int channel, int off, int in1, bool in1High, int in2, bool in2High)
    {
        frame.TryAddI2cWrite(0x40, [(byte)(0x06 + 4 * channel), 0, 0, (byte)(off & 0xFF), (byte)(off >> 8)]);
        frame.TrySetPinLevel(in1, in1High);
        frame.TrySetPinLevel(in2, in2High);
    }

    [Fact]
    public void UprightAtRestReadsOneGOnZ()
    {
        var robot = (SimulatedBalanceBot)SimulatedRobot.Create(PhysicsTestConfigs.QuietBalanceBot(), seed: 1);
        robot.ApplyActuators(StartupFrame());
        robot.Physics.Reset(0, 0);
        robot.UpdateSensors();
        var image = robot.Imu!.RegisterImage;
        Assert.Equal(0, Word(image, 0x3B));
        Assert.Equal(0, Word(image, 0x3D));
        Assert.Equal(16384, Word(image, 0x3F));
        Assert.Equal(0, Word(image, 0x43));
        Assert.Equal(0, Word(image, 0x45));
        Assert.Equal(0, Word(image, 0x47));
    }

    [Fact]
    public void FallsAtTheTiltLimitAndLiesStill()
    {
        var config = PhysicsTestConfigs.QuietBalanceBot();
        var robot = (SimulatedBalanceBot)SimulatedRobot.Create(config, seed: 3);
        robot.ApplyActuators(StartupFrame());
        double limit = config.TiltLimitDeg * Math.PI / 180;
        double previous = 0;
        int ticks = 0;
        while (!robot.Fallen && ticks < 2000)
        {
            previous = robot.Physics.State[BalanceBotPhysics.Pitch];
            robot.Advance();
            ticks++;
        }
        Assert.True(robot.Fallen, "an unpowered balancing robot must fall within 10 s");
        Assert.True(Math.Abs(previous) <= limit, "it must not have been past the limit a tick earlier");
        double pitch = robot.Physics.State[BalanceBotPhysics.Pitch];
        Assert.Equal(limit, Math.Abs(pitch), 12);

        // Lying still: the IMU reads gravity alone, (−g sin θ, 0, g cos θ) with x forward and z up, ±2 g.
        for (int i = 0; i < 10; i++) robot.Advance();
        Assert.Equal(pitch, robot.Physics.State[BalanceBotPhysics.Pitch]);
        var image = robot.Imu!.RegisterImage;
        Assert.Equal(Math.Round(-Math.Sin(pitch) * 16384), Word(image, 0x3B));
        Assert.Equal(Math.Round(Math.Cos(pitch) * 16384), Word(image, 0x3F));
        Assert.Equal(0, Word(image, 0x45)); // pitch rate (about y) is zero

        robot.Reset();
        Assert.False(robot.Fallen);
        Assert.True(Math.Abs(robot.Physics.State[BalanceBotPhysics.Pitch]) < limit / 2);
    }

    [Fact]
    public void FallingForwardShowsInTheGyroAndAccelerometerSigns()
    {
        var robot = (SimulatedBalanceBot)SimulatedRobot.Create(PhysicsTestConfigs.QuietBalanceBot(), seed: 1);
        robot.ApplyActuators(StartupFrame());
        robot.Physics.Reset(0.05, 0);
        for (int i = 0; i < 20; i++) robot.Advance();
        Assert.True(robot.Physics.State[BalanceBotPhysics.Pitch] > 0.05);
        var image = robot.Imu!.RegisterImage;
        // Pitch is a rotation about +y (left); leaning forward makes the gravity reaction tip toward −x.
        Assert.True(Word(image, 0x45) > 0, "gyro y reads the (positive) pitch rate");
        Assert.True(Word(image, 0x3B) < 0, "accel x reads −g sin θ");
        double expectedRate = robot.Physics.State[BalanceBotPhysics.PitchRate] * 180 / Math.PI * 131;
        Assert.Equal(Math.Round(expectedRate), Word(image, 0x45));
    }

    [Fact]
    public void MotorsFollowThePca9685DutiesAndBridgePins()
    {
        var config = PhysicsTestConfigs.QuietBalanceBot();
        // Hold the body upright by starting it there and driving both wheels forward only briefly.
        var straight = (SimulatedBalanceBot)SimulatedRobot.Create(config, seed: 1);
        var frame = StartupFrame();
        Drive(frame, 0, 2048, 5, true, 6, false);   // left forward, 50 %
        Drive(frame, 1, 2048, 20, false, 21, true); // right is mirrored: IN2 high rolls it forward
        straight.ApplyActuators(frame);
        straight.Physics.Reset(0, 0);
        for (int i = 0; i < 10; i++) straight.Advance();
        Assert.True(straight.Physics.Position > 0.001, $"both wheels forward must move the robot forward, x = {straight.Physics.Position}");
        Assert.True(Math.Abs(straight.Physics.Yaw) < 1e-9);
        Assert.True(straight.EncoderCounts[0] > 0, "left encoder counts up rolling forward");
        Assert.True(straight.EncoderCounts[1] < 0, "the mirrored right encoder counts down rolling forward");
        Assert.Equal(straight.EncoderCounts[0], -straight.EncoderCounts[1]);

        var spin = (SimulatedBalanceBot)SimulatedRobot.Create(config, seed: 1);
        frame = StartupFrame();
        Drive(frame, 0, 2048, 5, false, 6, true);   // left backward
        Drive(frame, 1, 2048, 20, false, 21, true); // right forward
        spin.ApplyActuators(frame);
        spin.Physics.Reset(0, 0);
        for (int i = 0; i < 10; i++) spin.Advance();
        Assert.True(spin.Physics.YawRate > 0.1, $"left back, right forward turns left (counter-clockwise), ψ̇ = {spin.Physics.YawRate}");
        Assert.True(Math.Abs(spin.Physics.Position) < 1e-9);
        Assert.True(Word(spin.Imu!.RegisterImage, 0x47) > 0, "gyro z reads the yaw rate");
    }

    [Fact]
    public void CoastingWithThePcaAsleepAppliesNoTorque()
    {
        var robot = (SimulatedBalanceBot)SimulatedRobot.Create(PhysicsTestConfigs.QuietBalanceBot(), seed: 1);
        var frame = new SimActuatorFrame();
        frame.TrySetPinLevel(5, true); // direction set, but the PCA9685 never woke: duty 0
        robot.ApplyActuators(frame);
        robot.Physics.Reset(0, 0);
        for (int i = 0; i < 10; i++) robot.Advance();
        Assert.Equal(0.0, robot.Physics.State[BalanceBotPhysics.WheelRate]);
        Assert.Equal(0.0, robot.Physics.State[BalanceBotPhysics.Pitch]);
    }

    [Fact]
    public void SameSeedSameInputsGiveIdenticalSensorFrames()
    {
        var config = PhysicsTestConfigs.Load("balance-bot");
        var a = SimulatedRobot.Create(config, 42);
        var b = SimulatedRobot.Create(config, 42);
        var fa = new SimSensorFrame();
        var fb = new SimSensorFrame();
        var bytesA = new byte[SimSensorFrame.MaxEncodedLength];
        var bytesB = new byte[SimSensorFrame.MaxEncodedLength];
        var frame = StartupFrame();
        Drive(frame, 0, 300, 5, true, 6, false);
        a.ApplyActuators(frame);
        b.ApplyActuators(frame);
        for (int i = 0; i < 100; i++)
        {
            a.Advance();
            b.Advance();
            a.FillSensorFrame(fa);
            b.FillSensorFrame(fb);
            int la = fa.Encode(bytesA), lb = fb.Encode(bytesB);
            Assert.True(bytesA.AsSpan(0, la).SequenceEqual(bytesB.AsSpan(0, lb)));
        }
        var c = SimulatedRobot.Create(config, 43);
        c.ApplyActuators(frame);
        c.Advance();
        c.FillSensorFrame(fb);
        Assert.False(bytesA.AsSpan(0, fa.Encode(bytesA)).SequenceEqual(bytesB.AsSpan(0, fb.Encode(bytesB))));
    }

    [Fact]
    public void RandomizeScalesParametersWithinTheConfiguredRanges()
    {
        var config = PhysicsTestConfigs.Load("balance-bot");
        var robot = (SimulatedBalanceBot)SimulatedRobot.Create(config, 5);
        double nominalMass = robot.Physics.Parameters.BodyMass;
        robot.Randomize(seed: 9);
        Assert.InRange(robot.MassFactor, 1 - config.Randomization.Mass, 1 + config.Randomization.Mass);
        Assert.NotEqual(1.0, robot.MassFactor);
        Assert.Equal(nominalMass * robot.MassFactor, robot.Physics.Parameters.BodyMass, 12);
        Assert.Equal(config.Motor.TorqueConstant * robot.TorqueConstantFactor, robot.Physics.Parameters.Motor.TorqueConstant, 12);
    }

    [Fact]
    public void WideRandomizationDrawsMassTorqueAndDeadbandFromTheirRangesAndAppliesThem()
    {
        var config = PhysicsTestConfigs.Load("balance-bot");
        config.Randomization = new RandomizationConfig { MassScale = [2.0, 3.0], TorqueScale = [0.3, 0.4], DeadbandDuty = [0.1, 0.2] };
        var robot = (SimulatedBalanceBot)SimulatedRobot.Create(config, 5);
        double nominalMass = robot.Physics.Parameters.BodyMass, nominalInertia = robot.Physics.Parameters.BodyPitchInertia;
        Assert.Equal(config.Motor.DeadbandDuty, robot.Physics.Parameters.Motor.DeadbandDuty);
        robot.Randomize(seed: 9);
        // Outside the symmetric ±mass / ±motor ranges of the plain config: a 2–3× body on 0.3–0.4× motors.
        Assert.InRange(robot.MassFactor, 2.0, 3.0);
        Assert.InRange(robot.TorqueConstantFactor, 0.3, 0.4);
        Assert.Equal(nominalMass * robot.MassFactor, robot.Physics.Parameters.BodyMass, 12);
        Assert.Equal(nominalInertia * robot.MassFactor, robot.Physics.Parameters.BodyPitchInertia, 12);
        Assert.Equal(config.Motor.TorqueConstant * robot.TorqueConstantFactor, robot.Physics.Parameters.Motor.TorqueConstant, 12);
        Assert.InRange(robot.DeadbandDuty!.Value, 0.1, 0.2);
        Assert.Equal(robot.DeadbandDuty.Value, robot.Physics.Parameters.Motor.DeadbandDuty);
        // The motor model gives no current below the drawn deadband and the full stall current above it.
        var motor = robot.Physics.Parameters.Motor;
        Assert.Equal(0.0, motor.Current(BridgeState.Forward, robot.DeadbandDuty.Value - 1e-3, 0));
        Assert.Equal(Math.Min(motor.BatteryVoltage / motor.WindingResistance, motor.MaxCurrent), motor.Current(BridgeState.Forward, robot.DeadbandDuty.Value + 1e-3, 0), 12);
    }

    [Fact]
    public void ARandomizedImuTiltReadsOnALevelBodyAsThatPitch()
    {
        var config = PhysicsTestConfigs.QuietBalanceBot();
        config.Randomization = new RandomizationConfig { Mass = 0, Friction = 0, Motor = 0, ImuTiltDeg = 5 };
        var robot = (SimulatedBalanceBot)SimulatedRobot.Create(config, seed: 1);
        robot.ApplyActuators(StartupFrame());
        robot.Randomize(seed: 4);
        double tilt = robot.ImuTiltRad;
        Assert.InRange(Math.Abs(tilt), 0.2 * Math.PI / 180, 5 * Math.PI / 180);
        robot.Physics.Reset(0, 0);
        robot.UpdateSensors();
        // Upright and still, the chip sees gravity as a body pitched by the tilt would: (−g sin t, 0, g cos t).
        var image = robot.Imu!.RegisterImage;
        Assert.Equal(Math.Round(-Math.Sin(tilt) * 16384), Word(image, 0x3B));
        Assert.Equal(0, Word(image, 0x3D));
        Assert.Equal(Math.Round(Math.Cos(tilt) * 16384), Word(image, 0x3F));
    }

    [Fact]
    public void AnImuMountedWithATiltReadsOnALevelBodyAsThatPitchAndRandomizationAddsToIt()
    {
        // imu.tiltDeg 6 (the robot-seconds "imu-tilt" change): without randomisation exactly 6°; with ±5° drawn, 6° plus the draw.
        var config = PhysicsTestConfigs.Load("balance-bot",
            ("imu.accelNoiseStd", 0), ("imu.gyroNoiseStd", 0), ("imu.gyroBiasStd", 0), ("imu.accelBiasStd", 0), ("imu.tiltDeg", 6));
        var robot = (SimulatedBalanceBot)SimulatedRobot.Create(config, seed: 1);
        robot.ApplyActuators(StartupFrame());
        robot.Physics.Reset(0, 0);
        robot.UpdateSensors();
        double six = 6 * Math.PI / 180;
        Assert.Equal(six, robot.ImuTiltRad, 15);
        var image = robot.Imu!.RegisterImage;
        Assert.Equal(Math.Round(-Math.Sin(six) * 16384), Word(image, 0x3B));
        Assert.Equal(Math.Round(Math.Cos(six) * 16384), Word(image, 0x3F));

        config.Randomization = new RandomizationConfig { Mass = 0, Friction = 0, Motor = 0, ImuTiltDeg = 5 };
        var drawn = (SimulatedBalanceBot)SimulatedRobot.Create(config, seed: 1);
        drawn.Randomize(seed: 4);
        var reference = (SimulatedBalanceBot)SimulatedRobot.Create(PhysicsTestConfigs.QuietBalanceBot(), seed: 1);
        reference.Config.Randomization = config.Randomization;
        reference.Randomize(seed: 4);                                   // the same draw on a chip mounted level
        Assert.NotEqual(0, reference.ImuTiltRad);
        Assert.Equal(six + reference.ImuTiltRad, drawn.ImuTiltRad, 15);
    }

    [Fact]
    public void AnImuTiltPastTwentyDegreesIsRejected()
    {
        var fault = Assert.Throws<RobotPhysicsConfigException>(() => PhysicsTestConfigs.Load("balance-bot", ("imu.tiltDeg", 25)));
        Assert.EndsWith("balance-bot.physics.json: imu.tiltDeg: 25 must be in [-20, 20]", fault.Message);
    }

    [Theory]
    [InlineData("massScale", "randomization.massScale: [3, 1] must satisfy 0.05 ≤ low ≤ high ≤ 20")]
    [InlineData("deadbandDuty", "randomization.deadbandDuty: [3, 1] must satisfy 0 ≤ low ≤ high ≤ 0.9")]
    public void AnInvertedRandomizationRangeIsRejectedWithItsField(string field, string message)
    {
        var config = PhysicsTestConfigs.Load("balance-bot");
        var ranges = RobotPhysicsConfigLoader.ParseRandomization($"{{\"{field}\": [3, 1]}}", "test");
        config.Randomization = ranges;
        Assert.Equal(message, RobotPhysicsConfigLoader.Validate(config));
    }

    [Fact]
    public void CartpoleEncodersReadCartTravelAndPoleAngle()
    {
        var config = PhysicsTestConfigs.Load("cartpole-rail");
        var robot = (SimulatedCartpoleRail)SimulatedRobot.Create(config, 1);
        robot.Physics.Reset(0.12, 0.1, 0);
        robot.UpdateSensors();
        // 0.12 m over a 0.0190986 m pulley is 1.0000 rev → 1320 counts (floor); 0.1 rad of 2400 → 38.2 → 38.
        Assert.InRange(robot.EncoderCounts[0], 1319, 1320);
        Assert.Equal(38, robot.EncoderCounts[1]);

        var frame = StartupFrame();
        Drive(frame, 0, 4095, 5, true, 6, false);
        robot.ApplyActuators(frame);
        robot.Physics.Reset(0, 0, 0);
        for (int i = 0; i < 100 && !robot.Fallen; i++) robot.Advance();
        Assert.True(robot.Fallen, "full power runs the cart to the end stop or drops the pole");
        Assert.True(robot.Physics.State[CartpoleRailPhysics.CartPosition] > 0);
    }

    [Fact]
    public void BadPhysicsFilesGetOneClearError()
    {
        var ex = Assert.Throws<RobotPhysicsConfigException>(() => PhysicsTestConfigs.Load("balance-bot", ("body.mass", -1)));
        Assert.Contains("balance-bot.physics.json", ex.Message);
        Assert.Contains("body", ex.Message);
        ex = Assert.Throws<RobotPhysicsConfigException>(() => RobotPhysicsConfigLoader.Parse("{\"robot\": \"balance-bot\", \"bogus\": 1}", "x.json"));
        Assert.StartsWith("x.json: ", ex.Message);
        ex = Assert.Throws<RobotPhysicsConfigException>(() => RobotPhysicsConfigLoader.LoadRobot("hexapod"));
        Assert.Contains("unknown robot 'hexapod'", ex.Message);
    }

    [Fact]
    public void ATickAllocatesNothingAfterWarmUp()
    {
        var robot = SimulatedRobot.Create(PhysicsTestConfigs.Load("balance-bot"), 1);
        var sensor = new SimSensorFrame();
        var truth = new GroundTruthFrame();
        var bytes = new byte[FrameFormat.MaxFrameLength];
        var received = new SimActuatorFrame();
        var frame = StartupFrame();
        Drive(frame, 0, 1000, 5, true, 6, false);
        int actuatorLength = frame.Encode(bytes);
        var actuatorBytes = bytes.AsSpan(0, actuatorLength).ToArray();
        void Tick()
        {
            received.TryDecode(actuatorBytes);
            robot.ApplyActuators(received);
            robot.Advance();
            if (robot.Fallen) robot.Reset();
            robot.FillSensorFrame(sensor);
            sensor.Encode(bytes);
            robot.FillTruth(truth);
            truth.Encode(bytes);
        }
        for (int i = 0; i < 100; i++) Tick();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 2000; i++) Tick();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
