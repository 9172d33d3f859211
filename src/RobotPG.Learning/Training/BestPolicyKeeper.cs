using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Checkpoints;

namespace RobotPG.Learning.Training;

/// <summary>
/// Keeps the best policy a run has produced: policy-gradient learning is not monotone (REINFORCE on
/// cart-pole reaches 500 and later collapses), so the last parameters are not necessarily the ones to
/// keep. <see cref="Offer"/> takes an evaluation return of the agent's current parameters and, when it
/// beats every earlier one, copies policy, critic and observation statistics into a snapshot allocated
/// once here; <see cref="RestoreInto"/> rolls the agent back to that snapshot. Nothing is allocated after
/// construction.
/// </summary>
public sealed class BestPolicyKeeper
{
    private readonly ActorCritic _best;

    public BestPolicyKeeper(ActorCritic agent)
    {
        ArgumentNullException.ThrowIfNull(agent);
        _best = new ActorCritic(agent.ObservationSize, agent.ActionSize, agent.Policy.HiddenSizes, agent.Value.HiddenSizes,
            maxBatch: 1, seed: 0, normalizeObservations: agent.ObservationStatistics is not null, agent.ObservationClip);
    }

    /// <summary>True once a finite return has been offered.</summary>
    public bool HasBest { get; private set; }

    /// <summary>The best evaluation return offered so far; −∞ before the first.</summary>
    public double BestReturn { get; private set; } = double.NegativeInfinity;

    /// <summary>Training steps at which the best policy was offered.</summary>
    public long BestSteps { get; private set; }

    /// <summary>The snapshot: act with it, evaluate it or save it.</summary>
    public ActorCritic Best => _best;

    /// <summary>
    /// Offers the agent's current parameters with their evaluation return; keeps them when the return is
    /// strictly higher than the best so far (ties keep the earlier policy). Returns whether they were kept.
    /// A non-finite return is never kept.
    /// </summary>
    public bool Offer(ActorCritic agent, double evaluationReturn, long steps)
    {
        ArgumentNullException.ThrowIfNull(agent);
        if (!double.IsFinite(evaluationReturn) || evaluationReturn <= BestReturn) return false;
        Copy(agent, _best);
        BestReturn = evaluationReturn;
        BestSteps = steps;
        HasBest = true;
        return true;
    }

    /// <summary>Rolls <paramref name="agent"/> back to the best parameters; false (agent untouched) when nothing was kept.</summary>
    public bool RestoreInto(ActorCritic agent)
    {
        ArgumentNullException.ThrowIfNull(agent);
        if (!HasBest) return false;
        Copy(_best, agent);
        return true;
    }

    /// <summary>A checkpoint view of the best policy, with its evaluation return once there is a best.</summary>
    public TrainingState ToTrainingState(string tag)
    {
        var state = _best.ToTrainingState(tag);
        if (HasBest) state.EvaluationReturn = BestReturn;
        return state;
    }

    /// <summary>
    /// The networks of <see cref="Best"/> were loaded from a best-policy checkpoint (a restart): it is the best again,
    /// with the return that made it so, and a later policy replaces it only by beating that return.
    /// </summary>
    public void Restored(double evaluationReturn, long steps)
    {
        if (!double.IsFinite(evaluationReturn)) throw new ArgumentOutOfRangeException(nameof(evaluationReturn), evaluationReturn, "an evaluation return is finite");
        BestReturn = evaluationReturn;
        BestSteps = steps;
        HasBest = true;
    }

    private static void Copy(ActorCritic from, ActorCritic to)
    {
        to.Policy.CopyFrom(from.Policy);
        to.Value.CopyFrom(from.Value);
        if (from.ObservationStatistics is { } stats) to.ObservationStatistics!.CopyFrom(stats);
    }
}
