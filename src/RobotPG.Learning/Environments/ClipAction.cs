namespace RobotPG.Learning.Environments;

/// <summary>
/// Clips every action into the environment's action box before the step, as Gymnasium's ClipAction
/// wrapper: the policy's unclipped sample is what the rollout stores (its log-prob stays exact),
/// only the environment sees the clipped one.
/// </summary>
public sealed class ClipAction : IEnvironment
{
    private readonly IEnvironment _inner;
    private readonly float[] _clipped;

    public ClipAction(IEnvironment inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        _inner = inner;
        _clipped = new float[inner.ActionSize];
    }

    public IEnvironment Inner => _inner;
    public int ObservationSize => _inner.ObservationSize;
    public int ActionSize => _inner.ActionSize;
    public ReadOnlySpan<float> ActionLow => _inner.ActionLow;
    public ReadOnlySpan<float> ActionHigh => _inner.ActionHigh;
    public int StateSize => _inner.StateSize;

    public void Reset(Span<float> observation, ulong? seed = null) => _inner.Reset(observation, seed);

    public void ResetTo(ReadOnlySpan<double> state, Span<float> observation) => _inner.ResetTo(state, observation);

    public void ReadState(Span<double> state) => _inner.ReadState(state);

    public StepResult Step(ReadOnlySpan<float> action, Span<float> observation)
    {
        if (action.Length != _clipped.Length)
            throw new ArgumentException($"action has {action.Length} values, the environment takes {_clipped.Length}", nameof(action));
        ReadOnlySpan<float> low = _inner.ActionLow, high = _inner.ActionHigh;
        for (int i = 0; i < _clipped.Length; i++)
            _clipped[i] = Math.Clamp(action[i], low[i], high[i]);
        return _inner.Step(_clipped, observation);
    }
}
