using RobotPG.Learning.Algorithms;

namespace RobotPG.Learning.Rollouts;

/// <summary>
/// The last K batches of one robot for an update that reuses them (<see cref="PpoHyperparameters.ReplayBatches"/>).
/// A batch is kept as it was acted: raw observations, actions, the behaviour policy's log-probs (the importance
/// weight's denominator), the rewards as scaled then, the episode ends, the raw final observation of a truncated
/// step and the raw observation after the batch. <see cref="Assemble"/> turns the newest 1..K of them into a
/// rollout whose environments are the batches, normalised with today's statistics and valued by today's critic,
/// so the advantages (GAE, in the update) of old batches are those of the current critic, not of the one they
/// were collected under. Everything is allocated by the constructor.
/// </summary>
public sealed class BatchReplay
{
    private readonly int _steps, _obs, _act;
    private readonly float[][] _observations, _actions, _logProbs, _rewards, _finalObservations, _nextObservations;
    private readonly bool[][] _terminated, _truncated;
    private readonly bool[] _hasNext;
    private readonly RolloutBuffer[] _assembled;
    private readonly float[] _normalized;
    private int _head; // the slot the batch being collected goes to
    private int _count; // committed batches, ≤ K

    public BatchReplay(int batches, int batchSteps, int observationSize, int actionSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batches);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSteps);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(observationSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(actionSize);
        Batches = batches;
        _steps = batchSteps;
        _obs = observationSize;
        _act = actionSize;
        _observations = Slots(batches, batchSteps * observationSize);
        _actions = Slots(batches, batchSteps * actionSize);
        _logProbs = Slots(batches, batchSteps);
        _rewards = Slots(batches, batchSteps);
        _finalObservations = Slots(batches, batchSteps * observationSize);
        _nextObservations = Slots(batches, observationSize);
        _terminated = new bool[batches][];
        _truncated = new bool[batches][];
        for (int b = 0; b < batches; b++)
        {
            _terminated[b] = new bool[batchSteps];
            _truncated[b] = new bool[batchSteps];
        }
        _hasNext = new bool[batches];
        // One rollout per fill level: the first updates have fewer batches than K.
        _assembled = new RolloutBuffer[batches];
        for (int b = 0; b < batches; b++) _assembled[b] = new RolloutBuffer(batchSteps, b + 1, observationSize, actionSize);
        _normalized = new float[observationSize];
    }

    /// <summary>K: the most batches kept.</summary>
    public int Batches { get; }

    public int BatchSteps => _steps;

    /// <summary>Batches committed and kept (at most <see cref="Batches"/>).</summary>
    public int Count => _count;

    /// <summary>
    /// Writes step <paramref name="index"/> of the batch being collected. <paramref name="finalObservation"/> is the raw
    /// observation after a truncated step (its value bootstraps the cut episode); ignored otherwise.
    /// </summary>
    public void Record(int index, ReadOnlySpan<float> observation, ReadOnlySpan<float> action, float behaviourLogProb, float reward,
        bool terminated, bool truncated, ReadOnlySpan<float> finalObservation)
    {
        if ((uint)index >= (uint)_steps) throw new ArgumentOutOfRangeException(nameof(index), index, $"outside the batch of {_steps}");
        observation.CopyTo(_observations[_head].AsSpan(index * _obs, _obs));
        action.CopyTo(_actions[_head].AsSpan(index * _act, _act));
        _logProbs[_head][index] = behaviourLogProb;
        _rewards[_head][index] = reward;
        _terminated[_head][index] = terminated;
        bool cut = truncated && !terminated;
        _truncated[_head][index] = truncated;
        if (cut) finalObservation.CopyTo(_finalObservations[_head].AsSpan(index * _obs, _obs));
    }

    /// <summary>
    /// Step <paramref name="index"/> of the batch being collected is cut after all (its episode cannot go on, e.g. the
    /// controller restarted): truncated, bootstrapped from the raw <paramref name="finalObservation"/>.
    /// </summary>
    public void Cut(int index, ReadOnlySpan<float> finalObservation)
    {
        if ((uint)index >= (uint)_steps) throw new ArgumentOutOfRangeException(nameof(index), index, $"outside the batch of {_steps}");
        if (_terminated[_head][index]) throw new InvalidOperationException($"step {index} ended in a terminal state; it cannot be cut");
        _truncated[_head][index] = true;
        finalObservation.CopyTo(_finalObservations[_head].AsSpan(index * _obs, _obs));
    }

    /// <summary>
    /// The first <paramref name="count"/> steps of the batch being collected as recorded (a checkpoint's pending batch;
    /// a resumed learner <see cref="Record"/>s them back). Its next observation is empty: the batch is not complete.
    /// </summary>
    public KeptBatch Collecting(int count)
    {
        if ((uint)count > (uint)_steps) throw new ArgumentOutOfRangeException(nameof(count), count, $"outside the batch of {_steps}");
        return new KeptBatch(_observations[_head].AsSpan(0, count * _obs), _actions[_head].AsSpan(0, count * _act), _logProbs[_head].AsSpan(0, count),
            _rewards[_head].AsSpan(0, count), _terminated[_head].AsSpan(0, count), _truncated[_head].AsSpan(0, count),
            _finalObservations[_head].AsSpan(0, count * _obs), default);
    }

    /// <summary>
    /// The batch being collected is complete: it becomes the newest kept (the oldest drops when K are kept).
    /// <paramref name="nextObservation"/>: the raw observation after its last step when that episode goes on, else empty.
    /// </summary>
    public void Commit(ReadOnlySpan<float> nextObservation)
    {
        _hasNext[_head] = !nextObservation.IsEmpty;
        if (!nextObservation.IsEmpty) nextObservation.CopyTo(_nextObservations[_head]);
        _head = (_head + 1) % Batches;
        _count = Math.Min(_count + 1, Batches);
    }

    /// <summary>Forgets every kept batch.</summary>
    public void Clear() => _count = 0;

    public int ObservationSize => _obs;

    public int ActionSize => _act;

    /// <summary>
    /// Kept batch <paramref name="j"/> as recorded, 0 the oldest (what a checkpoint stores; a resumed learner
    /// <see cref="Record"/>s and <see cref="Commit"/>s them back, oldest first).
    /// </summary>
    public KeptBatch Kept(int j)
    {
        if ((uint)j >= (uint)_count) throw new ArgumentOutOfRangeException(nameof(j), j, $"{_count} batches are kept");
        int slot = (_head - _count + j + Batches) % Batches;
        return new KeptBatch(_observations[slot], _actions[slot], _logProbs[slot], _rewards[slot], _terminated[slot], _truncated[slot],
            _finalObservations[slot], _hasNext[slot] ? _nextObservations[slot] : default);
    }

    /// <summary>Every number of the kept batches is finite (a checkpoint refuses NaN/∞, as it does in the parameters).</summary>
    public bool AllFinite()
    {
        for (int j = 0; j < _count; j++)
        {
            KeptBatch b = Kept(j);
            if (!Finite(b.Observations) || !Finite(b.Actions) || !Finite(b.LogProbs) || !Finite(b.Rewards)
                || !Finite(b.FinalObservations) || !Finite(b.NextObservation))
                return false;
        }
        return true;

        static bool Finite(ReadOnlySpan<float> values)
        {
            foreach (float v in values) if (!float.IsFinite(v)) return false;
            return true;
        }
    }

    /// <summary>
    /// The kept batches (oldest first) as one rollout, environment e = batch e: observations normalised by
    /// <paramref name="agent"/>'s statistics now, V(s), the truncation bootstraps and the values after each batch from
    /// its critic now; actions, behaviour log-probs, rewards and episode ends as recorded. The update computes the
    /// advantages (GAE per environment, so nothing links across batches). Throws when nothing is committed.
    /// </summary>
    public RolloutBuffer Assemble(ActorCritic agent)
    {
        ArgumentNullException.ThrowIfNull(agent);
        if (_count == 0) throw new InvalidOperationException("no batch is committed");
        if (agent.ObservationSize != _obs || agent.ActionSize != _act)
            throw new ArgumentException($"the agent is {agent.ObservationSize} → {agent.ActionSize}, the replay {_obs} → {_act}", nameof(agent));
        RolloutBuffer rollout = _assembled[_count - 1];
        int envs = _count;
        for (int e = 0; e < envs; e++)
        {
            int slot = (_head - envs + e + Batches) % Batches;
            float[] observations = _observations[slot], actions = _actions[slot], logProbs = _logProbs[slot], rewards = _rewards[slot];
            bool[] terminated = _terminated[slot], truncated = _truncated[slot];
            for (int t = 0; t < _steps; t++)
            {
                int i = t * envs + e;
                Span<float> obs = rollout.Observation(i);
                agent.NormalizeObservation(observations.AsSpan(t * _obs, _obs), obs);
                actions.AsSpan(t * _act, _act).CopyTo(rollout.Action(i));
                float value = agent.Value.Predict(obs);
                float bootstrap = 0f;
                if (truncated[t] && !terminated[t]) bootstrap = ValueOf(agent, _finalObservations[slot].AsSpan(t * _obs, _obs));
                rollout.Record(i, logProbs[t], value, rewards[t], terminated[t], truncated[t], bootstrap);
            }
            rollout.LastValues[e] = _hasNext[slot] ? ValueOf(agent, _nextObservations[slot]) : 0f;
        }
        return rollout;
    }

    private float ValueOf(ActorCritic agent, ReadOnlySpan<float> raw)
    {
        agent.NormalizeObservation(raw, _normalized);
        return agent.Value.Predict(_normalized);
    }

    private static float[][] Slots(int count, int length)
    {
        var slots = new float[count][];
        for (int i = 0; i < count; i++) slots[i] = new float[length];
        return slots;
    }
}

/// <summary>
/// One kept batch as <see cref="BatchReplay.Record"/> wrote it, step-major: raw observations and actions, behaviour
/// log-probs, scaled rewards, episode ends, the raw observation after each cut step (meaningful where truncated and
/// not terminated), and the raw observation after the batch (empty when its last episode ended).
/// </summary>
public readonly ref struct KeptBatch(ReadOnlySpan<float> observations, ReadOnlySpan<float> actions, ReadOnlySpan<float> logProbs,
    ReadOnlySpan<float> rewards, ReadOnlySpan<bool> terminated, ReadOnlySpan<bool> truncated, ReadOnlySpan<float> finalObservations,
    ReadOnlySpan<float> nextObservation)
{
    public ReadOnlySpan<float> Observations { get; } = observations;
    public ReadOnlySpan<float> Actions { get; } = actions;
    public ReadOnlySpan<float> LogProbs { get; } = logProbs;
    public ReadOnlySpan<float> Rewards { get; } = rewards;
    public ReadOnlySpan<bool> Terminated { get; } = terminated;
    public ReadOnlySpan<bool> Truncated { get; } = truncated;
    public ReadOnlySpan<float> FinalObservations { get; } = finalObservations;
    public ReadOnlySpan<float> NextObservation { get; } = nextObservation;
}
