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
    public static double MeanReturn(ReadOnlySpan<float> rewards, ReadOnlySpan<bool> trajectoryEnds, double gamma)
    {
        if (rewards.Length == 0 || trajectoryEnds.Length != rewards.Length)
            throw new ArgumentException($"need one trajectory-end flag per reward and at least one step (got {rewards.Length} rewards, {trajectoryEnds.Length} flags)");
        double sum = 0;
        int count = 0, start = 0;
        while (start < rewards.Length)
        {
            int end = ReturnWeighting.TrajectoryEnd(trajectoryEnds, start);
            double discount = 1;
            for (int t = start; t <= end; t++)
            {
                sum += discount * rewards[t];
                discount *= gamma;
            }
            count++;
            start = end + 1;
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
/// variance. Both are offered. Works on trajectory-level scores: <c>scores</c> is m×n row-major with
/// row i = ∇_θ log P(τᵢ) = Σₜ ∇log π(aₜ|sₜ) (note 001: the dynamics drop out).
/// </summary>
public static class OptimalConstantBaseline
{
    /// <summary>Scalar form b = Σᵢ ‖sᵢ‖² Rᵢ / Σᵢ ‖sᵢ‖².</summary>
    public static double Scalar(ReadOnlySpan<float> scores, ReadOnlySpan<float> returns, int parameterCount)
    {
        int m = CheckShape(scores, returns, parameterCount);
        double numerator = 0, denominator = 0;
        for (int i = 0; i < m; i++)
        {
            ReadOnlySpan<float> row = scores.Slice(i * parameterCount, parameterCount);
            double squared = 0;
            for (int j = 0; j < parameterCount; j++) squared += (double)row[j] * row[j];
            numerator += squared * returns[i];
            denominator += squared;
        }
        return denominator > 0 ? numerator / denominator : 0;
    }

    /// <summary>Per-parameter form b_j = Σᵢ s_ij² Rᵢ / Σᵢ s_ij² (0 for a parameter with no score).</summary>
    public static void PerParameter(ReadOnlySpan<float> scores, ReadOnlySpan<float> returns, int parameterCount, Span<double> baseline)
    {
        int m = CheckShape(scores, returns, parameterCount);
        if (baseline.Length != parameterCount)
            throw new ArgumentException($"baseline needs {parameterCount} entries, got {baseline.Length}");
        for (int j = 0; j < parameterCount; j++)
        {
            double numerator = 0, denominator = 0;
            for (int i = 0; i < m; i++)
            {
                double s = scores[i * parameterCount + j];
                numerator += s * s * returns[i];
                denominator += s * s;
            }
            baseline[j] = denominator > 0 ? numerator / denominator : 0;
        }
    }

    /// <summary>
    /// ĝ_j = (1/m) Σᵢ s_ij (Rᵢ − b_j) for a given baseline b (n entries; fill it with <see cref="Scalar"/>
    /// for the scalar form). Fitted on the same batch it is applied to, b correlates with each sample's
    /// own term and biases ĝ by O(1/m) — noticeably for this ratio (≈ 8 % at m = 64 on the bandit test);
    /// fitted on an independent batch the estimate is exactly unbiased.
    /// </summary>
    public static void Gradient(ReadOnlySpan<float> scores, ReadOnlySpan<float> returns, int parameterCount, ReadOnlySpan<double> baseline,
        Span<float> gradient)
    {
        int m = CheckShape(scores, returns, parameterCount);
        if (gradient.Length != parameterCount || baseline.Length != parameterCount)
            throw new ArgumentException($"gradient and baseline need {parameterCount} entries, got {gradient.Length} and {baseline.Length}");
        for (int j = 0; j < parameterCount; j++)
        {
            double sum = 0;
            for (int i = 0; i < m; i++) sum += scores[i * parameterCount + j] * (returns[i] - baseline[j]);
            gradient[j] = (float)(sum / m);
        }
    }

    private static int CheckShape(ReadOnlySpan<float> scores, ReadOnlySpan<float> returns, int parameterCount)
    {
        if (parameterCount <= 0 || returns.Length == 0 || scores.Length != returns.Length * parameterCount)
            throw new ArgumentException($"scores must be m×n = {returns.Length}×{parameterCount}, got {scores.Length} values");
        return returns.Length;
    }
}
