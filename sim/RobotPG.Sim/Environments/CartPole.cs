using RobotPG.Learning.Environments;
using RobotPG.Numerics;

namespace RobotPG.Sim.Environments;

/// <summary>
/// Gymnasium CartPole-v1 dynamics (explicit Euler, τ 0.02, g 9.8, cart 1 kg, pole 0.1 kg, half-length
/// 0.5 m), terminating when |x| &gt; 2.4 or |θ| &gt; 12° (12·2π/360 rad), +1 reward per step including
/// the terminating one, initial state ~ U(−0.05, 0.05)⁴, with one change: the force is continuous,
/// clip(a, −1, 1) · 10 N instead of ±10 N. State order: x, ẋ, θ, θ̇. Wrap in a 500-step <see cref="TimeLimit"/>.
/// </summary>
public sealed class CartPole : IEnvironment
{
    public const double Gravity = 9.8, MassCart = 1.0, MassPole = 0.1, TotalMass = MassCart + MassPole;
    public const double HalfLength = 0.5, PoleMassLength = MassPole * HalfLength, ForceMag = 10.0, Tau = 0.02;
    public const double ThetaThreshold = 12 * 2 * Math.PI / 360, XThreshold = 2.4;
    public const int MaxEpisodeSteps = 500;

    private static readonly float[] Low = [-1f];
    private static readonly float[] High = [1f];

    private Prng _rng;
    private double _x, _xDot, _theta, _thetaDot;
    private bool _terminated;

    public CartPole(ulong seed = 0) => _rng = new Prng(seed);

    public int ObservationSize => 4;
    public int ActionSize => 1;
    public ReadOnlySpan<float> ActionLow => Low;
    public ReadOnlySpan<float> ActionHigh => High;
    public int StateSize => 4;

    public void Reset(Span<float> observation, ulong? seed = null)
    {
        if (seed is ulong s) _rng = new Prng(s);
        _x = _rng.NextUniform(-0.05, 0.05);
        _xDot = _rng.NextUniform(-0.05, 0.05);
        _theta = _rng.NextUniform(-0.05, 0.05);
        _thetaDot = _rng.NextUniform(-0.05, 0.05);
        _terminated = false;
        Observe(observation);
    }

    public void ResetTo(ReadOnlySpan<double> state, Span<float> observation)
    {
        EnvironmentState.CheckLength(state, StateSize, "cartpole (x, x_dot, theta, theta_dot)");
        _x = state[0];
        _xDot = state[1];
        _theta = state[2];
        _thetaDot = state[3];
        _terminated = false;
        Observe(observation);
    }

    public void ReadState(Span<double> state)
    {
        state[0] = _x;
        state[1] = _xDot;
        state[2] = _theta;
        state[3] = _thetaDot;
    }

    public StepResult Step(ReadOnlySpan<float> action, Span<float> observation)
    {
        double force = Math.Clamp(action[0], -1f, 1f) * ForceMag;
        double cos = Math.Cos(_theta), sin = Math.Sin(_theta);
        double temp = (force + PoleMassLength * _thetaDot * _thetaDot * sin) / TotalMass;
        double thetaAcc = (Gravity * sin - cos * temp) / (HalfLength * (4.0 / 3.0 - MassPole * cos * cos / TotalMass));
        double xAcc = temp - PoleMassLength * thetaAcc * cos / TotalMass;

        _x += Tau * _xDot;
        _xDot += Tau * xAcc;
        _theta += Tau * _thetaDot;
        _thetaDot += Tau * thetaAcc;

        bool terminated = _x < -XThreshold || _x > XThreshold || _theta < -ThetaThreshold || _theta > ThetaThreshold;
        // Gymnasium pays +1 on the step that fails and 0 for steps taken after it.
        float reward = _terminated ? 0f : 1f;
        _terminated |= terminated;
        Observe(observation);
        return new StepResult(reward, terminated, false);
    }

    private void Observe(Span<float> observation)
    {
        observation[0] = (float)_x;
        observation[1] = (float)_xDot;
        observation[2] = (float)_theta;
        observation[3] = (float)_thetaDot;
    }
}
