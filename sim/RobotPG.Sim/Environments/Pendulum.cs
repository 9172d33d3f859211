using RobotPG.Learning.Environments;
using RobotPG.Numerics;

namespace RobotPG.Sim.Environments;

/// <summary>
/// Gymnasium Pendulum-v1, step for step: g 10, m 1, l 1, dt 0.05, torque ±2, speed ±8, semi-implicit
/// Euler, cost θ² + 0.1θ̇² + 0.001u² on the angle normalised to [−π, π), initial θ ~ U(−π, π),
/// θ̇ ~ U(−1, 1). Arithmetic in double as numpy float64; observations [cos θ, sin θ, θ̇] as float32.
/// State order: θ (rad, 0 = upright), θ̇ (rad/s). It never terminates; wrap it in a 200-step
/// <see cref="TimeLimit"/> (the catalog does).
/// </summary>
public sealed class Pendulum : IEnvironment
{
    public const double Gravity = 10.0, Mass = 1.0, Length = 1.0, Dt = 0.05, MaxSpeed = 8.0, MaxTorque = 2.0;
    public const int MaxEpisodeSteps = 200;

    private static readonly float[] Low = [-(float)MaxTorque];
    private static readonly float[] High = [(float)MaxTorque];

    private Prng _rng;
    private double _theta, _thetaDot;

    public Pendulum(ulong seed = 0) => _rng = new Prng(seed);

    public int ObservationSize => 3;
    public int ActionSize => 1;
    public ReadOnlySpan<float> ActionLow => Low;
    public ReadOnlySpan<float> ActionHigh => High;
    public int StateSize => 2;

    public void Reset(Span<float> observation, ulong? seed = null)
    {
        if (seed is ulong s) _rng = new Prng(s);
        _theta = _rng.NextUniform(-Math.PI, Math.PI);
        _thetaDot = _rng.NextUniform(-1.0, 1.0);
        Observe(observation);
    }

    public void ResetTo(ReadOnlySpan<double> state, Span<float> observation)
    {
        EnvironmentState.CheckLength(state, StateSize, "pendulum (theta, theta_dot)");
        _theta = state[0];
        _thetaDot = state[1];
        Observe(observation);
    }

    public void ReadState(Span<double> state)
    {
        state[0] = _theta;
        state[1] = _thetaDot;
    }

    public StepResult Step(ReadOnlySpan<float> action, Span<float> observation)
    {
        double u = Math.Clamp(action[0], -(float)MaxTorque, (float)MaxTorque);
        double normalised = AngleNormalize(_theta);
        double cost = normalised * normalised + 0.1 * _thetaDot * _thetaDot + 0.001 * (u * u);

        double newThetaDot = _thetaDot + (3 * Gravity / (2 * Length) * Math.Sin(_theta) + 3.0 / (Mass * Length * Length) * u) * Dt;
        newThetaDot = Math.Clamp(newThetaDot, -MaxSpeed, MaxSpeed);
        _theta += newThetaDot * Dt;
        _thetaDot = newThetaDot;
        Observe(observation);
        return new StepResult((float)-cost, false, false);
    }

    /// <summary>Python's <c>((x + π) % 2π) − π</c>: the modulo takes the divisor's sign.</summary>
    public static double AngleNormalize(double x)
    {
        double r = (x + Math.PI) % (2 * Math.PI);
        if (r < 0) r += 2 * Math.PI;
        return r - Math.PI;
    }

    private void Observe(Span<float> observation)
    {
        observation[0] = (float)Math.Cos(_theta);
        observation[1] = (float)Math.Sin(_theta);
        observation[2] = (float)_thetaDot;
    }
}
