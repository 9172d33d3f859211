namespace RobotPG.Learning.Estimators;

/// <summary>What is subtracted from the return weighting (note 001 "如何选择Baseline", note 003 Tips 1).</summary>
public enum BaselineKind
{
    None,

    /// <summary>b = E[R(τ)] ≈ (1/m) Σᵢ R(τᵢ).</summary>
    MeanReturn,

    /// <summary>b = Σᵢ ‖∇log P(τᵢ)‖² R(τᵢ) / Σᵢ ‖∇log P(τᵢ)‖² — one number for all parameters.</summary>
    OptimalConstantScalar,

    /// <summary>b_j = Σᵢ (∂_j log P(τᵢ))² R(τᵢ) / Σᵢ (∂_j log P(τᵢ))² — one number per parameter j.</summary>
    OptimalConstantPerParameter,

    /// <summary>bₜ = mean reward-to-go at time index t.</summary>
    TimeDependent,

    /// <summary>b(sₜ) = V^π(sₜ), a fitted value function.</summary>
    StateValue,
}

/// <summary>
/// Note 001, constant baseline: b = E[R(τ)] ≈ (1/m) Σᵢ R(τᵢ), with R(τ) = Σₖ γ^k r_k.
/// </summary>
public static class ConstantBaseline
{
    /// <summary>
    /// The mean of R(τᵢ) read from either weighting of <see cref="ReturnWeighting"/>: on a trajectory's first
    /// step the reward-to-go and the whole return are both R(τ).
    /// </summary>
    public static double MeanReturn(ReadOnlySpan<float> weights, ReadOnlySpan<bool> trajectoryEnds)
    {
        if (weights.Length == 0 || trajectoryEnds.Length != weights.Length)
            throw new ArgumentException($"need one trajectory-end flag per weight and at least one step (got {weights.Length} weights, {trajectoryEnds.Length} flags)");
        double sum = 0;
        int count = 0;
        for (int start = 0; start < weights.Length; start = ReturnWeighting.TrajectoryEnd(trajectoryEnds, start) + 1)
        {
            sum += weights[start];
            count++;
        }
        return sum / count;
    }

    /// <summary>wₜ ← wₜ − b.</summary>
    public static void Subtract(Span<float> weights, double baseline)
    {
        float b = (float)baseline;
        for (int i = 0; i < weights.Length; i++) weights[i] -= b;
    }
}

/// <summary>
/// Note 001, time-dependent baseline bₜ = (1/m) Σᵢ Σ_{k=t}^{H−1} R(s_k⁽ⁱ⁾, u_k⁽ⁱ⁾): the mean, over the
/// trajectories of the batch, of the weight (reward-to-go) at time index t — t counted from the start of
/// the episode, which may lie in an earlier rollout. With trajectories of unequal length the mean runs over
/// the trajectories that reach index t (equal to the note's formula when all have length H); any function
/// of t alone keeps the estimate unbiased. The sums grow (doubling) the first time a longer episode is
/// seen, so after the longest episode nothing is allocated.
/// </summary>
public sealed class TimeDependentBaseline
{
    private double[] _sum;
    private int[] _count;

    public TimeDependentBaseline(int initialHorizon)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(initialHorizon);
        _sum = new double[initialHorizon];
        _count = new int[initialHorizon];
    }

    /// <summary>Episode steps the sums currently hold.</summary>
    public int Horizon => _sum.Length;

    /// <summary>Writes bₜ for every step into <paramref name="baseline"/>, t = <paramref name="episodeSteps"/>[k].</summary>
    public void Compute(ReadOnlySpan<float> weights, ReadOnlySpan<int> episodeSteps, Span<float> baseline)
    {
        if (episodeSteps.Length != weights.Length || baseline.Length != weights.Length)
            throw new ArgumentException("weights, episode steps and baseline need one entry per step");
        int longest = 0;
        foreach (int t in episodeSteps)
        {
            if (t < 0) throw new ArgumentOutOfRangeException(nameof(episodeSteps), t, "episode steps count from 0");
            longest = Math.Max(longest, t + 1);
        }
        if (longest > _sum.Length)
        {
            int size = Math.Max(longest, 2 * _sum.Length);
            _sum = new double[size];
            _count = new int[size];
        }
        Array.Clear(_sum, 0, longest);
        Array.Clear(_count, 0, longest);
        for (int k = 0; k < weights.Length; k++)
        {
            _sum[episodeSteps[k]] += weights[k];
            _count[episodeSteps[k]]++;
        }
        for (int k = 0; k < weights.Length; k++) baseline[k] = (float)(_sum[episodeSteps[k]] / _count[episodeSteps[k]]);
    }

    /// <summary>wₜ ← wₜ − bₜ in place.</summary>
    public void Subtract(Span<float> weights, ReadOnlySpan<int> episodeSteps, Span<float> scratch)
    {
        Compute(weights, episodeSteps, scratch);
        for (int i = 0; i < weights.Length; i++) weights[i] -= scratch[i];
    }
}

/// <summary>Note 001, state-dependent baseline b(sₜ) = V^π(sₜ): Âₜ = wₜ − V(sₜ).</summary>
public static class StateValueBaseline
{
    public static void Subtract(Span<float> weights, ReadOnlySpan<float> values)
    {
        if (values.Length != weights.Length)
            throw new ArgumentException($"need one value per step ({weights.Length}), got {values.Length}");
        for (int i = 0; i < weights.Length; i++) weights[i] -= values[i];
    }
}

/// <summary>
/// Note 001, optimal constant baseline b = Σᵢ (∇_θ log P(τᵢ;θ))² R(τᵢ) / Σᵢ (∇_θ log P(τᵢ;θ))², the constant
/// that minimises the variance of ĝ = (1/m) Σᵢ ∇log P(τᵢ)(R(τᵢ) − b). Read component-wise (the square
/// of a vector is element-wise) it is one baseline per parameter — the variance-minimising choice for
/// each gradient component separately; read with ‖·‖² it is a single scalar minimising the total
/// variance. Both are offered. Trajectory-level scores sᵢ = ∇_θ log P(τᵢ) = Σₜ ∇log π(aₜ|sₜ) (note 001: the
/// dynamics drop out) are added one trajectory at a time into four running sums (Σ s²R, Σ s², Σ sR, Σ s),
/// so no m × n matrix is stored. Sums in double; allocation-free after construction.
/// </summary>
public sealed class OptimalConstantBaseline
{
    private readonly double[] _squaredScoreReturn, _squaredScore, _scoreReturn, _score;

    public OptimalConstantBaseline(int parameterCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(parameterCount);
        _squaredScoreReturn = new double[parameterCount];
        _squaredScore = new double[parameterCount];
        _scoreReturn = new double[parameterCount];
        _score = new double[parameterCount];
    }

    public int ParameterCount => _score.Length;

    /// <summary>Trajectories added since <see cref="Clear"/>.</summary>
    public int Count { get; private set; }

    public void Clear()
    {
        Array.Clear(_squaredScoreReturn);
        Array.Clear(_squaredScore);
        Array.Clear(_scoreReturn);
        Array.Clear(_score);
        Count = 0;
    }

    /// <summary>Adds one trajectory's score sᵢ = ∇log P(τᵢ) and return Rᵢ.</summary>
    public void Add(ReadOnlySpan<float> score, double trajectoryReturn)
    {
        if (score.Length != ParameterCount) throw new ArgumentException($"score needs {ParameterCount} entries, got {score.Length}", nameof(score));
        for (int j = 0; j < score.Length; j++)
        {
            double s = score[j];
            _squaredScoreReturn[j] += s * s * trajectoryReturn;
            _squaredScore[j] += s * s;
            _scoreReturn[j] += s * trajectoryReturn;
            _score[j] += s;
        }
        Count++;
    }

    /// <summary>Scalar form b = Σᵢ ‖sᵢ‖² Rᵢ / Σᵢ ‖sᵢ‖² (0 when every score is 0).</summary>
    public double Scalar()
    {
        double numerator = 0, denominator = 0;
        for (int j = 0; j < _score.Length; j++)
        {
            numerator += _squaredScoreReturn[j];
            denominator += _squaredScore[j];
        }
        return denominator > 0 ? numerator / denominator : 0;
    }

    /// <summary>Per-parameter form b_j = Σᵢ s_ij² Rᵢ / Σᵢ s_ij² (0 for a parameter with no score).</summary>
    public void PerParameter(Span<double> baseline)
    {
        if (baseline.Length != ParameterCount) throw new ArgumentException($"baseline needs {ParameterCount} entries, got {baseline.Length}", nameof(baseline));
        for (int j = 0; j < baseline.Length; j++)
            baseline[j] = _squaredScore[j] > 0 ? _squaredScoreReturn[j] / _squaredScore[j] : 0;
    }

    /// <summary>
    /// ĝ_j = (1/m) Σᵢ s_ij (Rᵢ − b_j) = (Σᵢ s_ijRᵢ − b_j Σᵢ s_ij)/m over the trajectories added, for a given b.
    /// Fitted on the same batch it is applied to, b correlates with each sample's own term and biases ĝ by
    /// O(1/m) — noticeably for this ratio (≈ 8 % at m = 64 on the bandit test); fitted on an independent
    /// batch the estimate is exactly unbiased.
    /// </summary>
    public void Gradient(ReadOnlySpan<double> baseline, Span<float> gradient)
    {
        if (gradient.Length != ParameterCount || baseline.Length != ParameterCount)
            throw new ArgumentException($"gradient and baseline need {ParameterCount} entries, got {gradient.Length} and {baseline.Length}");
        if (Count == 0) throw new InvalidOperationException("no trajectory added");
        for (int j = 0; j < gradient.Length; j++) gradient[j] = (float)((_scoreReturn[j] - baseline[j] * _score[j]) / Count);
    }
}
