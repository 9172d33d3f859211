using RobotPG.Learning.Environments;
using RobotPG.Numerics;

namespace RobotPG.Sim.Environments;

/// <summary>
/// Gymnasium MountainCarContinuous-v0: power 0.0015, gravity term 0.0025·cos 3x, speed ±0.07,
/// position [−1.2, 0.6] with an inelastic left wall, goal x ≥ 0.45 with v ≥ 0 (terminates, +100),
/// reward −0.1·a² per step on the action as passed, initial x ~ U(−0.6, −0.4), v = 0.
/// As the reference, the state is stored in float32 after each step (arithmetic in double).
/// State order: position, velocity. Wrap in a 999-step <see cref="TimeLimit"/>.
/// </summary>
public sealed class MountainCarContinuous : IEnvironment
{
    public const double MinPosition = -1.2, MaxPosition = 0.6, MaxSpeed = 0.07, GoalPosition = 0.45, GoalVelocity = 0.0, Power = 0.0015;
    public const int MaxEpisodeSteps = 999;

    private static readonly float[] Low = [-1f];
    private static readonly float[] High = [1f];

    private Prng _rng;
    private double _position, _velocity;

    public MountainCarContinuous(ulong seed = 0) => _rng = new Prng(seed);

    public int ObservationSize => 2;
    public int ActionSize => 1;
    public ReadOnlySpan<float> ActionLow => Low;
    public ReadOnlySpan<float> ActionHigh => High;
    public int StateSize => 2;

    public void Reset(Span<float> observation, ulong? seed = null)
    {
        if (seed is ulong s) _rng = new Prng(s);
        _position = _rng.NextUniform(-0.6, -0.4);
        _velocity = 0;
        Observe(observation);
    }

    public void ResetTo(ReadOnlySpan<double> state, Span<float> observation)
    {
        EnvironmentState.CheckLength(state, StateSize, "mountaincar (position, velocity)");
        _position = state[0];
        _velocity = state[1];
        Observe(observation);
    }

    public void ReadState(Span<double> state)
    {
        state[0] = _position;
        state[1] = _velocity;
    }

    public StepResult Step(ReadOnlySpan<float> action, Span<float> observation)
    {
        double a = action[0];
        double force = Math.Min(Math.Max(a, -1.0), 1.0);
        double position = _position, velocity = _velocity;

        velocity += force * Power - 0.0025 * Math.Cos(3 * position);
        if (velocity > MaxSpeed) velocity = MaxSpeed;
        if (velocity < -MaxSpeed) velocity = -MaxSpeed;
        position += velocity;
        if (position > MaxPosition) position = MaxPosition;
        if (position < MinPosition) position = MinPosition;
        if (position == MinPosition && velocity < 0) velocity = 0;

        bool terminated = position >= GoalPosition && velocity >= GoalVelocity;
        double reward = terminated ? 100.0 : 0.0;
        reward -= a * a * 0.1;

        _position = (float)position;
        _velocity = (float)velocity;
        Observe(observation);
        return new StepResult((float)reward, terminated, false);
    }

    private void Observe(Span<float> observation)
    {
        observation[0] = (float)_position;
        observation[1] = (float)_velocity;
    }
}
