using RobotPG.Learning.Environments;
using RobotPG.Numerics;

namespace RobotPG.Sim.Environments;

/// <summary>
/// A 1-D point mass driven by a force: the linear-quadratic task on which note 002's finite-difference
/// and regression gradients provably converge. State s = [x, v], s' = A s + B u with
/// A = [[1, dt], [0, 1]], B = [0, dt]ᵀ (explicit Euler, dt 0.1); reward −(x² + 0.1 v² + 0.01 u²) on the
/// state before the step; x₀ ~ U(−1, 1), v₀ ~ U(−0.5, 0.5); 50 steps, then truncated (it never
/// terminates). The action is not clipped (bounds ±10 are declared only), so for a linear policy
/// u = k·s + b and fixed start states the return is a smooth function of (k, b), and the optimum is the
/// finite-horizon LQR solution (Riccati recursion) — a closed-form reference for tests.
/// Observation = state as float32. State order: x (m), v (m/s).
/// </summary>
public sealed class PointMass : IEnvironment
{
    public const double Dt = 0.1, PositionCost = 1.0, VelocityCost = 0.1, ForceCost = 0.01;
    public const int MaxEpisodeSteps = 50;

    private static readonly float[] Low = [-10f];
    private static readonly float[] High = [10f];

    private Prng _rng;
    private double _x, _v;
    private int _elapsed;

    public PointMass(ulong seed = 0) => _rng = new Prng(seed);

    public int ObservationSize => 2;
    public int ActionSize => 1;
    public ReadOnlySpan<float> ActionLow => Low;
    public ReadOnlySpan<float> ActionHigh => High;
    public int StateSize => 2;

    public void Reset(Span<float> observation, ulong? seed = null)
    {
        if (seed is ulong s) _rng = new Prng(s);
        _x = _rng.NextUniform(-1.0, 1.0);
        _v = _rng.NextUniform(-0.5, 0.5);
        _elapsed = 0;
        Observe(observation);
    }

    public void ResetTo(ReadOnlySpan<double> state, Span<float> observation)
    {
        EnvironmentState.CheckLength(state, StateSize, "point mass (x, v)");
        _x = state[0];
        _v = state[1];
        _elapsed = 0;
        Observe(observation);
    }

    public void ReadState(Span<double> state)
    {
        state[0] = _x;
        state[1] = _v;
    }

    public StepResult Step(ReadOnlySpan<float> action, Span<float> observation)
    {
        double u = action[0];
        double cost = PositionCost * _x * _x + VelocityCost * _v * _v + ForceCost * u * u;
        _x += Dt * _v;
        _v += Dt * u;
        _elapsed++;
        Observe(observation);
        return new StepResult((float)-cost, false, _elapsed >= MaxEpisodeSteps);
    }

    private void Observe(Span<float> observation)
    {
        observation[0] = (float)_x;
        observation[1] = (float)_v;
    }
}
