using RobotPG.Learning.Rollouts;

namespace RobotPG.Learning.Checkpoints;

/// <summary>
/// The batch a learner was collecting when its checkpoint was written, so a restart loses no robot time: the first
/// <see cref="Count"/> transitions of <see cref="Rollout"/> as the learner recorded them (normalised observations,
/// actions, behaviour log-probs, values, scaled rewards, episode ends, truncation bootstraps), the same steps of the
/// <see cref="Replay"/>'s batch in progress (raw observations and raw observations after cut steps) when there is a
/// replay, and when <see cref="Open"/> the raw observation the last transition's episode went on from. A checkpoint
/// section is written from, and loaded into, these objects (the learner's own); a load that cannot use the file's
/// batch leaves <see cref="Count"/> 0 and says why in <see cref="TrainingState.PendingNote"/>.
/// </summary>
public sealed class PendingBatch
{
    public PendingBatch(string algorithm, RolloutBuffer rollout, BatchReplay? replay, float[] nextObservation)
    {
        ArgumentNullException.ThrowIfNull(algorithm);
        ArgumentNullException.ThrowIfNull(rollout);
        ArgumentNullException.ThrowIfNull(nextObservation);
        if (rollout.EnvironmentCount != 1) throw new ArgumentException("a pending batch is one robot's", nameof(rollout));
        if (nextObservation.Length != rollout.ObservationSize)
            throw new ArgumentException($"the next observation has {nextObservation.Length} components, the rollout's {rollout.ObservationSize}", nameof(nextObservation));
        if (replay is not null && (replay.BatchSteps != rollout.Capacity || replay.ObservationSize != rollout.ObservationSize || replay.ActionSize != rollout.ActionSize))
            throw new ArgumentException("the replay's batches are not the rollout's", nameof(replay));
        Algorithm = algorithm;
        Rollout = rollout;
        Replay = replay;
        NextObservation = nextObservation;
    }

    /// <summary>The algorithm that collected the batch (a batch is refused by another: values and log-probs are its own).</summary>
    public string Algorithm { get; }

    public RolloutBuffer Rollout { get; }

    public BatchReplay? Replay { get; }

    /// <summary>The raw observation after the last transition, meaningful when <see cref="Open"/>.</summary>
    public float[] NextObservation { get; }

    /// <summary>Transitions collected (0..batch steps).</summary>
    public int Count { get; set; }

    /// <summary>The last transition's episode had not ended: <see cref="NextObservation"/> is the state it went on from.</summary>
    public bool Open { get; set; }
}
