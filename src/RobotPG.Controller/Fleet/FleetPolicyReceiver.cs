using RobotPG.Controller.Control;
using RobotPG.Learning.Networks;
using RobotPG.Learning.Normalization;
using RobotPG.Messaging;

namespace RobotPG.Controller.Fleet;

/// <summary>What became of a fleet policy broadcast on this robot.</summary>
public enum FleetPolicyVerdict
{
    Accepted,
    /// <summary>Unsigned, signed by an unknown key, tampered, or for another fleet.</summary>
    BadSignature,
    /// <summary>Not a policy of this robot's shape, or corrupt.</summary>
    Malformed,
    /// <summary>Not newer than the policy the robot runs (a replay or a peer learner's duplicate).</summary>
    NotNewer,
    /// <summary>A NaN or infinity in the parameters or the normaliser.</summary>
    NonFinite,
    /// <summary>Mean KL(current ‖ new) on the robot's recent observations above the bound.</summary>
    KlBound,
    /// <summary>Its episodes' mean return fell below the previous policy's by more than the margin: rolled back.</summary>
    ReturnDrop,
}

/// <summary>
/// The robot side of the fleet policy broadcast. MQTT hands the newest payload over (only the latest
/// counts: the topic is retained); the fleet thread <see cref="Pump"/>s it through the guards of
/// DESIGN.md "On-device learning" — signature, shape, newer version, all finite, mean KL(current ‖ new)
/// on the robot's recent observations within the bound — and offers it to the loop through the
/// <see cref="PolicyExchange"/>. With an evaluation window, its first episodes are compared with the
/// previous policy's and a drop beyond the margin swaps the previous policy back. Until a good
/// broadcast arrives, and whenever the learners are gone, the robot runs its last good policy.
/// The two control policies and the snapshot are allocated by the constructor.
/// </summary>
public sealed class FleetPolicyReceiver
{
    private const int ReturnWindow = 10;

    private readonly IFleetPolicyVerifier _verifier;
    private readonly FleetPolicyMessage _message;
    private readonly (ControlPolicy Policy, GaussianPolicy Network, RunningMeanStd Normalizer)[] _buffers;
    private readonly GaussianPolicy _goodNetwork;
    private readonly RunningMeanStd _goodNormalizer;
    // A private copy of what the loop runs, for the KL guard: evaluating the loop's own network here would write its
    // forward-pass scratch while the control thread samples from it (a corrupted action mean for that step).
    private readonly GaussianPolicy _runningNetwork;
    private readonly RunningMeanStd _runningNormalizer;
    private readonly double _maxKl, _returnDropMargin;
    private readonly int _evaluationEpisodes;
    private readonly PolicyKl.Scratch _kl;
    private readonly double[] _recentReturns = new double[ReturnWindow];
    private readonly long[] _verdicts = new long[Enum.GetValues<FleetPolicyVerdict>().Length];
    private PolicyExchange? _exchange;
    private byte[]? _incoming;
    private int _running; // index of the buffer the loop runs (or was last offered)
    private int _recentCount;
    private ulong _goodVersion;
    private bool _evaluating;
    private double _evaluationBaseline, _evaluationSum;
    private int _evaluationCount;

    /// <param name="initial">The robot's starting policy network (copied; version 0).</param>
    public FleetPolicyReceiver(IFleetPolicyVerifier verifier, GaussianPolicy initial, RunningMeanStd? initialNormalizer,
        double maxKl, int evaluationEpisodes, double returnDropMargin)
    {
        ArgumentNullException.ThrowIfNull(verifier);
        ArgumentNullException.ThrowIfNull(initial);
        _verifier = verifier;
        _maxKl = maxKl;
        _evaluationEpisodes = evaluationEpisodes;
        _returnDropMargin = returnDropMargin;
        int n = initial.ObservationSize, m = initial.ActionSize;
        _message = new FleetPolicyMessage(n, m, initial.HiddenSizes, initial.ParameterCount);
        _buffers = new (ControlPolicy, GaussianPolicy, RunningMeanStd)[2];
        for (int i = 0; i < 2; i++)
        {
            var network = new GaussianPolicy(n, m, initial.HiddenSizes, maxBatch: 1, seed: 1);
            network.CopyFrom(initial);
            // Always a normaliser: a broadcast brings the learner's statistics (a fresh one is the identity).
            var normalizer = new RunningMeanStd(n);
            if (initialNormalizer is not null) normalizer.CopyFrom(initialNormalizer);
            _buffers[i] = (ControlPolicy.FromNetwork(network, normalizer, deterministic: false, "fleet"), network, normalizer);
        }
        _goodNetwork = new GaussianPolicy(n, m, initial.HiddenSizes, maxBatch: 1, seed: 1);
        _goodNetwork.CopyFrom(initial);
        _goodNormalizer = new RunningMeanStd(n);
        if (initialNormalizer is not null) _goodNormalizer.CopyFrom(initialNormalizer);
        _runningNetwork = new GaussianPolicy(n, m, initial.HiddenSizes, maxBatch: 1, seed: 1);
        _runningNetwork.CopyFrom(initial);
        _runningNormalizer = new RunningMeanStd(n);
        if (initialNormalizer is not null) _runningNormalizer.CopyFrom(initialNormalizer);
        _kl = new PolicyKl.Scratch(n, m);
    }

    /// <summary>The policy the loop starts with.</summary>
    public ControlPolicy InitialPolicy => _buffers[0].Policy;

    /// <summary>Version of the policy the robot runs (0: its own starting policy).</summary>
    public ulong Version { get; private set; }

    /// <summary>
    /// Version of the policy offered to the loop: <see cref="Version"/>, or after a rollback the good version it
    /// returned to (rollout batches are tagged with this one; <see cref="Version"/> stays the one a broadcast must beat).
    /// </summary>
    public ulong RunningVersion { get; private set; }

    /// <summary>Version of the last policy that passed every guard (what a rollback returns to).</summary>
    public ulong GoodVersion => _goodVersion;

    /// <summary>The last refusal, one line.</summary>
    public string? LastRefusal { get; private set; }

    public long Count(FleetPolicyVerdict verdict) => Interlocked.Read(ref _verdicts[(int)verdict]);

    public void Attach(PolicyExchange exchange)
    {
        if (!ReferenceEquals(exchange.Current, _buffers[0].Policy))
            throw new ArgumentException("the exchange must start with the receiver's InitialPolicy", nameof(exchange));
        _exchange = exchange;
    }

    /// <summary>MQTT thread: keeps the newest broadcast for the fleet thread (an older one not yet judged is superseded).</summary>
    public void Offer(in System.Buffers.ReadOnlySequence<byte> payload) => Volatile.Write(ref _incoming, System.Buffers.BuffersExtensions.ToArray(payload));

    /// <inheritdoc cref="Offer(in System.Buffers.ReadOnlySequence{byte})"/>
    public void Offer(ReadOnlySpan<byte> payload) => Volatile.Write(ref _incoming, payload.ToArray());

    /// <summary>
    /// Fleet thread: judges the newest broadcast, if any, against <paramref name="recentObservations"/>
    /// (raw observations, <paramref name="count"/> of them; with none the KL guard has nothing to judge
    /// and lets the policy through to the return guard). Returns the verdict, or null when nothing came.
    /// </summary>
    public FleetPolicyVerdict? Pump(RolloutBatch recentObservations)
    {
        // Until the loop has taken the last offer there is no spare buffer: the newest broadcast waits (a stalled
        // loop would otherwise lose it, and the robot would skip to whichever version the learners send next).
        if (_exchange is not null && !ReferenceEquals(_exchange.Current, _buffers[_running].Policy)) return null;
        var payload = Interlocked.Exchange(ref _incoming, null);
        if (payload is null) return null;
        var verdict = Judge(payload, recentObservations);
        Interlocked.Increment(ref _verdicts[(int)verdict]);
        return verdict;
    }

    private FleetPolicyVerdict Judge(byte[] payload, RolloutBatch recent)
    {
        if (!_verifier.TryVerify(payload, out var body, out string? reason))
            return Refuse(FleetPolicyVerdict.BadSignature, reason);
        if (_message.TryDecode(body.Span, out reason) != FrameStatus.Ok)
            return Refuse(FleetPolicyVerdict.Malformed, reason);
        if (_message.Version <= Version)
            return Refuse(FleetPolicyVerdict.NotNewer, $"version {_message.Version} is not newer than {Version}");
        if (!Finite(_message))
            return Refuse(FleetPolicyVerdict.NonFinite, $"version {_message.Version} holds a NaN or infinity");
        if (_exchange is null) return Refuse(FleetPolicyVerdict.Malformed, "not attached to the loop");

        // The spare buffer is the one the loop released (Pump waits until the loop has taken the running one).
        int spare = 1 - _running;
        _exchange.TakeReleased();
        var (policy, network, normalizer) = _buffers[spare];
        _message.Parameters.CopyTo(network.Parameters);
        if (_message.HasNormalizer) normalizer.Restore(_message.NormalizerMean, _message.NormalizerVariance, _message.NormalizerCount);
        else normalizer.Reset();
        double kl = MeanKl(_runningNetwork, _runningNormalizer, network, normalizer, recent);
        if (!(kl <= _maxKl))
            return Refuse(FleetPolicyVerdict.KlBound, $"version {_message.Version}: mean KL {kl:G3} above the bound {_maxKl:G3}");
        _runningNetwork.CopyFrom(network);
        _runningNormalizer.CopyFrom(normalizer);

        policy.Version = _message.Version;
        _exchange.Publish(policy);
        _running = spare;
        Version = _message.Version;
        RunningVersion = Version;
        LastRefusal = null;
        if (_evaluationEpisodes > 0 && _recentCount >= _evaluationEpisodes)
        {
            _evaluationBaseline = LastReturnsMean(_evaluationEpisodes);
            _evaluationSum = 0;
            _evaluationCount = 0;
            _evaluating = true;
        }
        else
        {
            Commit();
        }
        return FleetPolicyVerdict.Accepted;
    }

    /// <summary>Fleet thread: an episode of the running policy ended (feeds the return guard).</summary>
    public void OnEpisode(double episodeReturn)
    {
        _recentReturns[_recentCount % ReturnWindow] = episodeReturn;
        _recentCount++;
        if (!_evaluating) return;
        _evaluationSum += episodeReturn;
        if (++_evaluationCount < _evaluationEpisodes) return;
        _evaluating = false;
        double mean = _evaluationSum / _evaluationCount;
        double floor = _evaluationBaseline - _returnDropMargin * Math.Max(Math.Abs(_evaluationBaseline), 1.0);
        if (mean >= floor)
        {
            Commit();
            return;
        }
        // Roll back: the previous good policy goes into the spare buffer and back to the loop.
        int spare = 1 - _running;
        if (_exchange!.TakeReleased() is null && ReferenceEquals(_exchange.Current, _buffers[spare].Policy))
            spare = _running; // cannot happen after an episode (the loop took the new one long ago); stay safe
        var (policy, network, normalizer) = _buffers[spare];
        network.CopyFrom(_goodNetwork);
        normalizer.CopyFrom(_goodNormalizer);
        _runningNetwork.CopyFrom(_goodNetwork);
        _runningNormalizer.CopyFrom(_goodNormalizer);
        policy.Version = _goodVersion;
        _exchange.Publish(policy);
        _running = spare;
        RunningVersion = _goodVersion;
        // Keep the refused version as the one to beat: only a newer broadcast is considered.
        Interlocked.Increment(ref _verdicts[(int)FleetPolicyVerdict.ReturnDrop]);
        LastRefusal = $"version {Version}: mean return {mean:G4} over {_evaluationEpisodes} episodes fell below {floor:G4}; back to version {_goodVersion}";
    }

    private void Commit()
    {
        var (_, network, normalizer) = _buffers[_running];
        _goodNetwork.CopyFrom(network);
        _goodNormalizer.CopyFrom(normalizer);
        _goodVersion = Version;
    }

    private FleetPolicyVerdict Refuse(FleetPolicyVerdict verdict, string? reason)
    {
        LastRefusal = reason;
        return verdict;
    }

    /// <summary>Mean over the observations of KL(old ‖ new) of the diagonal Gaussians, each policy with its own normaliser.</summary>
    private double MeanKl(GaussianPolicy old, RunningMeanStd oldNormalizer, GaussianPolicy next, RunningMeanStd nextNormalizer, RolloutBatch observations)
    {
        int count = observations.Count;
        if (count == 0) return 0;
        double sum = 0;
        for (int i = 0; i < count; i++)
            sum += PolicyKl.At(old, oldNormalizer, next, nextNormalizer, observations.Observation(i), _kl);
        return sum / count;
    }

    private static bool Finite(FleetPolicyMessage m)
    {
        foreach (float v in m.Parameters) if (!float.IsFinite(v)) return false;
        if (!m.HasNormalizer) return true;
        if (!double.IsFinite(m.NormalizerCount) || m.NormalizerCount <= 0) return false;
        foreach (double v in m.NormalizerMean) if (!double.IsFinite(v)) return false;
        foreach (double v in m.NormalizerVariance) if (!double.IsFinite(v) || v < 0) return false;
        return true;
    }

    private double LastReturnsMean(int count)
    {
        double sum = 0;
        for (int k = 1; k <= count; k++) sum += _recentReturns[(_recentCount - k) % ReturnWindow];
        return sum / count;
    }
}
