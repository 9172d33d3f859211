using RobotPG.Learning.Networks;
using RobotPG.Learning.Optimization;
using RobotPG.Learning.Rollouts;
using RobotPG.Numerics;

namespace RobotPG.Learning.Estimators;

/// <summary>
/// Fits the state-value baseline V_φ (note 001, "为了 Baseline 估计 Value function"):
/// minimise (1/N) Σ ½(V_φ(sₜ) − yₜ)² + λ‖φ − φᵢ‖² by Adam over shuffled minibatches, where φᵢ is the
/// critic before this fit. With Monte-Carlo targets yₜ = Σ_{k≥t} r_k and λ = 0 this is the
/// Monte-Carlo regression; with TD targets yₜ = r + V_φᵢ(s′) and λ &gt; 0 it is fitted V iteration with
/// the trust penalty (κ in the A3C section). Buffers sized once; <see cref="Fit"/> allocates nothing.
/// </summary>
public sealed class ValueFitting
{
    private readonly ValueNetwork _value;
    private readonly Adam _adam;
    private readonly float[] _anchor;
    private readonly int[] _indices;
    private readonly float[] _mbObservations;
    private readonly float[] _mbTargets;
    private Prng _shuffle;

    public ValueFitting(ValueNetwork value, float learningRate, int capacity, int minibatchSize, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(value);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        if (minibatchSize < 1 || minibatchSize > capacity || minibatchSize > value.MaxBatch)
            throw new ArgumentOutOfRangeException(nameof(minibatchSize), minibatchSize, $"must be in 1..min({capacity}, {value.MaxBatch})");
        _value = value;
        _adam = new Adam(value.ParameterCount, learningRate, epsilon: 1e-5f);
        _anchor = new float[value.ParameterCount];
        _indices = new int[capacity];
        _mbObservations = new float[minibatchSize * value.ObservationSize];
        _mbTargets = new float[minibatchSize];
        _shuffle = new Prng(seed);
    }

    public Adam Optimizer => _adam;

    /// <summary>Adds the gradient 2λ(φ − φᵢ) of the trust penalty λ‖φ − φᵢ‖².</summary>
    public static void AccumulateTrustPenaltyGradient(ReadOnlySpan<float> parameters, ReadOnlySpan<float> anchor, float lambda, Span<float> gradient)
    {
        for (int i = 0; i < gradient.Length; i++) gradient[i] += 2f * lambda * (parameters[i] - anchor[i]);
    }

    /// <summary>Runs <paramref name="epochs"/> epochs over the first <paramref name="count"/> samples; returns the last minibatch loss.</summary>
    public float Fit(ReadOnlySpan<float> observations, ReadOnlySpan<float> targets, int count, int epochs, float trustPenalty)
    {
        if (count > _indices.Length || targets.Length < count) throw new ArgumentException($"at most {_indices.Length} samples, with one target each");
        int m = _mbTargets.Length, o = _value.ObservationSize;
        _value.Parameters.CopyTo(_anchor);
        for (int i = 0; i < count; i++) _indices[i] = i;
        float loss = float.NaN;
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            _shuffle.Shuffle(_indices.AsSpan(0, count));
            for (int start = 0; start + m <= count; start += m)
            {
                ReadOnlySpan<int> picked = _indices.AsSpan(start, m);
                Minibatch.Gather(picked, observations, o, _mbObservations);
                Minibatch.Gather(picked, targets, 1, _mbTargets);
                _value.ZeroGradients();
                loss = _value.AccumulateSquaredErrorGradient(_mbObservations, _mbTargets, m);
                if (trustPenalty > 0) AccumulateTrustPenaltyGradient(_value.Parameters, _anchor, trustPenalty, _value.Gradients);
                _adam.Step(_value.Parameters, _value.Gradients);
            }
        }
        return loss;
    }
}
