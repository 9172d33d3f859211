using RobotPG.Learning.Checkpoints;
using RobotPG.Learning.Networks;
using RobotPG.Learning.Normalization;
using RobotPG.Numerics;

namespace RobotPG.Learning.Algorithms;

/// <summary>
/// What acts and what a checkpoint holds: the Gaussian policy, the critic, and the observation
/// normaliser (running statistics, clip ±<see cref="ObservationClip"/>) that both see. A reloaded agent
/// acts exactly as the saved one because the normaliser's statistics travel with the parameters.
/// </summary>
public sealed class ActorCritic
{
    private readonly float[] _normalized;

    public ActorCritic(int observationSize, int actionSize, ReadOnlySpan<int> policyHiddenSizes, ReadOnlySpan<int> valueHiddenSizes,
        int maxBatch, ulong seed, bool normalizeObservations = true, float observationClip = 10f)
    {
        // Distinct seeds for the two networks, both derived from the run's seed.
        Policy = new GaussianPolicy(observationSize, actionSize, policyHiddenSizes, maxBatch, seed * 2 + 1);
        Value = new ValueNetwork(observationSize, valueHiddenSizes, maxBatch, seed * 2 + 2);
        ObservationStatistics = normalizeObservations ? new RunningMeanStd(observationSize) : null;
        ObservationClip = observationClip;
        _normalized = new float[observationSize];
    }

    public GaussianPolicy Policy { get; }
    public ValueNetwork Value { get; }

    /// <summary>Running observation statistics; null when observations are used as they are.</summary>
    public RunningMeanStd? ObservationStatistics { get; }
    public float ObservationClip { get; }

    public int ObservationSize => Policy.ObservationSize;
    public int ActionSize => Policy.ActionSize;

    /// <summary>Normalises and clips (or copies) a raw observation; statistics are not updated.</summary>
    public void NormalizeObservation(ReadOnlySpan<float> raw, Span<float> normalized)
    {
        if (ObservationStatistics is { } stats) stats.Normalize(raw, normalized, ObservationClip);
        else raw.CopyTo(normalized);
    }

    /// <summary>Adds a raw observation to the running statistics (training only).</summary>
    public void ObserveStatistics(ReadOnlySpan<float> raw) => ObservationStatistics?.Update(raw);

    /// <summary>The deterministic action μ(normalised s) for a raw observation.</summary>
    public void ActDeterministic(ReadOnlySpan<float> rawObservation, Span<float> action)
    {
        NormalizeObservation(rawObservation, _normalized);
        Policy.Mean(_normalized, action);
    }

    /// <summary>A sampled action for a raw observation; returns its log-prob.</summary>
    public float Act(ReadOnlySpan<float> rawObservation, Span<float> action, ref Prng prng)
    {
        NormalizeObservation(rawObservation, _normalized);
        return Policy.Sample(_normalized, action, ref prng);
    }

    /// <summary>A checkpoint view of this agent (policy, critic, normaliser).</summary>
    public TrainingState ToTrainingState(string tag) => new()
    {
        Policy = Policy,
        Value = Value,
        ObservationNormalizer = ObservationStatistics,
        Tag = tag,
    };

    /// <summary>Builds an agent shaped as the checkpoint at <paramref name="path"/> and loads it.</summary>
    public static ActorCritic Load(string path, int maxBatch = 1)
    {
        CheckpointInfo info = CheckpointFile.ReadInfo(path);
        if (info.PolicyHiddenSizes is null || info.PolicyObservationSize < 1)
            throw new CheckpointException(path, "holds no policy");
        int[] valueHidden = info.ValueHiddenSizes ?? info.PolicyHiddenSizes;
        var agent = new ActorCritic(info.PolicyObservationSize, info.PolicyActionSize, info.PolicyHiddenSizes, valueHidden, maxBatch, 0,
            normalizeObservations: info.ObservationNormalizerSize > 0);
        TrainingState state = agent.ToTrainingState("");
        if (info.ValueHiddenSizes is null) state.Value = null;
        CheckpointFile.Load(path, state);
        return agent;
    }
}
