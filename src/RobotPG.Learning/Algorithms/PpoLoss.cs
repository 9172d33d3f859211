namespace RobotPG.Learning.Algorithms;

/// <summary>
/// The per-minibatch pieces of CleanRL's PPO loss, with their gradients with respect to the
/// per-sample log-probabilities and values (the networks turn those into parameter gradients).
/// Means run over the minibatch; sums in double.
/// </summary>
public static class PpoLoss
{
    /// <summary>
    /// Clipped surrogate L = mean(max(−Aᵢ rᵢ, −Aᵢ clip(rᵢ, 1−ε, 1+ε))), rᵢ = exp(new − old).
    /// Writes ∂L/∂(new log-prob ᵢ) into <paramref name="logProbGradients"/>: −Aᵢ rᵢ / N where the unclipped
    /// term is the max (ties included, where torch splits the gradient into two equal halves that sum to it),
    /// 0 where the clipped term wins (the ratio is then outside [1−ε, 1+ε] and the clamp passes nothing).
    /// </summary>
    public static PolicyLossTerms PolicyLoss(ReadOnlySpan<float> newLogProbs, ReadOnlySpan<float> oldLogProbs,
        ReadOnlySpan<float> advantages, float clip, Span<float> logProbGradients)
    {
        int n = newLogProbs.Length;
        if (oldLogProbs.Length != n || advantages.Length != n || logProbGradients.Length != n)
            throw new ArgumentException("log-probs, advantages and gradients must have the same length");
        double loss = 0, approxKl = 0, oldApproxKl = 0;
        int clipped = 0;
        for (int i = 0; i < n; i++)
        {
            double logRatio = newLogProbs[i] - oldLogProbs[i];
            double ratio = Math.Exp(logRatio);
            double a = advantages[i];
            double unclippedTerm = -a * ratio;
            double clippedTerm = -a * Math.Clamp(ratio, 1 - clip, 1 + clip);
            bool unclippedWins = unclippedTerm >= clippedTerm;
            loss += unclippedWins ? unclippedTerm : clippedTerm;
            logProbGradients[i] = unclippedWins ? (float)(-a * ratio / n) : 0f;
            approxKl += ratio - 1 - logRatio;
            oldApproxKl -= logRatio;
            if (Math.Abs(ratio - 1) > clip) clipped++;
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
