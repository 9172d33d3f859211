namespace RobotPG.Learning.Rollouts;

/// <summary>
/// Fixed-capacity storage of one rollout: <see cref="StepsPerEnvironment"/> steps of each of
/// <see cref="EnvironmentCount"/> environments, step-major (index = step · envs + env) as CleanRL's
/// tensors. Per transition: observation, the policy's unclipped action, its log-prob, the value
/// estimate, the reward, terminated, truncated, and for truncated steps the value of the final
/// observation (a time limit is not a terminal state, so the value beyond it is bootstrapped).
/// Everything is allocated in the constructor.
/// </summary>
public sealed class RolloutBuffer
{
    private readonly float[] _observations, _actions, _logProbs, _values, _rewards, _bootstrapValues, _lastValues, _advantages, _returns;
    private readonly bool[] _terminated, _truncated;

    public RolloutBuffer(int stepsPerEnvironment, int environmentCount, int observationSize, int actionSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(stepsPerEnvironment);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(environmentCount);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(observationSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(actionSize);
        StepsPerEnvironment = stepsPerEnvironment;
        EnvironmentCount = environmentCount;
        ObservationSize = observationSize;
        ActionSize = actionSize;
        int n = Capacity;
        _observations = new float[n * observationSize];
        _actions = new float[n * actionSize];
        _logProbs = new float[n];
        _values = new float[n];
        _rewards = new float[n];
        _bootstrapValues = new float[n];
        _terminated = new bool[n];
        _truncated = new bool[n];
        _lastValues = new float[environmentCount];
        _advantages = new float[n];
        _returns = new float[n];
    }

    public int StepsPerEnvironment { get; }
    public int EnvironmentCount { get; }
    public int ObservationSize { get; }
    public int ActionSize { get; }

    /// <summary>Transitions in a full rollout (steps × environments).</summary>
    public int Capacity => StepsPerEnvironment * EnvironmentCount;

    /// <summary>Flat index of (step, environment).</summary>
    public int IndexOf(int step, int environment)
    {
        if ((uint)step >= (uint)StepsPerEnvironment) throw new ArgumentOutOfRangeException(nameof(step), step, "outside the rollout");
        if ((uint)environment >= (uint)EnvironmentCount) throw new ArgumentOutOfRangeException(nameof(environment), environment, "outside the rollout");
        return step * EnvironmentCount + environment;
    }

    /// <summary>The observation slot of transition <paramref name="index"/> (write it before acting).</summary>
    public Span<float> Observation(int index) => _observations.AsSpan(index * ObservationSize, ObservationSize);

    /// <summary>The action slot of transition <paramref name="index"/>: the policy's sample, before any clipping.</summary>
    public Span<float> Action(int index) => _actions.AsSpan(index * ActionSize, ActionSize);

    /// <summary>Records everything but the observation and action of transition <paramref name="index"/>.</summary>
    /// <param name="bootstrapValue">V(final observation) when <paramref name="truncated"/>; ignored otherwise.</param>
    public void Record(int index, float logProb, float value, float reward, bool terminated, bool truncated, float bootstrapValue = 0f)
    {
        _logProbs[index] = logProb;
        _values[index] = value;
        _rewards[index] = reward;
        _terminated[index] = terminated;
        _truncated[index] = truncated;
        _bootstrapValues[index] = truncated && !terminated ? bootstrapValue : 0f;
    }

    public Span<float> Observations => _observations;
    public Span<float> Actions => _actions;
    public Span<float> LogProbs => _logProbs;
    public Span<float> Values => _values;
    public Span<float> Rewards => _rewards;
    public Span<bool> Terminated => _terminated;
    public Span<bool> Truncated => _truncated;

    /// <summary>V(final observation) of truncated transitions, 0 elsewhere.</summary>
    public Span<float> BootstrapValues => _bootstrapValues;

    /// <summary>V of each environment's observation after the rollout's last step (bootstraps the unfinished episodes).</summary>
    public Span<float> LastValues => _lastValues;

    /// <summary>Written by the advantage estimator.</summary>
    public Span<float> Advantages => _advantages;

    /// <summary>Value targets: advantages + values (written by the advantage estimator).</summary>
    public Span<float> Returns => _returns;
}
