using RobotPG.Messaging;
using RobotPG.Numerics;

namespace RobotPG.Sim.Robots;

/// <summary>
/// The cart-pole on a rail: <see cref="CartpoleRailPhysics"/>, one H-bridge motor on the belt pulley,
/// an encoder on the pulley ("cart") and one on the pole's pivot ("pole"). No IMU. Encoders read
/// absolute angles (zeroed with the cart centred and the pole upright, as at power-on).
/// </summary>
public sealed class SimulatedCartpoleRail : SimulatedRobot
{
    private static readonly string[] Names = ["cartPosition", "cartVelocity", "poleAngle", "poleRate", "motorCurrent"];

    private readonly CartpoleRailParameters _nominal;
    private readonly double _tiltLimit;
    private double _frozenTime;

    public SimulatedCartpoleRail(RobotPhysicsConfig config, ulong seed) : base(config, seed)
    {
        var cart = config.Cart ?? throw new RobotPhysicsConfigException("cart: required for cartpole-rail");
        var pole = config.Pole ?? throw new RobotPhysicsConfigException("pole: required for cartpole-rail");
        _nominal = new CartpoleRailParameters(config.Gravity, cart.Mass, pole.Mass, pole.ComDistance, pole.Inertia,
            cart.PulleyRadius, cart.Friction, pole.PivotFriction, cart.RailHalfLength, config.Motor.ToModel());
        _tiltLimit = config.TiltLimitDeg * Math.PI / 180.0;
        Physics = new CartpoleRailPhysics(_nominal);
        ResetPhysics(ref Random);
        UpdateSensors();
    }

    public CartpoleRailPhysics Physics { get; }

    public override double SimTime => Physics.Time + _frozenTime;

    public override ReadOnlySpan<string> TruthNames => Names;

    protected override void ReadMotorInputs() => Physics.Bridge = MotorInput(0, out Physics.Duty);

    protected override void StepPhysics(double dt) => Physics.Step(dt);

    protected override bool CheckFallen() =>
        Physics.HitEndStop || Math.Abs(Physics.State[CartpoleRailPhysics.PoleAngle]) > _tiltLimit;

    protected override void Freeze()
    {
        var s = Physics.State;
        s[CartpoleRailPhysics.CartVelocity] = 0;
        s[CartpoleRailPhysics.PoleRate] = 0;
        Physics.Bridge = BridgeState.Coast;
    }

    protected override void AdvanceFrozenTime(double dt) => _frozenTime += dt;

    protected override void ResetPhysics(ref Prng random)
    {
        double std = Config.InitialTiltStdDeg * Math.PI / 180.0;
        double angle = Math.Clamp(std * random.NextGaussian(), -0.5 * _tiltLimit, 0.5 * _tiltLimit);
        Physics.Reset(0.0, angle, 0.0);
        _frozenTime = 0;
    }

    protected override void ApplyParameterFactors()
    {
        Physics.Parameters = _nominal with
        {
            CartMass = _nominal.CartMass * MassFactor,
            PoleMass = _nominal.PoleMass * MassFactor,
            PoleInertia = _nominal.PoleInertia * MassFactor,
            CartFriction = _nominal.CartFriction * FrictionFactor,
            PivotFriction = _nominal.PivotFriction * FrictionFactor,
            Motor = _nominal.Motor.Scaled(TorqueConstantFactor, ResistanceFactor, FrictionFactor) with { DeadbandDuty = DeadbandDuty ?? _nominal.Motor.DeadbandDuty },
        };
    }

    protected override double ShaftAngle(EncoderShaft shaft) => shaft switch
    {
        EncoderShaft.Cart => Physics.State[CartpoleRailPhysics.CartPosition] / Physics.Parameters.PulleyRadius,
        EncoderShaft.Pole => Physics.State[CartpoleRailPhysics.PoleAngle],
        _ => 0.0,
    };

    protected override void BodyMotion(out double forceForward, out double forceLeft, out double forceUp, out double rateForward, out double rateLeft, out double rateUp)
    {
        // No IMU on this robot; kept at rest for completeness.
        forceForward = forceLeft = rateForward = rateLeft = rateUp = 0;
        forceUp = Physics.Parameters.Gravity;
    }

    public override void FillTruth(GroundTruthFrame frame)
    {
        var s = Physics.State;
        var p = Physics.Parameters;
        frame.Sequence = Tick;
        frame.SimTime = SimTime;
        frame.Fallen = Fallen;
        frame.SetValueCount(Names.Length);
        var v = frame.Values;
        v[0] = s[CartpoleRailPhysics.CartPosition];
        v[1] = s[CartpoleRailPhysics.CartVelocity];
        v[2] = s[CartpoleRailPhysics.PoleAngle];
        v[3] = s[CartpoleRailPhysics.PoleRate];
        v[4] = p.Motor.Current(Physics.Bridge, Physics.Duty, s[CartpoleRailPhysics.CartVelocity] / p.PulleyRadius);
    }
}
