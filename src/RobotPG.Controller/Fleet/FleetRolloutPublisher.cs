using System.Buffers.Binary;
using RobotPG.Controller.Control;
using RobotPG.Controller.Logging;
using RobotPG.Messaging;

namespace RobotPG.Controller.Fleet;

/// <summary>
/// Turns the loop's rollout ring into <see cref="RolloutBatch"/>es for the fleet learners (learning.mode
/// fleet). It runs on the fleet thread, never on the control thread: the loop only appends to the ring,
/// which drops (and counts) when full, so a slow broker can never block a control step. Records pair up
/// as on the on-device learner: the reward and done flag the task reports at step t+1 belong to the
/// action of step t. Each transition is tagged with the version of the policy that sampled it, from the
/// step at which the loop took that policy up (<see cref="PolicyExchange"/>'s swap history), not from
/// what the fleet thread last offered: a loop that stalls keeps running the older one. A batch goes out
/// when full, when the version changes (so a batch is made by one policy) or when a gap in the steps cuts it. The sink is a non-blocking publish (QoS 1); a refused
/// publish is counted, never retried on this thread.
/// </summary>
public sealed class FleetRolloutPublisher
{
    public delegate bool BatchSink(ReadOnlySpan<byte> encodedBatch);

    private readonly TrajectoryRing _ring;
    private readonly BatchSink _sink;
    private RolloutBatch _batch, _recent;
    private readonly byte[] _record, _encoded;
    private readonly float[] _observation, _action, _pendingObservation, _pendingAction;
    private readonly int _obs, _act;
    // Versions by the step from which they ran, oldest first; records arrive in step order, so entries before the
    // one the last record used are dropped.
    private readonly long[] _versionFrom = new long[PolicyExchange.SwapHistory + 1];
    private readonly ulong[] _versions = new ulong[PolicyExchange.SwapHistory + 1];
    private int _versionCount;
    private PolicyExchange? _exchange;
    private long _swapsSeen;
    private bool _pendingValid;
    private long _pendingStep;
    private float _pendingLogProb;
    private double _episodeReturn;
    private int _episodeLength;
    private ulong _sequence;
    private long _batchesPublished, _batchesRefused, _transitions, _episodes;

    public FleetRolloutPublisher(TrajectoryRing ring, int batchTransitions, BatchSink sink)
    {
        ArgumentNullException.ThrowIfNull(ring);
        ArgumentNullException.ThrowIfNull(sink);
        _ring = ring;
        _sink = sink;
        _obs = ring.ObservationSize;
        _act = ring.ActionSize;
        _batch = new RolloutBatch(_obs, _act, batchTransitions);
        _recent = new RolloutBatch(_obs, _act, batchTransitions);
        _record = new byte[ring.RecordSize];
        _encoded = new byte[RolloutBatch.EncodedLength(_obs, _act, batchTransitions)];
        _observation = new float[_obs];
        _action = new float[_act];
        _pendingObservation = new float[_obs];
        _pendingAction = new float[_act];
        _versionFrom[0] = long.MinValue;
        _versionCount = 1;
    }

    /// <summary>Largest encoded batch (size the MQTT client's payload slots with it).</summary>
    public int MaxBatchBytes => _encoded.Length;

    /// <summary>Follows the loop's policy swaps from now on (their <see cref="ControlPolicy.Version"/> tags the transitions).</summary>
    public void Attach(PolicyExchange exchange)
    {
        ArgumentNullException.ThrowIfNull(exchange);
        _exchange = exchange;
        _swapsSeen = exchange.Swaps;
        PolicyRunsFrom(long.MinValue, exchange.Current.Version);
    }

    /// <summary>The policy of <paramref name="version"/> sampled the actions from <paramref name="step"/> on.</summary>
    public void PolicyRunsFrom(long step, ulong version)
    {
        if (_versionCount > 0 && step <= _versionFrom[_versionCount - 1])
        {
            // A swap at or before the newest known start replaces it (several swaps cannot start at one step).
            _versionFrom[_versionCount - 1] = step;
            _versions[_versionCount - 1] = version;
            return;
        }
        if (_versionCount == _versions.Length) DropOldestVersions(1);
        _versionFrom[_versionCount] = step;
        _versions[_versionCount] = version;
        _versionCount++;
    }

    private void DropOldestVersions(int count)
    {
        Array.Copy(_versionFrom, count, _versionFrom, 0, _versionCount - count);
        Array.Copy(_versions, count, _versions, 0, _versionCount - count);
        _versionCount -= count;
    }

    /// <summary>The version of the policy that ran at <paramref name="step"/> (steps arrive in order).</summary>
    private ulong VersionAt(long step)
    {
        if (_exchange is { } exchange)
        {
            // Every swap up to this record's step is visible: the loop records a swap before it logs that step.
            long swaps = exchange.Swaps;
            if (swaps - _swapsSeen > PolicyExchange.SwapHistory) _swapsSeen = swaps - PolicyExchange.SwapHistory;
            for (; _swapsSeen < swaps; _swapsSeen++)
                if (exchange.TryGetSwap(_swapsSeen, out long from, out ulong version)) PolicyRunsFrom(from, version);
        }
        int k = _versionCount - 1;
        while (k > 0 && _versionFrom[k] > step) k--;
        if (k > 0) DropOldestVersions(k);
        return _versions[0];
    }

    /// <summary>Raised on the fleet thread when an episode ends: (return, length in steps).</summary>
    public event Action<double, int>? EpisodeEnded;

    public long BatchesPublished => Interlocked.Read(ref _batchesPublished);

    /// <summary>Batches the MQTT client refused (queue full or too large): their transitions are lost and counted here.</summary>
    public long BatchesRefused => Interlocked.Read(ref _batchesRefused);

    /// <summary>Transitions the loop could not append because the ring was full.</summary>
    public long RingDrops => _ring.Dropped;

    public long Transitions => Interlocked.Read(ref _transitions);

    public long Episodes => Interlocked.Read(ref _episodes);

    /// <summary>The last batch sent (the receiver's KL guard judges a new policy on its observations).</summary>
    public RolloutBatch RecentBatch => _recent;

    /// <summary>Drains the ring; returns the records taken. Allocates nothing.</summary>
    public int Pump()
    {
        int taken = 0;
        while (_ring.TryTake(_record))
        {
            taken++;
            Take(_record);
        }
        return taken;
    }

    /// <summary>Publishes the partial batch now (e.g. at shutdown); false when empty or refused.</summary>
    public bool Flush()
    {
        if (_batch.Count == 0) return false;
        if (_pendingValid) _batch.SetNextObservation(_pendingObservation);
        else _batch.SetNextObservation(ReadOnlySpan<float>.Empty);
        _batch.Sequence = ++_sequence;
        int length = _batch.Encode(_encoded);
        bool ok = _sink(_encoded.AsSpan(0, length));
        Interlocked.Increment(ref ok ? ref _batchesPublished : ref _batchesRefused);
        (_batch, _recent) = (_recent, _batch);
        _batch.Clear();
        return ok;
    }

    private void Take(ReadOnlySpan<byte> r)
    {
        long step = BinaryPrimitives.ReadInt64LittleEndian(r);
        for (int i = 0; i < _obs; i++) _observation[i] = BinaryPrimitives.ReadSingleLittleEndian(r[(TrajectoryLogFormat.ObservationOffset + 4 * i)..]);
        int a = TrajectoryLogFormat.ActionOffset(_obs);
        for (int i = 0; i < _act; i++) _action[i] = BinaryPrimitives.ReadSingleLittleEndian(r[(a + 4 * i)..]);
        float logProb = BinaryPrimitives.ReadSingleLittleEndian(r[TrajectoryLogFormat.LogProbOffset(_obs, _act)..]);
        float reward = BinaryPrimitives.ReadSingleLittleEndian(r[TrajectoryLogFormat.RewardOffset(_obs, _act)..]);
        var flags = (TransitionFlags)BinaryPrimitives.ReadUInt32LittleEndian(r[TrajectoryLogFormat.FlagsOffset(_obs, _act)..]);
        if ((flags & TransitionFlags.Idle) != 0) return;
        bool terminated = (flags & TransitionFlags.Terminated) != 0;
        bool truncated = !terminated && (flags & TransitionFlags.Truncated) != 0;

        // A gap (ring drops) cuts the episode: what came before goes out without a next observation.
        if (_pendingValid && step != _pendingStep + 1)
        {
            _pendingValid = false;
            Flush();
            _episodeReturn = 0;
            _episodeLength = 0;
        }
        // The transition being completed is the pending one: its action was sampled at _pendingStep.
        if (_pendingValid)
        {
            ulong version = VersionAt(_pendingStep);
            if (_batch.Count > 0 && _batch.PolicyVersion != version) Flush();
            if (_batch.Count == 0) _batch.PolicyVersion = version;
        }

        _episodeReturn += reward;
        _episodeLength++;
        if (_pendingValid)
        {
            _batch.TryAdd(_pendingObservation, _pendingAction, _pendingLogProb, reward, terminated, truncated);
            Interlocked.Increment(ref _transitions);
        }
        if (terminated || truncated)
        {
            _pendingValid = false;
            Interlocked.Increment(ref _episodes);
            EpisodeEnded?.Invoke(_episodeReturn, _episodeLength);
            _episodeReturn = 0;
            _episodeLength = 0;
        }
        else
        {
            _observation.CopyTo(_pendingObservation);
            _action.CopyTo(_pendingAction);
            _pendingLogProb = logProb;
            _pendingStep = step;
            _pendingValid = true;
        }
        if (_batch.IsFull) Flush();
    }
}
