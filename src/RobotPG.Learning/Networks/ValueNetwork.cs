using RobotPG.Numerics;

namespace RobotPG.Learning.Networks;

/// <summary>
/// State-value network V(s): a tanh MLP with one linear output (orthogonal init, head gain 1.0).
/// θ and its gradient are flat spans; every buffer is allocated by the constructor.
/// </summary>
public sealed class ValueNetwork
{
    private readonly int[] _hiddenSizes;
    private readonly Mlp _mlp;
    private readonly float[] _single = new float[1];
    private readonly float[] _values;
    private readonly float[] _valueGradients;

    public ValueNetwork(int observationSize, ReadOnlySpan<int> hiddenSizes, int maxBatch, ulong seed)
    {
        var prng = new Prng(seed);
        _hiddenSizes = hiddenSizes.ToArray();
        _mlp = new Mlp(observationSize, hiddenSizes, 1, 1.0f, ref prng, maxBatch);
        _values = new float[maxBatch];
        _valueGradients = new float[maxBatch];
    }

    public int ObservationSize => _mlp.InputSize;
    public int MaxBatch => _mlp.MaxBatch;
    public ReadOnlySpan<int> HiddenSizes => _hiddenSizes;
    public int ParameterCount => _mlp.ParameterCount;
    public Span<float> Parameters => _mlp.Parameters;
    public Span<float> Gradients => _mlp.Gradients;
    public Mlp Network => _mlp;

    public void ZeroGradients() => _mlp.ZeroGradients();

    /// <summary>V(s) for one observation.</summary>
    public float Predict(ReadOnlySpan<float> observation)
    {
        _mlp.Forward(observation, _single);
        return _single[0];
    }

    /// <summary>V(sᵢ) for a batch; caches the batch for <see cref="AccumulateGradient"/>.</summary>
    public void PredictBatch(ReadOnlySpan<float> observations, int count, Span<float> values) =>
        _mlp.ForwardBatch(observations, count, values);

    /// <summary>
    /// Gradients += Σᵢ gᵢ ∇θ V(sᵢ) over the batch of the latest <see cref="PredictBatch"/>, gᵢ = ∂L/∂V(sᵢ)
    /// (for losses other than the plain squared error, e.g. PPO's clipped value loss).
    /// </summary>
    public void AccumulateGradient(ReadOnlySpan<float> valueGradients, int count) =>
        _mlp.BackwardBatch(valueGradients, count);

    /// <summary>
    /// L = scale · (1/N) Σᵢ ½ (V(sᵢ) − targetᵢ)²: forward, Gradients += ∇θ L, returns L.
    /// </summary>
    public float AccumulateSquaredErrorGradient(ReadOnlySpan<float> observations, ReadOnlySpan<float> targets, int count, float scale = 1f)
    {
        if (targets.Length < count) throw new ArgumentException("targets is shorter than count", nameof(targets));
        _mlp.ForwardBatch(observations, count, _values);
        double loss = 0;
        float perSample = scale / count;
        for (int i = 0; i < count; i++)
        {
            float err = _values[i] - targets[i];
            loss += 0.5 * err * err;
            _valueGradients[i] = perSample * err;
        }
        _mlp.BackwardBatch(_valueGradients, count);
        return (float)(scale * loss / count);
    }

    /// <summary>Copies θ from a value network of the same shape.</summary>
    public void CopyFrom(ValueNetwork other)
    {
        ArgumentNullException.ThrowIfNull(other);
        _mlp.CopyParametersFrom(other._mlp);
    }
}
