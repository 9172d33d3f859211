namespace RobotPG.Learning.Estimators;

/// <summary>How the KL penalty coefficient β adapts after each policy update.</summary>
public enum KlPenaltyRule
{
    /// <summary>Note 003 PPO1: KL &gt; KLmax → β ← 2β; KL &lt; KLmin → β ← β/2; otherwise unchanged.</summary>
    DoubleOrHalve,

    /// <summary>Note 004 Method 1: β ← β + α (KL − ε), kept ≥ 0.</summary>
    Proportional,
}

/// <summary>
/// The coefficient β of the penalised surrogate L(θ) = Ê[ρₜ Âₜ] − β Ê[KL(π_old ‖ π_θ)] (note 001 TRPO
/// "penalty instead of a constraint"; note 003 PPO1; note 004 Method 1) and its adaptation rules.
/// </summary>
public sealed class AdaptiveKlPenalty
{
    public AdaptiveKlPenalty(KlPenaltyRule rule, double initialBeta, double klMin, double klMax, double targetKl, double adaptationRate)
    {
        if (!(initialBeta >= 0) || !double.IsFinite(initialBeta))
            throw new ArgumentOutOfRangeException(nameof(initialBeta), initialBeta, "β must be finite and ≥ 0");
        if (rule == KlPenaltyRule.DoubleOrHalve && !(klMin >= 0 && klMin < klMax))
            throw new ArgumentException($"PPO1 needs 0 ≤ KLmin < KLmax (got {klMin}, {klMax})");
        if (rule == KlPenaltyRule.Proportional && !(targetKl > 0 && adaptationRate > 0))
            throw new ArgumentException($"β ← β + α(KL − ε) needs ε > 0 and α > 0 (got ε {targetKl}, α {adaptationRate})");
        Rule = rule;
        Beta = initialBeta;
        KlMin = klMin;
        KlMax = klMax;
        TargetKl = targetKl;
        AdaptationRate = adaptationRate;
    }

    public KlPenaltyRule Rule { get; }
    public double Beta { get; private set; }
    public double KlMin { get; }
    public double KlMax { get; }
    public double TargetKl { get; }
    public double AdaptationRate { get; }

    /// <summary>Adapts β to the mean KL(π_old ‖ π_new) measured after an update; returns the new β.</summary>
    public double Update(double meanKl)
    {
        if (!double.IsFinite(meanKl)) return Beta; // a NaN KL says nothing about the step size; the caller rejects that update.
        if (Rule == KlPenaltyRule.DoubleOrHalve)
        {
            if (meanKl > KlMax) Beta *= 2;
            else if (meanKl < KlMin) Beta /= 2;
        }
        else
            Beta = Math.Max(0, Beta + AdaptationRate * (meanKl - TargetKl));
        return Beta;
    }
}
