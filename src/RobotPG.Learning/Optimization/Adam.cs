namespace RobotPG.Learning.Optimization;

/// <summary>
/// Adam (Kingma &amp; Ba) as in PyTorch: m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g²,
/// θ ← θ − lr · m̂ / (√v̂ + ε) with bias-corrected m̂, v̂. Minimises: pass the gradient of a loss.
/// One optimiser can drive several parameter spans (CleanRL's single Adam over actor and critic):
/// call <see cref="BeginStep"/> once, then <see cref="Apply"/> per span at its offset in the state.
/// </summary>
public sealed class Adam
{
    private readonly float[] _m;
    private readonly float[] _v;
    private double _beta1Power = 1.0;
    private double _beta2Power = 1.0;
    private long _stepCount;

    public Adam(int parameterCount, float learningRate, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-8f)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(parameterCount, 1);
        if (!(learningRate >= 0f)) throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "must be ≥ 0");
        if (!(beta1 >= 0f && beta1 < 1f)) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "must be in [0, 1)");
        if (!(beta2 >= 0f && beta2 < 1f)) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "must be in [0, 1)");
        if (!(epsilon > 0f)) throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "must be > 0");
        _m = new float[parameterCount];
        _v = new float[parameterCount];
        LearningRate = learningRate;
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
    }

    public int ParameterCount => _m.Length;

    /// <summary>Settable between steps (PPO anneals it linearly).</summary>
    public float LearningRate { get; set; }
    public float Beta1 { get; }
    public float Beta2 { get; }
    public float Epsilon { get; }

    /// <summary>Steps taken (t); restoring it from a checkpoint restores the bias corrections.</summary>
    public long StepCount
    {
        get => _stepCount;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            _stepCount = value;
            _beta1Power = Math.Pow(Beta1, value);
            _beta2Power = Math.Pow(Beta2, value);
        }
    }

    /// <summary>First-moment estimate m (read/write, for checkpoints).</summary>
    public Span<float> FirstMoment => _m;

    /// <summary>Second-moment estimate v (read/write, for checkpoints).</summary>
    public Span<float> SecondMoment => _v;

    /// <summary>θ ← θ − Adam(g) for a single span covering the whole state.</summary>
    public void Step(Span<float> parameters, ReadOnlySpan<float> gradients)
    {
        if (parameters.Length != ParameterCount) throw new ArgumentException($"parameters must hold {ParameterCount} floats", nameof(parameters));
        BeginStep();
        Apply(0, parameters, gradients);
    }

    /// <summary>One step over two spans sharing this optimiser (state layout [first..., second...]).</summary>
    public void Step(Span<float> first, ReadOnlySpan<float> firstGradients, Span<float> second, ReadOnlySpan<float> secondGradients)
    {
        if (first.Length + second.Length != ParameterCount)
            throw new ArgumentException($"the two spans must hold {ParameterCount} floats together", nameof(second));
        BeginStep();
        Apply(0, first, firstGradients);
        Apply(first.Length, second, secondGradients);
    }

    /// <summary>Advances t; follow with <see cref="Apply"/> on every span of the step.</summary>
    public void BeginStep()
    {
        _stepCount++;
        _beta1Power *= Beta1;
        _beta2Power *= Beta2;
    }

    /// <summary>Updates <paramref name="parameters"/> with the state at [offset, offset + length).</summary>
    public void Apply(int offset, Span<float> parameters, ReadOnlySpan<float> gradients)
    {
        if (parameters.Length != gradients.Length) throw new ArgumentException("parameters and gradients differ in length", nameof(gradients));
        if (offset < 0 || offset > ParameterCount - parameters.Length)
            throw new ArgumentOutOfRangeException(nameof(offset), offset, "span does not fit in the optimiser state");
        if (_stepCount == 0) throw new InvalidOperationException("call BeginStep before Apply");
        float b1 = Beta1, b2 = Beta2, eps = Epsilon;
        float stepSize = (float)(LearningRate / (1.0 - _beta1Power));
        float invSqrtCorrection2 = (float)(1.0 / Math.Sqrt(1.0 - _beta2Power));
        Span<float> m = _m.AsSpan(offset, parameters.Length);
        Span<float> v = _v.AsSpan(offset, parameters.Length);
        for (int i = 0; i < parameters.Length; i++)
        {
            float g = gradients[i];
            float mi = b1 * m[i] + (1f - b1) * g;
            float vi = b2 * v[i] + (1f - b2) * g * g;
            m[i] = mi;
            v[i] = vi;
            parameters[i] -= stepSize * mi / (MathF.Sqrt(vi) * invSqrtCorrection2 + eps);
        }
    }

    /// <summary>Zeroes the moments and t.</summary>
    public void Reset()
    {
        _m.AsSpan().Clear();
        _v.AsSpan().Clear();
        StepCount = 0;
    }

    /// <summary>Copies moments, t and learning rate from an optimiser of the same size and betas.</summary>
    public void CopyFrom(Adam other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.ParameterCount != ParameterCount) throw new ArgumentException("optimisers differ in size", nameof(other));
        other._m.AsSpan().CopyTo(_m);
        other._v.AsSpan().CopyTo(_v);
        LearningRate = other.LearningRate;
        StepCount = other.StepCount;
    }
}
