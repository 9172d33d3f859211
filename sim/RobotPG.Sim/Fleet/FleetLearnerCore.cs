using System.Diagnostics;
using RobotPG.Controller.Learning;
using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Checkpoints;
using RobotPG.Learning.Networks;
using RobotPG.Learning.Normalization;
using RobotPG.Learning.Optimization;
using RobotPG.Learning.Rollouts;
using RobotPG.Messaging;
using RobotPG.Numerics;

namespace RobotPG.Sim.Fleet;

/// <summary>
/// The fleet learner's synchronous core, without MQTT: rollout batches in, signed policies out. Each
/// transition enters the PPO rollout with the log-probability the robot's behaviour policy shipped, so
/// PPO's ratio π_θ(a|s) / π_behaviour(a|s) is the importance weight of the notes (001 "off-policy PG",
/// 003 PPO) and corrects data made by an older policy. PPO's clip is centred on the learner's policy before the
/// update, not on the behaviour policy (<see cref="PpoHyperparameters.OffPolicyData"/>, the replay's correction): a stale
/// transition whose ratio π_θk/π_behaviour is already outside 1 ± ε still passes its gradient, and the region bounds
/// the step from θk. A batch more than <see cref="MaxStaleVersions"/>
/// versions old is dropped and counted. An update passes the learner's own guards (finite, mean KL
/// within the bound) or is undone; an accepted one becomes the next version. A policy broadcast by a
/// peer learner with a higher version replaces this learner's actor (and normaliser), so learners that
/// share the rollouts also share one line of versions.
/// </summary>
public sealed class FleetLearnerCore
{
    private readonly IPolicyGradientAlgorithm _algorithm;
    private readonly ActorCritic _agent;
    private readonly RolloutBuffer _rollout;
    private readonly RewardScaler? _rewardScaler;
    private readonly RolloutSettings _settings;
    private readonly RolloutBatch _batch;
    private readonly FleetPolicyMessage _message;
    private readonly IFleetPolicySigner _signer;
    private readonly LearnerCheckpoints? _checkpoints;
    private readonly GaussianPolicy _previousPolicy;
    private readonly ValueNetwork _previousValue;
    private readonly Adam? _optimizer, _previousOptimizer;
    private readonly float[] _normalized, _meanOld, _meanNew;
    private readonly double _maxKl;
    private readonly int _checkpointEvery;
    private int _count;
    private long _batchesConsumed, _batchesStale, _batchesMalformed, _transitions, _staleTransitions, _updates, _rejected, _adopted;
    private double _lastUpdateMs, _updateMsTotal, _updateMsMax;

    public FleetLearnerCore(IPolicyGradientAlgorithm algorithm, IFleetPolicySigner signer, int maxStaleVersions, double maxKl,
        LearnerCheckpoints? checkpoints = null, int checkpointEveryUpdates = 10)
    {
        ArgumentNullException.ThrowIfNull(algorithm);
        ArgumentNullException.ThrowIfNull(signer);
        ArgumentOutOfRangeException.ThrowIfNegative(maxStaleVersions);
        if (algorithm is Ppo { Hyperparameters.ClipsAroundPolicyBeforeUpdate: false })
            throw new ArgumentException("the fleet learner's batches are acted by older policies: build PPO with OffPolicyData", nameof(algorithm));
        _algorithm = algorithm;
        _agent = algorithm.Agent;
        _signer = signer;
        _checkpoints = checkpoints;
        _checkpointEvery = checkpointEveryUpdates;
        MaxStaleVersions = maxStaleVersions;
        _maxKl = maxKl;
        _settings = algorithm.Rollout;
        if (_settings.EnvironmentCount != 1) throw new ArgumentException("the fleet learner's rollout is one stream of batches", nameof(algorithm));
        int n = _agent.ObservationSize, m = _agent.ActionSize;
        _rollout = new RolloutBuffer(_settings.StepsPerEnvironment, 1, n, m);
        _rewardScaler = _settings.ScaleRewards ? new RewardScaler(_settings.Gamma) : null;
        _batch = new RolloutBatch(n, m, RolloutBatchCapacity(n, m));
        _message = new FleetPolicyMessage(n, m, _agent.Policy.HiddenSizes, _agent.Policy.ParameterCount);
        _previousPolicy = new GaussianPolicy(n, m, _agent.Policy.HiddenSizes, maxBatch: 1, seed: 1);
        _previousValue = new ValueNetwork(n, _agent.Value.HiddenSizes, maxBatch: 1, seed: 1);
        _optimizer = algorithm is Ppo ppo ? ppo.Optimizer : null;
        _previousOptimizer = _optimizer is null ? null : new Adam(_optimizer.ParameterCount, _optimizer.LearningRate, _optimizer.Beta1, _optimizer.Beta2, _optimizer.Epsilon);
        _normalized = new float[n];
        _meanOld = new float[m];
        _meanNew = new float[m];
        Version = 1; // the learner's starting policy; robots start at their own version 0
    }

    /// <summary>Largest batch a learner accepts (the MQTT payload limit of the rollout topic).</summary>
    public static int RolloutBatchCapacity(int observationSize, int actionSize) =>
        (RolloutBatch.MaxEncodedLength - RolloutBatch.EncodedLength(observationSize, actionSize, 0)) / RolloutBatch.TransitionLength(observationSize, actionSize);

    public ActorCritic Agent => _agent;
    public RolloutBuffer Rollout => _rollout;
    public int MaxStaleVersions { get; }

    /// <summary>The version of the policy this learner holds (its last accepted update or a peer's broadcast).</summary>
    public ulong Version { get; private set; }

    public long BatchesConsumed => Interlocked.Read(ref _batchesConsumed);
    public long BatchesStale => Interlocked.Read(ref _batchesStale);
    public long BatchesMalformed => Interlocked.Read(ref _batchesMalformed);
    public long Transitions => Interlocked.Read(ref _transitions);
    public long StaleTransitions => Interlocked.Read(ref _staleTransitions);
    public long Updates => Interlocked.Read(ref _updates);
    public long RejectedUpdates => Interlocked.Read(ref _rejected);
    public long AdoptedPeerPolicies => Interlocked.Read(ref _adopted);

    /// <summary>Duration of the last PPO update, ms.</summary>
    public double LastUpdateMs => Volatile.Read(ref _lastUpdateMs);

    /// <summary>Mean and longest PPO update, ms (learner thread's view; read after it stopped or approximately).</summary>
    public double MeanUpdateMs => _updates == 0 ? double.NaN : _updateMsTotal / _updates;
    public double MaxUpdateMs => _updateMsMax;

    /// <summary>Transitions collected toward the next update.</summary>
    public int BatchFill => _count;

    /// <summary>Continues from the last good checkpoint (its update count is the version). Returns its path or null.</summary>
    public string? Resume(out string? warning)
    {
        warning = null;
        if (_checkpoints is null) return null;
        var state = CheckpointState();
        string? path = _checkpoints.TryResume(state, out warning);
        if (path is null) return null;
        Version = (ulong)Math.Max(1, state.UpdateCount);
        // The minibatch order goes on where it stopped: a resumed learner updates as one that ran through.
        if (state.MinibatchShuffleLoaded) ((Ppo)_algorithm).TryRestoreShuffleState(state.MinibatchShuffle);
        return path;
    }

    public void SaveCheckpoint()
    {
        _checkpoints?.Save(CheckpointState());
    }

    private TrainingState CheckpointState()
    {
        var state = _agent.ToTrainingState("fleet learner");
        state.RewardScaler = _rewardScaler;
        state.Optimizer = _optimizer;
        if (_algorithm is Ppo ppo)
        {
            state.MinibatchShuffle = new ulong[Prng.StateLength];
            ppo.WriteShuffleState(state.MinibatchShuffle);
        }
        state.UpdateCount = (long)Version;
        state.StepCount = Transitions;
        return state;
    }

    /// <summary>The current policy, signed, ready for the retained broadcast.</summary>
    public byte[] SignedPolicy()
    {
        _message.Version = Version;
        _agent.Policy.Parameters.CopyTo(_message.Parameters);
        if (_agent.ObservationStatistics is { } stats)
        {
            _message.HasNormalizer = true;
            _message.NormalizerCount = stats.Count;
            stats.Mean.CopyTo(_message.NormalizerMean);
            stats.Variance.CopyTo(_message.NormalizerVariance);
        }
        return _signer.Sign(_message.Encode());
    }

    /// <summary>
    /// Consumes one encoded rollout batch. Returns the signed policy to broadcast when the batch completed
    /// an update that passed the guards, else null. Malformed and stale batches are counted and dropped.
    /// </summary>
    public byte[]? Consume(ReadOnlySpan<byte> encoded)
    {
        if (_batch.TryDecode(encoded) != FrameStatus.Ok)
        {
            Interlocked.Increment(ref _batchesMalformed);
            return null;
        }
        if (_batch.PolicyVersion + (ulong)MaxStaleVersions < Version)
        {
            Interlocked.Increment(ref _batchesStale);
            Interlocked.Add(ref _staleTransitions, _batch.Count);
            return null;
        }
        Interlocked.Increment(ref _batchesConsumed);
        byte[]? published = null;
        for (int i = 0; i < _batch.Count; i++)
        {
            Append(_batch, i);
            if (_count == _rollout.Capacity)
            {
                var next = i + 1 < _batch.Count ? _batch.Observation(i + 1) : _batch.HasNextObservation ? _batch.NextObservation : default;
                if (RunUpdate(next)) published = SignedPolicy();
            }
        }
        return published;
    }

    /// <summary>
    /// Puts transition <paramref name="i"/> of <paramref name="batch"/> into the rollout: normalised
    /// observation, action, V(s), (scaled) reward, and the behaviour policy's log-probability as shipped.
    /// The batch's last transition, when its episode goes on, is cut there (truncated) with V of the
    /// shipped next observation: the robot's next batch may go to another learner.
    /// </summary>
    public void Append(RolloutBatch batch, int i)
    {
        var observation = batch.Observation(i);
        _agent.ObserveStatistics(observation);
        int k = _count;
        Span<float> obs = _rollout.Observation(k);
        _agent.NormalizeObservation(observation, obs);
        batch.Action(i).CopyTo(_rollout.Action(k));
        float value = _agent.Value.Predict(obs);
        bool terminated = batch.Terminated(i);
        bool truncated = batch.Truncated(i);
        float bootstrap = 0f;
        if (!terminated && !truncated && i == batch.Count - 1)
        {
            truncated = true;
            bootstrap = batch.HasNextObservation ? ValueOf(batch.NextObservation) : value;
        }
        else if (truncated)
        {
            bootstrap = i + 1 < batch.Count ? ValueOf(batch.Observation(i + 1)) : batch.HasNextObservation ? ValueOf(batch.NextObservation) : value;
        }
        float reward = batch.Reward(i);
        if (_rewardScaler is not null)
            reward = Math.Clamp(_rewardScaler.Scale(reward, terminated || truncated), -_settings.RewardClip, _settings.RewardClip);
        _rollout.Record(k, batch.LogProb(i), value, reward, terminated, truncated, bootstrap);
        _count++;
        Interlocked.Increment(ref _transitions);
    }

    private float ValueOf(ReadOnlySpan<float> raw)
    {
        _agent.NormalizeObservation(raw, _normalized);
        return _agent.Value.Predict(_normalized);
    }

    /// <summary>A peer's broadcast: a higher version replaces this learner's actor and normaliser. True when adopted.</summary>
    public bool Adopt(FleetPolicyMessage peer)
    {
        if (peer.Version <= Version) return false;
        foreach (float v in peer.Parameters) if (!float.IsFinite(v)) return false;
        peer.Parameters.CopyTo(_agent.Policy.Parameters);
        if (peer.HasNormalizer && _agent.ObservationStatistics is { } stats)
            stats.Restore(peer.NormalizerMean, peer.NormalizerVariance, peer.NormalizerCount);
        Version = peer.Version;
        Interlocked.Increment(ref _adopted);
        return true;
    }

    private bool RunUpdate(ReadOnlySpan<float> nextRaw)
    {
        _rollout.LastValues[0] = nextRaw.IsEmpty ? 0f : ValueOf(nextRaw);
        _previousPolicy.CopyFrom(_agent.Policy);
        _previousValue.CopyFrom(_agent.Value);
        _previousOptimizer?.CopyFrom(_optimizer!);
        long update = Interlocked.Increment(ref _updates);
        long start = Stopwatch.GetTimestamp();
        bool ok;
        try
        {
            _algorithm.Update(_rollout, (int)Math.Min(update, int.MaxValue), int.MaxValue);
            double kl = MeanKl();
            ok = AllFinite(_agent.Policy.Parameters) && AllFinite(_agent.Value.Parameters) && kl <= _maxKl;
        }
        catch (ArithmeticException)
        {
            ok = false;
        }
        double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        Volatile.Write(ref _lastUpdateMs, ms);
        _updateMsTotal += ms;
        _updateMsMax = Math.Max(_updateMsMax, ms);
        _count = 0;
        if (!ok)
        {
            _agent.Policy.CopyFrom(_previousPolicy);
            _agent.Value.CopyFrom(_previousValue);
            if (_previousOptimizer is not null) _optimizer!.CopyFrom(_previousOptimizer);
            Interlocked.Increment(ref _rejected);
            return false;
        }
        Version++;
        if (_checkpointEvery > 0 && (long)Version % _checkpointEvery == 0)
        {
            try
            {
                SaveCheckpoint();
            }
            catch (CheckpointException)
            {
                // The learner goes on; the last good checkpoint stays.
            }
        }
        return true;
    }

    private double MeanKl()
    {
        ReadOnlySpan<float> oldLogStd = _previousPolicy.LogStd, newLogStd = _agent.Policy.LogStd;
        int n = _rollout.Capacity;
        double sum = 0;
        for (int i = 0; i < n; i++)
        {
            ReadOnlySpan<float> o = _rollout.Observation(i);
            _previousPolicy.Mean(o, _meanOld);
            _agent.Policy.Mean(o, _meanNew);
            sum += DiagonalGaussian.Kl(_meanOld, oldLogStd, _meanNew, newLogStd);
        }
        return sum / n;
    }

    private static bool AllFinite(ReadOnlySpan<float> values)
    {
        foreach (float v in values) if (!float.IsFinite(v)) return false;
        return true;
    }
}
