namespace RobotPG.Sim.Robots;

/// <summary>Physical constants of a cart on a rail with a free pole, SI units.</summary>
public readonly record struct CartpoleRailParameters(
    double Gravity,
    double CartMass,
    double PoleMass,
    double PoleComDistance,
    double PoleInertia,
    double PulleyRadius,
    double CartFriction,
    double PivotFriction,
    double RailHalfLength,
    DcGearMotor Motor);

/// <summary>
/// A cart driven along a rail by one DC gear motor through a belt pulley (x = r_p·angle), with a pole
/// on a free pivot, integrated with RK4. α is the pole angle from upright, positive when its top
/// leans toward +x. The motor's rotor and pulley inertia are folded into the motor's gearbox
/// friction (small for a belt drive). Equations (Lagrange, J = m l² + I):
/// (m_c + m_p) ẍ + m l cosα α̈ − m l sinα α̇² = τ/r_p − b_c ẋ;  m l cosα ẍ + J α̈ − m g l sinα = −b_p α̇.
/// At the rail ends the cart stops dead (an inelastic end stop).
/// </summary>
public sealed class CartpoleRailPhysics
{
    public const int StateLength = 4;
    public const int CartPosition = 0, CartVelocity = 1, PoleAngle = 2, PoleRate = 3;

    private readonly double[] _state = new double[StateLength];
    private readonly double[] _k1 = new double[StateLength], _k2 = new double[StateLength], _k3 = new double[StateLength], _k4 = new double[StateLength];
    private readonly double[] _scratch = new double[StateLength];

    public CartpoleRailPhysics(CartpoleRailParameters parameters) => Parameters = parameters;

    public CartpoleRailParameters Parameters { get; set; }

    /// <summary>[x, ẋ, α, α̇].</summary>
    public Span<double> State => _state;

    public double Time { get; set; }

    public BridgeState Bridge;
    public double Duty;

    /// <summary>True once the cart reached a rail end (latched until reset).</summary>
    public bool HitEndStop { get; private set; }

    /// <summary>Cart acceleration at the start of the last step.</summary>
    public double CartAcceleration { get; private set; }

    public void Reset(double cartPosition, double poleAngle, double poleRate)
    {
        Array.Clear(_state);
        _state[CartPosition] = cartPosition;
        _state[PoleAngle] = poleAngle;
        _state[PoleRate] = poleRate;
        Time = 0;
        HitEndStop = false;
        CartAcceleration = 0;
    }

    public double Energy()
    {
        var p = Parameters;
        double xDot = _state[CartVelocity], alpha = _state[PoleAngle], alphaDot = _state[PoleRate];
        double ml = p.PoleMass * p.PoleComDistance;
        double j = p.PoleMass * p.PoleComDistance * p.PoleComDistance + p.PoleInertia;
        double kinetic = 0.5 * (p.CartMass + p.PoleMass) * xDot * xDot + ml * Math.Cos(alpha) * xDot * alphaDot + 0.5 * j * alphaDot * alphaDot;
        return kinetic + ml * p.Gravity * Math.Cos(alpha);
    }

    public void Step(double dt)
    {
        Derivative(_state, _k1);
        CartAcceleration = _k1[CartVelocity];
        for (int i = 0; i < StateLength; i++) _scratch[i] = _state[i] + 0.5 * dt * _k1[i];
        Derivative(_scratch, _k2);
        for (int i = 0; i < StateLength; i++) _scratch[i] = _state[i] + 0.5 * dt * _k2[i];
        Derivative(_scratch, _k3);
        for (int i = 0; i < StateLength; i++) _scratch[i] = _state[i] + dt * _k3[i];
        Derivative(_scratch, _k4);
        for (int i = 0; i < StateLength; i++) _state[i] += dt / 6.0 * (_k1[i] + 2 * _k2[i] + 2 * _k3[i] + _k4[i]);
        Time += dt;

        double limit = Parameters.RailHalfLength;
        if (Math.Abs(_state[CartPosition]) >= limit)
        {
            _state[CartPosition] = Math.CopySign(limit, _state[CartPosition]);
            _state[CartVelocity] = 0;
            HitEndStop = true;
        }
    }

    public void Derivative(ReadOnlySpan<double> s, Span<double> ds)
    {
        var p = Parameters;
        double xDot = s[CartVelocity], alpha = s[PoleAngle], alphaDot = s[PoleRate];
        double pulleySpeed = xDot / p.PulleyRadius;
        double force = p.Motor.OutputTorque(Bridge, Duty, pulleySpeed) / p.PulleyRadius;
        double ml = p.PoleMass * p.PoleComDistance;
        double j = ml * p.PoleComDistance + p.PoleInertia;
        double sin = Math.Sin(alpha), cos = Math.Cos(alpha);
        double m11 = p.CartMass + p.PoleMass, m12 = ml * cos;
        double q1 = force - p.CartFriction * xDot + ml * sin * alphaDot * alphaDot;
        double q2 = ml * p.Gravity * sin - p.PivotFriction * alphaDot;
        double det = m11 * j - m12 * m12;
        ds[CartPosition] = xDot;
        ds[CartVelocity] = (j * q1 - m12 * q2) / det;
        ds[PoleAngle] = alphaDot;
        ds[PoleRate] = (m11 * q2 - m12 * q1) / det;
    }
}
