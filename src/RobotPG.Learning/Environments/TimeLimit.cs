namespace RobotPG.Learning.Environments;

/// <summary>
/// Truncates episodes after a fixed number of steps, as Gymnasium's TimeLimit wrapper: the step that
/// reaches the limit reports <c>Truncated</c> (and keeps <c>Terminated</c> if the task also ended there).
/// </summary>
public sealed class TimeLimit : IEnvironment
{
    private readonly IEnvironment _inner;
    private int _elapsed;

    public TimeLimit(IEnvironment inner, int maxEpisodeSteps)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxEpisodeSteps);
        _inner = inner;
        MaxEpisodeSteps = maxEpisodeSteps;
    }

    public IEnvironment Inner => _inner;
    public int MaxEpisodeSteps { get; }

    /// <summary>Steps taken since the last reset.</summary>
    public int ElapsedSteps => _elapsed;

    public int ObservationSize => _inner.ObservationSize;
    public int ActionSize => _inner.ActionSize;
    public ReadOnlySpan<float> ActionLow => _inner.ActionLow;
    public ReadOnlySpan<float> ActionHigh => _inner.ActionHigh;
    public int StateSize => _inner.StateSize;

    public void Reset(Span<float> observation, ulong? seed = null)
    {
        _elapsed = 0;
        _inner.Reset(observation, seed);
    }

    public void ResetTo(ReadOnlySpan<double> state, Span<float> observation)
    {
        _elapsed = 0;
        _inner.ResetTo(state, observation);
    }

    public void ReadState(Span<double> state) => _inner.ReadState(state);

    public StepResult Step(ReadOnlySpan<float> action, Span<float> observation)
    {
        StepResult result = _inner.Step(action, observation);
        _elapsed++;
        return _elapsed >= MaxEpisodeSteps ? result with { Truncated = true } : result;
    }
}
