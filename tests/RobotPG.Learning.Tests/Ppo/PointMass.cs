using RobotPG.Learning.Environments;
using RobotPG.Numerics;

namespace RobotPG.Learning.Tests.Ppo;

/// <summary>
/// A tiny task for trainer tests: a point on a line, x' = x + 0.1·a (a clipped to ±1), reward −x²,
/// start x ~ U(−1, 1), never terminates (time limit from the wrapper). The best policy drives x to 0.
/// </summary>
internal sealed class PointMass : IEnvironment
{
    private static readonly float[] Low = [-1f], High = [1f];
    private Prng _rng;
    private double _x;

    public PointMass(ulong seed) => _rng = new Prng(seed);

    public int ObservationSize => 1;
    public int ActionSize => 1;
    public ReadOnlySpan<float> ActionLow => Low;
    public ReadOnlySpan<float> ActionHigh => High;
    public int StateSize => 1;

    public void Reset(Span<float> observation, ulong? seed = null)
    {
        if (seed is ulong s) _rng = new Prng(s);
        _x = _rng.NextUniform(-1, 1);
        observation[0] = (float)_x;
    }

    public void ResetTo(ReadOnlySpan<double> state, Span<float> observation)
    {
        _x = state[0];
        observation[0] = (float)_x;
    }

    public void ReadState(Span<double> state) => state[0] = _x;

    public StepResult Step(ReadOnlySpan<float> action, Span<float> observation)
    {
        _x += 0.1 * Math.Clamp(action[0], -1f, 1f);
        observation[0] = (float)_x;
        return new StepResult((float)(-_x * _x), false, false);
    }

    public static IEnvironment Create(ulong seed) => new ClipAction(new TimeLimit(new PointMass(seed), 50));
}
