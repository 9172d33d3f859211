using RobotPG.Numerics;

namespace RobotPG.Learning.Networks;

/// <summary>
/// Diagonal Gaussian policy π(a|s) = N(μ(s), diag σ²): μ is a tanh MLP (orthogonal init, head gain
/// 0.01), log σ is a state-independent vector (initialised to 0). θ is one flat span:
/// [MLP weights and biases..., logσ...]. Every buffer is allocated by the constructor; sampling,
/// log-probabilities, their gradients, KL and the Fisher-vector product allocate nothing.
/// Batch methods cache their forward pass; the matching Accumulate* call must follow its batch call.
/// </summary>
public sealed class GaussianPolicy
{
    /// <summary>½·log(2π).</summary>
    public const float HalfLogTwoPi = (float)DiagonalGaussian.HalfLogTwoPi;

    private enum BatchCache { None, LogProb, Kl, Fisher }

    private readonly int[] _hiddenSizes;
    private readonly float[] _parameters;
    private readonly float[] _gradients;
    private readonly Mlp _mean;
    private readonly int _meanParameterCount;
    private readonly float[] _singleMean;
    private readonly float[] _batchMeans;
    private readonly float[] _batchActions;
    private readonly float[] _meanGradients;
    private readonly float[] _oldMeans;
    private readonly float[] _oldLogStd;
    private BatchCache _cache;
    private int _cachedCount;

    public GaussianPolicy(int observationSize, int actionSize, ReadOnlySpan<int> hiddenSizes, int maxBatch, ulong seed)
        : this(observationSize, actionSize, hiddenSizes, maxBatch, new Prng(seed))
    {
    }

    private GaussianPolicy(int observationSize, int actionSize, ReadOnlySpan<int> hiddenSizes, int maxBatch, Prng prng)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(observationSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(actionSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        _hiddenSizes = hiddenSizes.ToArray();
        _meanParameterCount = Mlp.CountParameters(observationSize, hiddenSizes, actionSize);
        ParameterCount = _meanParameterCount + actionSize;
        _parameters = new float[ParameterCount];
        _gradients = new float[ParameterCount];
        _mean = new Mlp(observationSize, hiddenSizes, actionSize, maxBatch, _parameters, _gradients, 0);
        _mean.InitializeOrthogonal(0.01f, ref prng);
        // log σ starts at 0 (σ = 1), as in CleanRL's continuous PPO.
        _singleMean = new float[actionSize];
        _batchMeans = new float[maxBatch * actionSize];
        _batchActions = new float[maxBatch * actionSize];
        _meanGradients = new float[maxBatch * actionSize];
        _oldMeans = new float[maxBatch * actionSize];
        _oldLogStd = new float[actionSize];
    }

    public int ObservationSize => _mean.InputSize;
    public int ActionSize => _mean.OutputSize;
    public int MaxBatch => _mean.MaxBatch;
    public ReadOnlySpan<int> HiddenSizes => _hiddenSizes;

    /// <summary>Length of θ: the mean network's parameters plus one log σ per action.</summary>
    public int ParameterCount { get; }

    /// <summary>Number of leading θ entries that belong to the mean network.</summary>
    public int MeanParameterCount => _meanParameterCount;

    /// <summary>θ = [mean MLP..., logσ...] as one span (read and write).</summary>
    public Span<float> Parameters => _parameters;

    /// <summary>Accumulated ∂/∂θ, same layout as <see cref="Parameters"/>.</summary>
    public Span<float> Gradients => _gradients;

    /// <summary>The log standard deviations, a view at the end of θ.</summary>
    public Span<float> LogStd => _parameters.AsSpan(_meanParameterCount, ActionSize);

    /// <summary>The mean network (a view into θ).</summary>
    public Mlp MeanNetwork => _mean;

    public void ZeroGradients() => _gradients.AsSpan().Clear();

    /// <summary>μ(s) for one observation.</summary>
    public void Mean(ReadOnlySpan<float> observation, Span<float> mean) => _mean.Forward(observation, mean);

    /// <summary>μ(s) for <paramref name="count"/> observations (count×ObservationSize → count×ActionSize).</summary>
    public void MeanBatch(ReadOnlySpan<float> observations, int count, Span<float> means)
    {
        _mean.ForwardBatch(observations, count, means);
        _cache = BatchCache.None;
    }

    /// <summary>Draws a ~ π(·|s) into <paramref name="action"/> and returns log π(a|s).</summary>
    public float Sample(ReadOnlySpan<float> observation, Span<float> action, ref Prng prng)
    {
        if (action.Length != ActionSize) throw new ArgumentException($"action must hold {ActionSize} values", nameof(action));
        _mean.Forward(observation, _singleMean);
        ReadOnlySpan<float> logStd = LogStd;
        float logProb = 0f;
        for (int j = 0; j < action.Length; j++)
        {
            float eps = (float)prng.NextGaussian();
            action[j] = _singleMean[j] + MathF.Exp(logStd[j]) * eps;
            logProb -= 0.5f * eps * eps + logStd[j] + HalfLogTwoPi;
        }
        return logProb;
    }

    /// <summary>log π(a|s) = Σⱼ −½((aⱼ−μⱼ)/σⱼ)² − log σⱼ − ½ log 2π.</summary>
    public float LogProb(ReadOnlySpan<float> observation, ReadOnlySpan<float> action)
    {
        if (action.Length != ActionSize) throw new ArgumentException($"action must hold {ActionSize} values", nameof(action));
        _mean.Forward(observation, _singleMean);
        return LogDensity(_singleMean, action, LogStd);
    }

    /// <summary>Entropy of π(·|s) (the same for every s): Σⱼ log σⱼ + ½(1 + log 2π).</summary>
    public float Entropy()
    {
        float h = 0f;
        foreach (float ls in LogStd) h += ls + 0.5f + HalfLogTwoPi;
        return h;
    }

    /// <summary>
    /// log π(aᵢ|sᵢ) for a batch; caches the batch for <see cref="AccumulateLogProbGradient"/>.
    /// </summary>
    public void LogProbBatch(ReadOnlySpan<float> observations, ReadOnlySpan<float> actions, int count, Span<float> logProbs)
    {
        int a = ActionSize;
        if (actions.Length < count * a) throw new ArgumentException("actions hold fewer than count rows", nameof(actions));
        if (logProbs.Length < count) throw new ArgumentException("logProbs is shorter than count", nameof(logProbs));
        _mean.ForwardBatch(observations, count, _batchMeans);
        actions[..(count * a)].CopyTo(_batchActions);
        ReadOnlySpan<float> logStd = LogStd;
        for (int i = 0; i < count; i++)
            logProbs[i] = LogDensity(_batchMeans.AsSpan(i * a, a), _batchActions.AsSpan(i * a, a), logStd);
        _cache = BatchCache.LogProb;
        _cachedCount = count;
    }

    /// <summary>
    /// Gradients += Σᵢ wᵢ ∇θ log π(aᵢ|sᵢ) over the batch of the latest <see cref="LogProbBatch"/>
    /// (the ascent direction of Σ wᵢ log π; pass −wᵢ to accumulate the gradient of a loss).
    /// </summary>
    public void AccumulateLogProbGradient(ReadOnlySpan<float> weights, int count)
    {
        CheckCache(BatchCache.LogProb, count);
        if (weights.Length < count) throw new ArgumentException("weights is shorter than count", nameof(weights));
        int a = ActionSize;
        ReadOnlySpan<float> logStd = LogStd;
        Span<float> logStdGrad = _gradients.AsSpan(_meanParameterCount, a);
        for (int i = 0; i < count; i++)
        {
            float w = weights[i];
            for (int j = 0; j < a; j++)
            {
                float diff = _batchActions[i * a + j] - _batchMeans[i * a + j];
                _meanGradients[i * a + j] = w * DiagonalGaussian.MeanScore(diff, logStd[j]);
                logStdGrad[j] += w * DiagonalGaussian.LogStdScore(diff, logStd[j]);
            }
        }
        _mean.BackwardBatch(_meanGradients, count, _gradients.AsSpan(0, _meanParameterCount));
    }

    /// <summary>Gradients += coefficient·∇θ H: ∂H/∂log σⱼ = 1, the mean network does not enter.</summary>
    public void AccumulateEntropyGradient(float coefficient)
    {
        Span<float> logStdGrad = _gradients.AsSpan(_meanParameterCount, ActionSize);
        for (int j = 0; j < logStdGrad.Length; j++) logStdGrad[j] += coefficient;
    }

    /// <summary>
    /// Mean over the batch of KL(old ‖ this) between diagonal Gaussians, the old policy given by its
    /// means (count×ActionSize) and log σ. Caches the batch for <see cref="AccumulateKlGradient"/>.
    /// </summary>
    public float KlDivergence(ReadOnlySpan<float> oldMeans, ReadOnlySpan<float> oldLogStd, ReadOnlySpan<float> observations, int count)
    {
        int a = ActionSize;
        if (oldMeans.Length < count * a) throw new ArgumentException("old means hold fewer than count rows", nameof(oldMeans));
        if (oldLogStd.Length != a) throw new ArgumentException($"old log-std must hold {a} values", nameof(oldLogStd));
        if (!oldMeans.Overlaps(_oldMeans)) oldMeans[..(count * a)].CopyTo(_oldMeans);
        oldLogStd.CopyTo(_oldLogStd);
        _mean.ForwardBatch(observations, count, _batchMeans);
        ReadOnlySpan<float> logStd = LogStd;
        double kl = 0;
        for (int j = 0; j < a; j++)
        {
            float invVar = MathF.Exp(-2f * logStd[j]);
            float oldVar = MathF.Exp(2f * _oldLogStd[j]);
            float perDim = 0f;
            for (int i = 0; i < count; i++)
            {
                float d = _oldMeans[i * a + j] - _batchMeans[i * a + j];
                perDim += d * d;
            }
            kl += count * (logStd[j] - _oldLogStd[j] + 0.5f * oldVar * invVar - 0.5f) + 0.5f * invVar * perDim;
        }
        _cache = BatchCache.Kl;
        _cachedCount = count;
        return (float)(kl / count);
    }

    /// <summary>Mean KL(old ‖ this) with the old policy given as another policy of the same shape.</summary>
    public float KlDivergence(GaussianPolicy old, ReadOnlySpan<float> observations, int count)
    {
        ArgumentNullException.ThrowIfNull(old);
        CheckSameShape(old);
        old.MeanBatch(observations, count, _oldMeans);
        return KlDivergence(_oldMeans, old.LogStd, observations, count);
    }

    /// <summary>Gradients += scale·∇θ (mean KL(old ‖ this)) for the batch of the latest <see cref="KlDivergence(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, int)"/>.</summary>
    public void AccumulateKlGradient(float scale)
    {
        CheckCache(BatchCache.Kl, _cachedCount);
        int a = ActionSize, count = _cachedCount;
        float perSample = scale / count;
        ReadOnlySpan<float> logStd = LogStd;
        Span<float> logStdGrad = _gradients.AsSpan(_meanParameterCount, a);
        for (int j = 0; j < a; j++)
        {
            float invVar = MathF.Exp(-2f * logStd[j]);
            float oldVar = MathF.Exp(2f * _oldLogStd[j]);
            float sum = 0f;
            for (int i = 0; i < count; i++)
            {
                float d = _batchMeans[i * a + j] - _oldMeans[i * a + j];
                _meanGradients[i * a + j] = perSample * d * invVar;
                sum += 1f - (oldVar + d * d) * invVar;
            }
            logStdGrad[j] += perSample * sum;
        }
        _mean.BackwardBatch(_meanGradients, count, _gradients.AsSpan(0, _meanParameterCount));
    }

    /// <summary>
    /// result = (F + damping·I)·v, F the Fisher information of π averaged over the batch of states
    /// (equal to the Hessian of mean KL(π_θ ‖ π_θ') at θ' = θ). With σ state-independent F is block
    /// diagonal: (1/N)Σᵢ Jᵢᵀ diag(1/σ²) Jᵢ on the mean network (Jᵢ = ∂μ(sᵢ)/∂θ) and 2·I on log σ.
    /// Computed by a Jacobian-vector product and a backward pass; F is never formed.
    /// </summary>
    public void FisherVectorProduct(ReadOnlySpan<float> observations, int count, ReadOnlySpan<float> v, Span<float> result, float damping = 0f)
    {
        PrepareFisher(observations, count);
        FisherVectorProduct(v, result, damping);
    }

    /// <summary>
    /// Runs and keeps the forward pass at these states so that repeated
    /// <see cref="FisherVectorProduct(ReadOnlySpan{float}, Span{float}, float)"/> calls (conjugate
    /// gradient) skip it. Valid until θ changes or another batch method runs.
    /// </summary>
    public void PrepareFisher(ReadOnlySpan<float> observations, int count)
    {
        _mean.ForwardBatch(observations, count, _batchMeans);
        _cache = BatchCache.Fisher;
        _cachedCount = count;
    }

    /// <summary>result = (F + damping·I)·v at the states of the latest <see cref="PrepareFisher"/>.</summary>
    public void FisherVectorProduct(ReadOnlySpan<float> v, Span<float> result, float damping = 0f)
    {
        if (v.Length != ParameterCount) throw new ArgumentException($"v must hold {ParameterCount} floats", nameof(v));
        if (result.Length != ParameterCount) throw new ArgumentException($"result must hold {ParameterCount} floats", nameof(result));
        if (v.Overlaps(result)) throw new ArgumentException("v and result must not overlap", nameof(result));
        if (_cache != BatchCache.Fisher) throw new InvalidOperationException("call PrepareFisher before FisherVectorProduct(v, result)");
        int a = ActionSize, m = _meanParameterCount, count = _cachedCount;
        _mean.JacobianVectorProductBatch(v[..m], count, _meanGradients);
        ReadOnlySpan<float> logStd = LogStd;
        for (int j = 0; j < a; j++)
        {
            float w = MathF.Exp(-2f * logStd[j]) / count;
            for (int i = 0; i < count; i++) _meanGradients[i * a + j] *= w;
        }
        result.Clear();
        _mean.BackwardBatch(_meanGradients, count, result[..m]);
        for (int j = 0; j < a; j++) result[m + j] = 2f * v[m + j];
        if (damping != 0f) Kernels.Axpy(damping, v, result);
    }

    /// <summary>Copies θ from a policy of the same shape (front/back parameter buffers).</summary>
    public void CopyFrom(GaussianPolicy other)
    {
        ArgumentNullException.ThrowIfNull(other);
        CheckSameShape(other);
        other._parameters.AsSpan().CopyTo(_parameters);
    }

    public bool SameShape(GaussianPolicy other) => _mean.SameShape(other._mean);

    private void CheckSameShape(GaussianPolicy other)
    {
        if (!SameShape(other)) throw new ArgumentException("policies have different sizes", nameof(other));
    }

    private static float LogDensity(ReadOnlySpan<float> mean, ReadOnlySpan<float> action, ReadOnlySpan<float> logStd)
    {
        float logProb = 0f;
        for (int j = 0; j < mean.Length; j++) logProb += DiagonalGaussian.LogDensity(action[j] - mean[j], logStd[j]);
        return logProb;
    }

    private void CheckCache(BatchCache expected, int count)
    {
        if (_cache != expected || count != _cachedCount)
            throw new InvalidOperationException(expected == BatchCache.LogProb
                ? "AccumulateLogProbGradient needs the batch of the preceding LogProbBatch (same count, no other batch call between)"
                : "AccumulateKlGradient needs the batch of the preceding KlDivergence (no other batch call between)");
    }
}
