namespace RobotPG.Learning.Algorithms;

/// <summary>
/// The per-minibatch pieces of CleanRL's PPO loss, with their gradients with respect to the
/// per-sample log-probabilities and values (the networks turn those into parameter gradients).
/// Means run over the minibatch; sums in double.
/// </summary>
public static class PpoLoss
{
    /// <summary>
    /// Clipped surrogate L = mean(max(−Aᵢ rᵢ, −Aᵢ clip(rᵢ, 1−ε, 1+ε))), rᵢ = exp(new − old): the on-policy case of
    /// the generalised clip below with the centre at the behaviour policy (cᵢ = 1).
    /// </summary>
    public static PolicyLossTerms PolicyLoss(ReadOnlySpan<float> newLogProbs, ReadOnlySpan<float> oldLogProbs,
        ReadOnlySpan<float> advantages, float clip, Span<float> logProbGradients) =>
        PolicyLoss(newLogProbs, oldLogProbs, oldLogProbs, advantages, clip, logProbGradients);

    /// <summary>
    /// The clipped surrogate over data of older policies (GePPO, Queeney, Paschalidis and Cassandras, NeurIPS 2021):
    /// L = mean(max(−Aᵢ rᵢ, −Aᵢ clip(rᵢ, cᵢ − ε, cᵢ + ε))) with the importance weight rᵢ = π_θ(aᵢ|sᵢ) / π_behaviour(aᵢ|sᵢ)
    /// (notes 001 and 003, off-policy PG) = exp(new − behaviour) and the clip centre cᵢ = π_θk(aᵢ|sᵢ) / π_behaviour(aᵢ|sᵢ)
    /// = exp(centre − behaviour), θk the policy before this update: the region bounds how far θ moves from θk,
    /// whichever policy acted. With centre = behaviour (cᵢ = 1) it is PPO-clip.
    /// Writes ∂L/∂(new log-prob ᵢ) into <paramref name="logProbGradients"/>: −Aᵢ rᵢ / N where the unclipped
    /// term is the max (ties included, where torch splits the gradient into two equal halves that sum to it),
    /// 0 where the clipped term wins (the ratio is then outside [c−ε, c+ε] and the clamp passes nothing).
    /// The diagnostics measure θ against θk: approx KL of rᵢ/cᵢ, clip fraction |rᵢ − cᵢ| &gt; ε.
    /// </summary>
    public static PolicyLossTerms PolicyLoss(ReadOnlySpan<float> newLogProbs, ReadOnlySpan<float> behaviourLogProbs,
        ReadOnlySpan<float> centreLogProbs, ReadOnlySpan<float> advantages, float clip, Span<float> logProbGradients)
    {
        int n = newLogProbs.Length;
        if (behaviourLogProbs.Length != n || centreLogProbs.Length != n || advantages.Length != n || logProbGradients.Length != n)
            throw new ArgumentException("log-probs, advantages and gradients must have the same length");
        double loss = 0, approxKl = 0, oldApproxKl = 0;
        int clipped = 0;
        for (int i = 0; i < n; i++)
        {
            double ratio = Math.Exp(newLogProbs[i] - behaviourLogProbs[i]);
            double centre = Math.Exp(centreLogProbs[i] - behaviourLogProbs[i]);
            double logRatio = newLogProbs[i] - centreLogProbs[i]; // log(r / c): θ against θk
            double a = advantages[i];
            double unclippedTerm = -a * ratio;
            // The bounds in float as PPO's 1 ± ε always were (c = 1 gives exactly the PPO-clip numbers).
            double clippedTerm = -a * Math.Clamp(ratio, (float)centre - clip, (float)centre + clip);
            bool unclippedWins = unclippedTerm >= clippedTerm;
            loss += unclippedWins ? unclippedTerm : clippedTerm;
            logProbGradients[i] = unclippedWins ? (float)(-a * ratio / n) : 0f;
            double ratioToCentre = Math.Exp(logRatio);
            approxKl += ratioToCentre - 1 - logRatio;
            oldApproxKl -= logRatio;
            if (Math.Abs(ratio - centre) > clip) clipped++;
        }
        return new PolicyLossTerms((float)(loss / n), (float)(approxKl / n), (float)(oldApproxKl / n), (float)clipped / n);
    }

    /// <summary>
    /// Value loss ½·mean(max((v − R)², (v_old + clip(v − v_old, −ε, ε) − R)²)) (or ½·mean((v − R)²)
    /// unclipped). Writes ∂L/∂vᵢ, multiplied by <paramref name="scale"/> (the value coefficient), into
    /// <paramref name="valueGradients"/>: (vᵢ − Rᵢ)/N where the unclipped square is the max, else 0 (the
    /// clipped square only wins when v − v_old is outside ±ε, where the clamp passes no gradient).
    /// Returns the unscaled loss.
    /// </summary>
    public static float ValueLoss(ReadOnlySpan<float> newValues, ReadOnlySpan<float> oldValues, ReadOnlySpan<float> returns,
        float clip, bool clipValueLoss, float scale, Span<float> valueGradients)
    {
        int n = newValues.Length;
        if (oldValues.Length != n || returns.Length != n || valueGradients.Length != n)
            throw new ArgumentException("values, returns and gradients must have the same length");
        double loss = 0;
        for (int i = 0; i < n; i++)
        {
            double v = newValues[i], r = returns[i];
            double unclipped = (v - r) * (v - r);
            bool unclippedWins = true;
            double term = unclipped;
            if (clipValueLoss)
            {
                double vOld = oldValues[i];
                double vClipped = vOld + Math.Clamp(v - vOld, -clip, clip);
                double clippedSq = (vClipped - r) * (vClipped - r);
                unclippedWins = unclipped >= clippedSq;
                term = unclippedWins ? unclipped : clippedSq;
            }
            loss += term;
            valueGradients[i] = unclippedWins ? (float)(scale * (v - r) / n) : 0f;
        }
        return (float)(0.5 * loss / n);
    }

    /// <summary>1 − Var(returns − values) / Var(returns) (population variances); NaN when Var(returns) is 0, as CleanRL.</summary>
    public static float ExplainedVariance(ReadOnlySpan<float> values, ReadOnlySpan<float> returns)
    {
        int n = returns.Length;
        if (values.Length != n) throw new ArgumentException("values and returns must have the same length");
        if (n == 0) return float.NaN;
        double meanY = 0, meanD = 0;
        for (int i = 0; i < n; i++)
        {
            meanY += returns[i];
            meanD += returns[i] - values[i];
        }
        meanY /= n;
        meanD /= n;
        double varY = 0, varD = 0;
        for (int i = 0; i < n; i++)
        {
            double y = returns[i] - meanY, d = returns[i] - values[i] - meanD;
            varY += y * y;
            varD += d * d;
        }
        return varY == 0 ? float.NaN : (float)(1 - varD / varY);
    }
}

/// <summary>Policy-loss pieces of one minibatch.</summary>
/// <param name="Loss">The clipped surrogate loss.</param>
/// <param name="ApproxKl">mean((r − 1) − log r), the low-variance KL estimator CleanRL logs.</param>
/// <param name="OldApproxKl">mean(−log r).</param>
/// <param name="ClipFraction">Fraction of samples with |r − 1| &gt; ε.</param>
public readonly record struct PolicyLossTerms(float Loss, float ApproxKl, float OldApproxKl, float ClipFraction);
