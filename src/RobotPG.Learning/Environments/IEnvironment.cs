namespace RobotPG.Learning.Environments;

/// <summary>Outcome of one environment step (Gymnasium's reward, terminated, truncated).</summary>
/// <param name="Reward">Reward of the transition.</param>
/// <param name="Terminated">The task reached a terminal state (failure or goal): no value beyond it.</param>
/// <param name="Truncated">The episode was cut (time limit): the next state still has a value.</param>
public readonly record struct StepResult(float Reward, bool Terminated, bool Truncated)
{
    /// <summary>The episode is over for either reason; the caller resets.</summary>
    public bool Done => Terminated || Truncated;
}

/// <summary>
/// A task with Gymnasium semantics over spans: <see cref="Reset"/> writes the first observation,
/// <see cref="Step"/> writes the next one. Implementations allocate nothing per step.
/// The physical state (the task's own variables, in its own order) can be read and set for replaying
/// action sequences from a chosen state.
/// </summary>
public interface IEnvironment
{
    int ObservationSize { get; }

    int ActionSize { get; }

    /// <summary>Lower bound of the action box, length <see cref="ActionSize"/>.</summary>
    ReadOnlySpan<float> ActionLow { get; }

    /// <summary>Upper bound of the action box, length <see cref="ActionSize"/>.</summary>
    ReadOnlySpan<float> ActionHigh { get; }

    /// <summary>Number of physical state variables (<see cref="ReadState"/>, <see cref="ResetTo"/>).</summary>
    int StateSize { get; }

    /// <summary>Starts an episode. A seed re-seeds the environment's generator, as Gymnasium's <c>reset(seed=)</c>.</summary>
    void Reset(Span<float> observation, ulong? seed = null);

    /// <summary>Starts an episode from the given physical state instead of the random initial distribution.</summary>
    void ResetTo(ReadOnlySpan<double> state, Span<float> observation);

    /// <summary>Advances one step with <paramref name="action"/> and writes the next observation.</summary>
    StepResult Step(ReadOnlySpan<float> action, Span<float> observation);

    /// <summary>Copies the current physical state.</summary>
    void ReadState(Span<double> state);
}
