namespace RobotPG.Controller.Learning;

/// <summary>Why the learner threw an update away.</summary>
public enum RollbackCause
{
    /// <summary>NaN or ∞ in the parameters after the update (or the update threw).</summary>
    NonFinite,

    /// <summary>Mean KL(old ‖ new) over the batch above <see cref="LearningOptions.MaxKl"/>.</summary>
    KlBound,

    /// <summary>The new policy's evaluation return fell beyond <see cref="LearningOptions.ReturnDropMargin"/>.</summary>
    ReturnDrop,

    /// <summary>An operator asked for the best policy so far; the value is its evaluation return.</summary>
    ToBest,

    /// <summary>The algorithm's update threw (any exception): the half-updated agent is restored.</summary>
    Exception,
}

/// <summary>One update as telemetry sees it (learning curves).</summary>
/// <param name="Update">Updates attempted so far, this one included (resumed runs continue the count).</param>
/// <param name="Steps">Transitions the learner consumed since the first run began.</param>
/// <param name="Episodes">Episodes finished since the first run began.</param>
/// <param name="MeanReturn">Mean return of the last 10 episodes (NaN before the first).</param>
/// <param name="MeanEpisodeLength">Mean length of the last 10 episodes, steps.</param>
/// <param name="DurationMs">Wall time of the algorithm's update, ms.</param>
/// <param name="MeanKl">Exact mean KL(old ‖ new) over the batch (the guard's figure).</param>
/// <param name="Accepted">False when a guard rolled the update back.</param>
/// <param name="LoopStep">Control step of the newest transition the learner had taken (the batch's last).</param>
/// <param name="LoopTimeNs">Its loop time, ns: the trajectory log's clock.</param>
public readonly record struct LearnerUpdate(
    long Update, long Steps, long Episodes, double MeanReturn, double MeanEpisodeLength,
    float PolicyLoss, float ValueLoss, float Entropy, float ApproxKl, float ClipFraction, float ExplainedVariance,
    double DurationMs, double MeanKl, bool Accepted, long LoopStep = 0, long LoopTimeNs = 0);

/// <summary>A rolled-back update: which guard and the figures it judged.</summary>
/// <param name="Value">The offending figure: mean KL, or the new mean return; NaN for non-finite parameters.</param>
/// <param name="Bound">The bound it crossed: the KL bound, or the lowest acceptable return.</param>
/// <param name="LoopStep">Control step of the newest transition the learner had taken.</param>
/// <param name="LoopTimeNs">Its loop time, ns: the trajectory log's clock.</param>
public readonly record struct LearnerRollback(long Update, long Steps, RollbackCause Cause, double Value, double Bound, long LoopStep = 0, long LoopTimeNs = 0);

/// <summary>
/// Receives the learner's events on the learner thread. Implementations must be quick and should not
/// allocate (the learner allocates nothing per update); <see cref="LearningEventQueue"/> hands them to another thread.
/// </summary>
public interface ILearningObserver
{
    void OnUpdate(in LearnerUpdate update);

    void OnRollback(in LearnerRollback rollback);

    void OnEpisode(long episode, double episodeReturn, int length);

    /// <summary>Rare conditions worth a line (checkpoint fallback, a failed save).</summary>
    void OnWarning(string message);
}

/// <summary>
/// Hands every learner event to a first observer (the telemetry queue) and, once set, to a second (the
/// trajectory log's update records, which exist only after the learner: the log header needs its policy).
/// </summary>
public sealed class LearningObserverTee(ILearningObserver first) : ILearningObserver
{
    private ILearningObserver? _second;

    public ILearningObserver? Second
    {
        get => Volatile.Read(ref _second);
        set => Volatile.Write(ref _second, value);
    }

    public void OnUpdate(in LearnerUpdate update)
    {
        first.OnUpdate(update);
        Second?.OnUpdate(update);
    }

    public void OnRollback(in LearnerRollback rollback)
    {
        first.OnRollback(rollback);
        Second?.OnRollback(rollback);
    }

    public void OnEpisode(long episode, double episodeReturn, int length)
    {
        first.OnEpisode(episode, episodeReturn, length);
        Second?.OnEpisode(episode, episodeReturn, length);
    }

    public void OnWarning(string message)
    {
        first.OnWarning(message);
        Second?.OnWarning(message);
    }
}
