namespace RobotPG.Learning.Estimators;

/// <summary>Which return multiplies ∇log π(aₜ|sₜ) in the REINFORCE estimate.</summary>
public enum ReturnWeightingKind
{
    /// <summary>Note 000 formula (a): every step of trajectory i is weighted by the whole return r(τᵢ).</summary>
    WholeTrajectoryReturn,

    /// <summary>Note 000 formula (b) / note 001 "causality": step t is weighted by Σ_{t'≥t} γ^{t'−t} r_{t'}.</summary>
    RewardToGo,
}

/// <summary>
/// The per-step weights wₜ of the REINFORCE estimate ĝ = (1/N) Σᵢ Σₜ ∇log π(a_{it}|s_{it}) w_{it}
/// (note 000 eq. (13), formulas (a) and (b); note 002 "Reward-to-Go"). A batch is a flat run of steps;
/// <c>trajectoryEnds[t]</c> marks the last step of a trajectory, and the batch's last step always
/// closes one. γ = 1 gives the undiscounted sums of the notes; γ &lt; 1 the discounted ones.
/// Sums accumulate in double; nothing is allocated.
/// </summary>
public static class ReturnWeighting
{
    /// <summary>
    /// Formula (a): wₜ = r(τ) = Σ_{k=0}^{T−1} γ^k r_k for every step t of the trajectory
    /// (note 000: "r(τ) = Σ γ^t r(s_t, a_t)").
    /// </summary>
    public static void WholeTrajectoryReturn(ReadOnlySpan<float> rewards, ReadOnlySpan<bool> trajectoryEnds, double gamma, Span<float> weights)
    {
        // The reward-to-go at a trajectory's first step is its whole return.
        RewardToGo(rewards, trajectoryEnds, gamma, weights);
        for (int start = 0; start < rewards.Length;)
        {
            int end = TrajectoryEnd(trajectoryEnds, start);
            weights[(start + 1)..(end + 1)].Fill(weights[start]);
            start = end + 1;
        }
    }

    /// <summary>Formula (b): wₜ = Σ_{t'=t}^{T−1} γ^{t'−t} r_{t'} (reward-to-go).</summary>
    public static void RewardToGo(ReadOnlySpan<float> rewards, ReadOnlySpan<bool> trajectoryEnds, double gamma, Span<float> weights)
    {
        Check(rewards, trajectoryEnds, weights, gamma);
        int start = 0;
        while (start < rewards.Length)
        {
            int end = TrajectoryEnd(trajectoryEnds, start);
            double toGo = 0;
            for (int t = end; t >= start; t--)
            {
                toGo = rewards[t] + gamma * toGo;
                weights[t] = (float)toGo;
            }
            start = end + 1;
        }
    }

    /// <summary>
    /// Note 002: wₖ ← γ^{k−1} wₖ, k−1 the step's index within its episode (<paramref name="episodeSteps"/>,
    /// counted from the episode's first step, which may lie in an earlier rollout) — the exact gradient of
    /// the discounted objective J = E[Σ γ^t r_t], which the usual estimator drops. Applied after a baseline
    /// is subtracted, it gives 002's γ^{k−1}(r_togo(k) − r_baseline(k)).
    /// </summary>
    public static void ApplyDiscountFromEpisodeStart(ReadOnlySpan<int> episodeSteps, double gamma, Span<float> weights)
    {
        if (episodeSteps.Length != weights.Length)
            throw new ArgumentException($"need one episode step per weight ({weights.Length}), got {episodeSteps.Length}");
        for (int k = 0; k < weights.Length; k++) weights[k] = (float)(Math.Pow(gamma, episodeSteps[k]) * weights[k]);
    }

    /// <summary>Dispatches on <paramref name="kind"/>.</summary>
    public static void Compute(ReturnWeightingKind kind, ReadOnlySpan<float> rewards, ReadOnlySpan<bool> trajectoryEnds,
        double gamma, Span<float> weights)
    {
        if (kind == ReturnWeightingKind.WholeTrajectoryReturn)
            WholeTrajectoryReturn(rewards, trajectoryEnds, gamma, weights);
        else
            RewardToGo(rewards, trajectoryEnds, gamma, weights);
    }

    /// <summary>Index of the last step of the trajectory that starts at <paramref name="start"/>.</summary>
    public static int TrajectoryEnd(ReadOnlySpan<bool> trajectoryEnds, int start)
    {
        int end = start;
        while (end < trajectoryEnds.Length - 1 && !trajectoryEnds[end]) end++;
        return end;
    }

    /// <summary>Number of trajectories in the batch (the last step always closes one).</summary>
    public static int CountTrajectories(ReadOnlySpan<bool> trajectoryEnds)
    {
        int count = 0;
        for (int start = 0; start < trajectoryEnds.Length; start = TrajectoryEnd(trajectoryEnds, start) + 1) count++;
        return count;
    }

    private static void Check(ReadOnlySpan<float> rewards, ReadOnlySpan<bool> trajectoryEnds, Span<float> weights, double gamma)
    {
        if (trajectoryEnds.Length != rewards.Length || weights.Length != rewards.Length)
            throw new ArgumentException($"rewards ({rewards.Length}), trajectory ends ({trajectoryEnds.Length}) and weights ({weights.Length}) must have one entry per step");
        if (!(gamma > 0 && gamma <= 1))
            throw new ArgumentOutOfRangeException(nameof(gamma), gamma, "discount must be in (0, 1]");
    }
}
