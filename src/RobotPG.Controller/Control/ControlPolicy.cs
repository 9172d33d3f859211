using System.IO.Hashing;
using System.Runtime.InteropServices;
using RobotPG.Learning.Checkpoints;
using RobotPG.Learning.Networks;
using RobotPG.Learning.Normalization;
using RobotPG.Numerics;

namespace RobotPG.Controller.Control;

/// <summary>
/// The policy the loop runs (control steps 3–4): the observation normaliser frozen from the
/// checkpoint, then a ~ N(μ(s), σ) from the Gaussian MLP (or μ when deterministic). Without a
/// checkpoint it is the zero policy: a = 0, log-prob 0. Allocates nothing per step.
/// </summary>
public sealed class ControlPolicy
{
    private readonly GaussianPolicy? _network;
    private readonly RunningMeanStd? _normalizer;
    private readonly bool _deterministic;

    private ControlPolicy(int observationSize, int actionSize, GaussianPolicy? network, RunningMeanStd? normalizer, bool deterministic, string source)
    {
        ObservationSize = observationSize;
        ActionSize = actionSize;
        _network = network;
        _normalizer = normalizer;
        _deterministic = deterministic;
        Source = source;
        Hash = network is null ? 0 : XxHash64.HashToUInt64(MemoryMarshal.AsBytes((ReadOnlySpan<float>)network.Parameters));
    }

    public int ObservationSize { get; }

    public int ActionSize { get; }

    /// <summary>XxHash64 of the parameters (0 for the zero policy); goes into the log header.</summary>
    public ulong Hash { get; }

    /// <summary>"zero" or the checkpoint path.</summary>
    public string Source { get; }

    /// <summary>
    /// The bytes this policy was loaded from — the operator's signed envelope when it came signed — or empty
    /// (the zero policy, a learner's network): what the save command writes.
    /// </summary>
    public ReadOnlyMemory<byte> Stored { get; internal set; }

    /// <summary>
    /// The fleet version this policy carries (0 outside a fleet). Set by the fleet receiver while the object is its
    /// spare, before it is published; the loop records it in the <see cref="PolicyExchange"/>'s swap history.
    /// </summary>
    public ulong Version { get; set; }

    /// <summary>False for the zero policy, which has no action distribution (and no KL to another policy).</summary>
    public bool HasNetwork => _network is not null;

    public static ControlPolicy Zero(int observationSize, int actionSize) =>
        new(observationSize, actionSize, null, null, deterministic: true, "zero");

    public static ControlPolicy FromNetwork(GaussianPolicy network, RunningMeanStd? normalizer, bool deterministic, string source) =>
        new(network.ObservationSize, network.ActionSize, network, normalizer, deterministic, source);

    /// <summary>
    /// Loads a checkpoint's policy and observation normaliser; the layer sizes must match the task
    /// and the config. Throws <see cref="CheckpointException"/> with file and reason otherwise.
    /// </summary>
    public static ControlPolicy Load(string path, int observationSize, int actionSize, ReadOnlySpan<int> hiddenSizes, bool deterministic) =>
        FromCheckpoint(path, CheckpointFile.ReadAllBytes(path), observationSize, actionSize, hiddenSizes, deterministic);

    /// <summary>
    /// Like <see cref="Load"/> from checkpoint bytes (a pushed or signed checkpoint); <paramref name="path"/> names the
    /// source (<paramref name="source"/> names the policy when that is not the path). Also refuses parameters or
    /// normaliser statistics that are not finite, and a normaliser of another size than the observation.
    /// </summary>
    public static ControlPolicy FromCheckpoint(string path, ReadOnlySpan<byte> bytes, int observationSize, int actionSize, ReadOnlySpan<int> hiddenSizes, bool deterministic,
        string? source = null)
    {
        var info = CheckpointFile.ReadInfo(path, bytes);
        if (info.PolicyObservationSize != observationSize || info.PolicyActionSize != actionSize)
            throw new CheckpointException(path, $"policy is {info.PolicyObservationSize} → {info.PolicyActionSize}, the task needs {observationSize} → {actionSize}");
        if (info.PolicyHiddenSizes is null || !info.PolicyHiddenSizes.AsSpan().SequenceEqual(hiddenSizes))
            throw new CheckpointException(path, $"hidden sizes [{string.Join(", ", info.PolicyHiddenSizes ?? [])}] differ from the config's [{string.Join(", ", hiddenSizes.ToArray())}]");
        // A normaliser of another size would be skipped by the reader, and the policy would run on raw observations.
        if (info.ObservationNormalizerSize != 0 && info.ObservationNormalizerSize != observationSize)
            throw new CheckpointException(path, $"observation normaliser has {info.ObservationNormalizerSize} components, the task observes {observationSize}");
        var network = new GaussianPolicy(observationSize, actionSize, hiddenSizes, maxBatch: 1, seed: 1);
        var normalizer = info.ObservationNormalizerSize == observationSize ? new RunningMeanStd(observationSize) : null;
        CheckpointFile.Deserialize(path, bytes, new TrainingState { Policy = network, ObservationNormalizer = normalizer });
        foreach (float p in network.Parameters)
            if (!float.IsFinite(p)) throw new CheckpointException(path, "policy parameters are not all finite");
        return FromNetwork(network, normalizer, deterministic, source ?? path);
    }

    /// <summary>
    /// Mean over <paramref name="count"/> raw observations (row-major in <paramref name="observations"/>) of
    /// KL(this ‖ <paramref name="candidate"/>), each policy with its own normaliser: the KL-bound guard of a pushed or
    /// loaded policy. Works on private copies of both networks, so the loop may run either meanwhile. 0 without
    /// observations; NaN when either is the zero policy (it has no distribution).
    /// </summary>
    public double MeanKl(ControlPolicy candidate, ReadOnlySpan<float> observations, int count)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        if (_network is null || candidate._network is null) return double.NaN;
        if (count == 0) return 0;
        var (oldNetwork, oldNormalizer) = PrivateCopy();
        var (newNetwork, newNormalizer) = candidate.PrivateCopy();
        var scratch = new PolicyKl.Scratch(ObservationSize, ActionSize);
        double sum = 0;
        for (int i = 0; i < count; i++)
            sum += PolicyKl.At(oldNetwork, oldNormalizer, newNetwork, newNormalizer, observations.Slice(i * ObservationSize, ObservationSize), scratch);
        return sum / count;
    }

    private (GaussianPolicy, RunningMeanStd?) PrivateCopy()
    {
        var network = new GaussianPolicy(ObservationSize, ActionSize, _network!.HiddenSizes, maxBatch: 1, seed: 1);
        network.CopyFrom(_network);
        RunningMeanStd? normalizer = null;
        if (_normalizer is not null)
        {
            normalizer = new RunningMeanStd(_normalizer.Size, _normalizer.Epsilon);
            normalizer.CopyFrom(_normalizer);
        }
        return (network, normalizer);
    }

    /// <summary>Normalises <paramref name="observation"/> into <paramref name="normalized"/>, writes the action, returns its log-probability.</summary>
    public float Act(ReadOnlySpan<float> observation, Span<float> normalized, Span<float> action, ref Prng prng)
    {
        if (_normalizer is null)
            observation.CopyTo(normalized);
        else
            _normalizer.Normalize(observation, normalized);
        if (_network is null)
        {
            action.Clear();
            return 0f;
        }
        if (_deterministic)
        {
            _network.Mean(normalized, action);
            return _network.LogProb(normalized, action);
        }
        return _network.Sample(normalized, action, ref prng);
    }
}
