namespace RobotPG.Learning.Estimators;

/// <summary>
/// The quantities TRPO's line search needs at candidate parameters θ: the importance-sampled surrogate
/// L(θ) = Ê[π_θ(aₜ|sₜ)/π_old(aₜ|sₜ) Âₜ] and the mean KL Ê[KL(π_old(·|sₜ) ‖ π_θ(·|sₜ))] over the batch
/// (note 001, "Trust Region Policy Optimization"). An interface, not a delegate, so a struct caller
/// runs allocation-free.
/// </summary>
public interface ITrustRegionObjective
{
    void Evaluate(ReadOnlySpan<float> parameters, out double surrogate, out double meanKl);
}

/// <summary>Outcome of one line search.</summary>
/// <param name="Accepted">A candidate met both conditions; otherwise the old parameters were kept.</param>
/// <param name="Backtracks">Number of shrinks before acceptance (or the number tried).</param>
/// <param name="StepFraction">Fraction of the full step taken (0 when rejected).</param>
public readonly record struct LineSearchResult(bool Accepted, int Backtracks, double StepFraction, double Surrogate, double MeanKl);

/// <summary>
/// TRPO's backtracking line search on the natural-gradient step (note 001: maximise the surrogate
/// subject to Ê[KL] ≤ δ): try θ₀ + fᵏ·Δθ for k = 0..K−1 and accept the first candidate whose mean KL
/// is ≤ δ and whose surrogate improves on L(θ₀). Defaults as SpinningUp: δ 0.01, f 0.8, K 10.
/// A candidate with a non-finite surrogate or KL is never accepted.
/// </summary>
public sealed class BacktrackingLineSearch
{
    private readonly float[] _candidate;

    public BacktrackingLineSearch(int parameterCount, double maxKl = 0.01, double backtrackRatio = 0.8, int maxBacktracks = 10)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(parameterCount);
        if (!(maxKl > 0)) throw new ArgumentOutOfRangeException(nameof(maxKl), maxKl, "δ must be positive");
        if (!(backtrackRatio > 0 && backtrackRatio < 1)) throw new ArgumentOutOfRangeException(nameof(backtrackRatio), backtrackRatio, "must be in (0, 1)");
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBacktracks);
        _candidate = new float[parameterCount];
        MaxKl = maxKl;
        BacktrackRatio = backtrackRatio;
        MaxBacktracks = maxBacktracks;
    }

    public double MaxKl { get; }
    public double BacktrackRatio { get; }
    public int MaxBacktracks { get; }

    /// <summary>
    /// Searches along <paramref name="fullStep"/> from <paramref name="start"/>; writes the accepted
    /// parameters (or <paramref name="start"/> when nothing is accepted) into <paramref name="result"/>.
    /// </summary>
    public LineSearchResult Search<TObjective>(ref TObjective objective, ReadOnlySpan<float> start, ReadOnlySpan<float> fullStep,
        double startSurrogate, Span<float> result)
        where TObjective : ITrustRegionObjective, allows ref struct
    {
        int n = _candidate.Length;
        if (start.Length != n || fullStep.Length != n || result.Length != n)
            throw new ArgumentException($"line search over {n} parameters got spans of {start.Length}, {fullStep.Length}, {result.Length}");
        double fraction = 1;
        double lastSurrogate = double.NaN, lastKl = double.NaN;
        for (int k = 0; k < MaxBacktracks; k++)
        {
            float f = (float)fraction;
            for (int i = 0; i < n; i++) _candidate[i] = start[i] + f * fullStep[i];
            objective.Evaluate(_candidate, out lastSurrogate, out lastKl);
            if (double.IsFinite(lastSurrogate) && double.IsFinite(lastKl) && lastKl <= MaxKl && lastSurrogate > startSurrogate)
            {
                _candidate.CopyTo(result);
                return new LineSearchResult(true, k, fraction, lastSurrogate, lastKl);
            }
            fraction *= BacktrackRatio;
        }
        start.CopyTo(result);
        return new LineSearchResult(false, MaxBacktracks, 0, lastSurrogate, lastKl);
    }
}
