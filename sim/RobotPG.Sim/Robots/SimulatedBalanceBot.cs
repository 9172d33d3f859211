using RobotPG.Messaging;
using RobotPG.Numerics;

namespace RobotPG.Sim.Robots;

/// <summary>
/// The balancing robot: <see cref="BalanceBotPhysics"/> with the MPU-6050 on the body at
/// <see cref="ImuModelConfig.Height"/> above the axle, two H-bridge motors (motors[0] left,
/// motors[1] right) and the wheel encoders measuring each wheel relative to the body.
/// The IMU sees, in body axes forward/left/up, the specific force f = a − g of its mounting point
/// (upright at rest: +1 g up) and the angular rate (pitch rate about left, yaw rate about world up).
/// </summary>
public sealed class SimulatedBalanceBot : SimulatedRobot
{
    private static readonly string[] Names =
        ["pitch", "pitchRate", "position", "velocity", "yaw", "yawRate", "leftWheelAngle", "rightWheelAngle", "leftWheelRate", "rightWheelRate", "leftCurrent", "rightCurrent"];

    private readonly BalanceBotParameters _nominal;
    private readonly double[] _derivative = new double[BalanceBotPhysics.StateLength];
    private readonly double _tiltLimit;
    private double _frozenTime;

    public SimulatedBalanceBot(RobotPhysicsConfig config, ulong seed) : base(config, seed)
    {
        var body = config.Body ?? throw new RobotPhysicsConfigException("body: required for balance-bot");
        var wheels = config.Wheels ?? throw new RobotPhysicsConfigException("wheels: required for balance-bot");
        _nominal = new BalanceBotParameters(config.Gravity, body.Mass, body.PitchInertia, body.YawInertia, body.ComHeight,
            wheels.Radius, wheels.Mass, wheels.Inertia, wheels.Track, wheels.RollingFriction, config.Motor.ToModel());
        _tiltLimit = config.TiltLimitDeg * Math.PI / 180.0;
        Physics = new BalanceBotPhysics(_nominal);
        DrawImuBiases(ref Random);
        ResetPhysics(ref Random);
        UpdateSensors();
    }

    public BalanceBotPhysics Physics { get; }

    public override double SimTime => Physics.Time + _frozenTime;

    public override ReadOnlySpan<string> TruthNames => Names;

    protected override void ReadMotorInputs()
    {
        Physics.LeftBridge = MotorInput(0, out Physics.LeftDuty);
        Physics.RightBridge = MotorInput(1, out Physics.RightDuty);
    }

    protected override void StepPhysics(double dt) => Physics.Step(dt);

    protected override bool CheckFallen() => Math.Abs(Physics.State[BalanceBotPhysics.Pitch]) > _tiltLimit;

    /// <summary>Lying on its bumper at the tilt limit: nothing moves any more.</summary>
    protected override void Freeze()
    {
        var s = Physics.State;
        s[BalanceBotPhysics.Pitch] = Math.CopySign(_tiltLimit, s[BalanceBotPhysics.Pitch]);
        s[BalanceBotPhysics.PitchRate] = 0;
        s[BalanceBotPhysics.WheelRate] = 0;
        s[BalanceBotPhysics.WheelDifferenceRate] = 0;
        Physics.LeftBridge = Physics.RightBridge = BridgeState.Coast;
    }

    protected override void AdvanceFrozenTime(double dt) => _frozenTime += dt;

    protected override void ResetPhysics(ref Prng random)
    {
        var s = Physics.State;
        // Wheels keep their angles (the encoders count on); the body is stood up near upright.
        double wheel = s[BalanceBotPhysics.WheelAngle], difference = s[BalanceBotPhysics.WheelDifference];
        double std = Config.InitialTiltStdDeg * Math.PI / 180.0;
        double pitch = Math.Clamp(std * random.NextGaussian(), -0.5 * _tiltLimit, 0.5 * _tiltLimit);
        Physics.Reset(pitch, 0.0);
        s[BalanceBotPhysics.WheelAngle] = wheel;
        s[BalanceBotPhysics.WheelDifference] = difference;
        _frozenTime = 0;
    }

    protected override void ApplyParameterFactors()
    {
        Physics.Parameters = _nominal with
        {
            BodyMass = _nominal.BodyMass * MassFactor,
            BodyPitchInertia = _nominal.BodyPitchInertia * MassFactor,
            BodyYawInertia = _nominal.BodyYawInertia * MassFactor,
            RollingFriction = _nominal.RollingFriction * FrictionFactor,
            Motor = _nominal.Motor.Scaled(TorqueConstantFactor, ResistanceFactor, FrictionFactor) with { DeadbandDuty = DeadbandDuty ?? _nominal.Motor.DeadbandDuty },
        };
    }

    protected override double ShaftAngle(EncoderShaft shaft)
    {
        double pitch = Physics.State[BalanceBotPhysics.Pitch];
        return shaft switch
        {
            EncoderShaft.LeftWheel => Physics.LeftWheelAngle - pitch,
            EncoderShaft.RightWheel => Physics.RightWheelAngle - pitch,
            _ => 0.0,
        };
    }

    protected override void BodyMotion(out double forceForward, out double forceLeft, out double forceUp, out double rateForward, out double rateLeft, out double rateUp)
    {
        var s = Physics.State;
        var p = Physics.Parameters;
        double theta = s[BalanceBotPhysics.Pitch], thetaDot = s[BalanceBotPhysics.PitchRate];
        double thetaDdot = 0, xDdot = 0;
        if (!Fallen)
        {
            Physics.Derivative(s, _derivative);
            thetaDdot = _derivative[BalanceBotPhysics.PitchRate];
            xDdot = p.WheelRadius * _derivative[BalanceBotPhysics.WheelRate];
        }
        double h = Config.Imu!.Height;
        double sin = Math.Sin(theta), cos = Math.Cos(theta);
        double yawRate = Physics.YawRate;
        // World-frame (forward, lateral, up) acceleration of the IMU point, plus gravity's reaction.
        double aForward = xDdot + h * (cos * thetaDdot - sin * thetaDot * thetaDot);
        double aLeft = Physics.Velocity * yawRate;
        double fUpWorld = -h * (sin * thetaDdot + cos * thetaDot * thetaDot) + p.Gravity;
        forceForward = cos * aForward - sin * fUpWorld;
        forceLeft = aLeft;
        forceUp = sin * aForward + cos * fUpWorld;
        rateForward = -yawRate * sin;
        rateLeft = thetaDot;
        rateUp = yawRate * cos;
    }

    public override void FillTruth(GroundTruthFrame frame)
    {
        var s = Physics.State;
        var p = Physics.Parameters;
        double leftRate = s[BalanceBotPhysics.WheelRate] - s[BalanceBotPhysics.WheelDifferenceRate];
        double rightRate = s[BalanceBotPhysics.WheelRate] + s[BalanceBotPhysics.WheelDifferenceRate];
        frame.Sequence = Tick;
        frame.SimTime = SimTime;
        frame.Fallen = Fallen;
        frame.SetValueCount(Names.Length);
        var v = frame.Values;
        v[0] = s[BalanceBotPhysics.Pitch];
        v[1] = s[BalanceBotPhysics.PitchRate];
        v[2] = Physics.Position;
        v[3] = Physics.Velocity;
        v[4] = Physics.Yaw;
        v[5] = Physics.YawRate;
        v[6] = Physics.LeftWheelAngle;
        v[7] = Physics.RightWheelAngle;
        v[8] = leftRate;
        v[9] = rightRate;
        v[10] = p.Motor.Current(Physics.LeftBridge, Physics.LeftDuty, leftRate - s[BalanceBotPhysics.PitchRate]);
        v[11] = p.Motor.Current(Physics.RightBridge, Physics.RightDuty, rightRate - s[BalanceBotPhysics.PitchRate]);
    }
}
