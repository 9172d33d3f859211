namespace RobotPG.Sim.Robots;

/// <summary>Physical constants of a two-wheeled balancing robot, SI units.</summary>
public readonly record struct BalanceBotParameters(
    double Gravity,
    double BodyMass,
    double BodyPitchInertia,
    double BodyYawInertia,
    double ComHeight,
    double WheelRadius,
    double WheelMass,
    double WheelInertia,
    double TrackWidth,
    double RollingFriction,
    DcGearMotor Motor);

/// <summary>
/// Two-wheeled inverted pendulum (planar pitch + wheel rolling, with yaw from the wheel difference),
/// integrated with classical RK4. Wheels roll without slipping; the motors act between body and
/// wheels. Coordinates (all SI, right-handed body frame forward/left/up):
/// <list type="bullet">
/// <item>θ pitch: rotation of the body about the axle (the left axis), positive when the top leans forward;</item>
/// <item>φ = (φL + φR)/2 mean wheel rotation (absolute, positive rolling forward): the axle is at x = rφ;</item>
/// <item>σ = (φR − φL)/2 half the wheel difference: yaw ψ = 2rσ/W, positive turning left (counter-clockwise from above).</item>
/// </list>
/// Equations (Lagrange, a = M + 2m_w + 2I_w/r², J = Ml² + I_b, Q = generalised forces):
/// a r² φ̈ + Ml r cosθ θ̈ − Ml r sinθ θ̇² = τL + τR − 2bφ̇;  Ml r cosθ φ̈ + J θ̈ − M g l sinθ = −(τL + τR);
/// J_σ σ̈ = τR − τL − 2bσ̇ with J_σ = 2I_w + 2m_w r² + I_z(2r/W)² (pitch–yaw coupling neglected).
/// The model has no floor: the owner decides what a fall means (<see cref="SimulatedBalanceBot"/>).
/// </summary>
public sealed class BalanceBotPhysics
{
    public const int StateLength = 6;
    public const int Pitch = 0, PitchRate = 1, WheelAngle = 2, WheelRate = 3, WheelDifference = 4, WheelDifferenceRate = 5;

    private readonly double[] _state = new double[StateLength];
    private readonly double[] _k1 = new double[StateLength], _k2 = new double[StateLength], _k3 = new double[StateLength], _k4 = new double[StateLength];
    private readonly double[] _scratch = new double[StateLength];

    public BalanceBotPhysics(BalanceBotParameters parameters) => Parameters = parameters;

    public BalanceBotParameters Parameters { get; set; }

    /// <summary>[θ, θ̇, φ, φ̇, σ, σ̇].</summary>
    public Span<double> State => _state;

    public double Time { get; set; }

    /// <summary>Bridge state and duty of the left and right motors, held over a step.</summary>
    public BridgeState LeftBridge, RightBridge;
    public double LeftDuty, RightDuty;

    public double LeftWheelAngle => _state[WheelAngle] - _state[WheelDifference];
    public double RightWheelAngle => _state[WheelAngle] + _state[WheelDifference];
    public double Position => Parameters.WheelRadius * _state[WheelAngle];
    public double Velocity => Parameters.WheelRadius * _state[WheelRate];
    public double Yaw => 2 * Parameters.WheelRadius * _state[WheelDifference] / Parameters.TrackWidth;
    public double YawRate => 2 * Parameters.WheelRadius * _state[WheelDifferenceRate] / Parameters.TrackWidth;

    /// <summary>Accelerations of the last derivative evaluation at the start of a step: θ̈, φ̈ (for the IMU).</summary>
    public double PitchAcceleration { get; private set; }
    public double WheelAcceleration { get; private set; }

    public void Reset(double pitch, double pitchRate)
    {
        Array.Clear(_state);
        _state[Pitch] = pitch;
        _state[PitchRate] = pitchRate;
        Time = 0;
        PitchAcceleration = 0;
        WheelAcceleration = 0;
    }

    /// <summary>Mass-matrix constants a r², M l r, J and the yaw inertia J_σ.</summary>
    public (double ar2, double mlr, double j, double jSigma) Inertias()
    {
        var p = Parameters;
        double a = p.BodyMass + 2 * p.WheelMass + 2 * p.WheelInertia / (p.WheelRadius * p.WheelRadius);
        double r = p.WheelRadius;
        double jSigma = 2 * p.WheelInertia + 2 * p.WheelMass * r * r + p.BodyYawInertia * (2 * r / p.TrackWidth) * (2 * r / p.TrackWidth);
        return (a * r * r, p.BodyMass * p.ComHeight * r, p.BodyMass * p.ComHeight * p.ComHeight + p.BodyPitchInertia, jSigma);
    }

    /// <summary>Kinetic + potential energy (potential zero at the axle height), J.</summary>
    public double Energy()
    {
        var (ar2, mlr, j, jSigma) = Inertias();
        double theta = _state[Pitch], thetaDot = _state[PitchRate], phiDot = _state[WheelRate], sigmaDot = _state[WheelDifferenceRate];
        double kinetic = 0.5 * ar2 * phiDot * phiDot + mlr * Math.Cos(theta) * phiDot * thetaDot + 0.5 * j * thetaDot * thetaDot + 0.5 * jSigma * sigmaDot * sigmaDot;
        return kinetic + Parameters.BodyMass * Parameters.Gravity * Parameters.ComHeight * Math.Cos(theta);
    }

    /// <summary>One RK4 step of <paramref name="dt"/> seconds with the bridge inputs held.</summary>
    public void Step(double dt)
    {
        Derivative(_state, _k1);
        PitchAcceleration = _k1[PitchRate];
        WheelAcceleration = _k1[WheelRate];
        for (int i = 0; i < StateLength; i++) _scratch[i] = _state[i] + 0.5 * dt * _k1[i];
        Derivative(_scratch, _k2);
        for (int i = 0; i < StateLength; i++) _scratch[i] = _state[i] + 0.5 * dt * _k2[i];
        Derivative(_scratch, _k3);
        for (int i = 0; i < StateLength; i++) _scratch[i] = _state[i] + dt * _k3[i];
        Derivative(_scratch, _k4);
        for (int i = 0; i < StateLength; i++) _state[i] += dt / 6.0 * (_k1[i] + 2 * _k2[i] + 2 * _k3[i] + _k4[i]);
        Time += dt;
    }

    /// <summary>d/dt of the state under the held motor inputs.</summary>
    public void Derivative(ReadOnlySpan<double> s, Span<double> ds)
    {
        var p = Parameters;
        var (ar2, mlr, j, jSigma) = Inertias();
        double theta = s[Pitch], thetaDot = s[PitchRate], phiDot = s[WheelRate], sigmaDot = s[WheelDifferenceRate];
        double leftRelative = phiDot - sigmaDot - thetaDot;
        double rightRelative = phiDot + sigmaDot - thetaDot;
        double tauLeft = p.Motor.OutputTorque(LeftBridge, LeftDuty, leftRelative);
        double tauRight = p.Motor.OutputTorque(RightBridge, RightDuty, rightRelative);

        double sin = Math.Sin(theta), cos = Math.Cos(theta);
        double qPhi = tauLeft + tauRight - 2 * p.RollingFriction * phiDot + mlr * sin * thetaDot * thetaDot;
        double qTheta = -(tauLeft + tauRight) + p.BodyMass * p.Gravity * p.ComHeight * sin;
        double m12 = mlr * cos;
        double det = ar2 * j - m12 * m12;
        double phiDdot = (j * qPhi - m12 * qTheta) / det;
        double thetaDdot = (ar2 * qTheta - m12 * qPhi) / det;
        double sigmaDdot = (tauRight - tauLeft - 2 * p.RollingFriction * sigmaDot) / jSigma;

        ds[Pitch] = thetaDot;
        ds[PitchRate] = thetaDdot;
        ds[WheelAngle] = phiDot;
        ds[WheelRate] = phiDdot;
        ds[WheelDifference] = sigmaDot;
        ds[WheelDifferenceRate] = sigmaDdot;
    }
}
