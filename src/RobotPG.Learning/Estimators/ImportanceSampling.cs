namespace RobotPG.Learning.Estimators;

/// <summary>
/// Off-policy policy-gradient weights from data sampled by π_θ (old) for the gradient at π_θ' (new),
/// notes 001 ("尝试将 off-policy 改入 REINFORCEMENT", items 3–7) and 003 (on policy to off policy).
/// ĝ = (1/N) Σᵢ Σₜ ∇log π_θ'(aₜ|sₜ) wₜ with ρₜ = π_θ'(aₜ|sₜ) / π_θ(aₜ|sₜ) = exp(log π' − log π).
/// </summary>
public static class ImportanceSampling
{
    /// <summary>
    /// Per-decision weights with causality (note 001 item 4):
    /// wₜ = (Π_{t'≤t} ρ_{t'}) · Σ_{t'≥t} γ^{t'−t} r_{t'} Π_{t''=t+1}^{t'} ρ_{t''}.
    /// The note writes the inner product from t'' = t, which counts ρₜ twice (the reward at t' needs
    /// the ratio of actions 0..t' exactly once): on a one-step bandit that gives E[ρ² r ∇log π'] ≠ ∇J.
    /// We start it at t + 1, which is unbiased (tested on a bandit with θ' ≠ θ).
    /// The products are formed in log space per trajectory and accumulate in double.
    /// </summary>
    public static void PerDecisionWeights(ReadOnlySpan<float> logProbNew, ReadOnlySpan<float> logProbOld, ReadOnlySpan<float> rewards,
        ReadOnlySpan<bool> trajectoryEnds, double gamma, Span<float> weights)
    {
        int n = rewards.Length;
        if (logProbNew.Length != n || logProbOld.Length != n || trajectoryEnds.Length != n || weights.Length != n)
            throw new ArgumentException("log-probs, rewards, trajectory ends and weights need one entry per step");
        int start = 0;
        while (start < n)
        {
            int end = ReturnWeighting.TrajectoryEnd(trajectoryEnds, start);
            // Backward: inner_t = r_t + γ ρ_{t+1} inner_{t+1} = Σ_{t'≥t} γ^{t'−t} r_{t'} Π_{t''=t+1}^{t'} ρ_{t''}.
            double inner = 0, nextRatio = 1;
            for (int t = end; t >= start; t--)
            {
                inner = rewards[t] + gamma * nextRatio * inner;
                weights[t] = (float)inner;
                nextRatio = Math.Exp(logProbNew[t] - logProbOld[t]);
            }
            // Forward: multiply by the prefix product Π_{t'≤t} ρ_{t'}.
            double logPrefix = 0;
            for (int t = start; t <= end; t++)
            {
                logPrefix += logProbNew[t] - logProbOld[t];
                weights[t] = (float)(Math.Exp(logPrefix) * weights[t]);
            }
            start = end + 1;
        }
    }

    /// <summary>
    /// The marginal-ratio approximation (note 001 item 7, "迷之近似"): Π_{t'≤t} ρ_{t'} ≈ ρₜ, giving
    /// wₜ = ρₜ Âₜ — the gradient of the surrogate L^IS(θ) = Ê[ρₜ Âₜ] (note 001 "Gradient → Objective").
    /// </summary>
    public static void MarginalRatioWeights(ReadOnlySpan<float> logProbNew, ReadOnlySpan<float> logProbOld, ReadOnlySpan<float> advantages,
        Span<float> weights)
    {
        int n = advantages.Length;
        if (logProbNew.Length != n || logProbOld.Length != n || weights.Length != n)
            throw new ArgumentException("log-probs, advantages and weights need one entry per step");
        for (int t = 0; t < n; t++)
            weights[t] = (float)(Math.Exp(logProbNew[t] - logProbOld[t]) * advantages[t]);
    }
}
