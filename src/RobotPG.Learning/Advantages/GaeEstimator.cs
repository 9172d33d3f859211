using RobotPG.Learning.Rollouts;

namespace RobotPG.Learning.Advantages;

/// <summary>
/// Generalised advantage estimation (Schulman et al. 2016), as CleanRL computes it but with the
/// truncation bootstrap: δₜ = rₜ + γ V(sₜ₊₁) − V(sₜ), Âₜ = δₜ + γλ Âₜ₊₁ within an episode, where
/// V(sₜ₊₁) is 0 after termination, the final observation's value after truncation, and the next
/// stored value otherwise. λ = 1 gives the Monte-Carlo advantage, λ = 0 the TD residual.
/// Returns (value targets) are Âₜ + V(sₜ). Sums run in double; nothing is allocated.
/// </summary>
public static class GaeEstimator
{
    /// <summary>Fills <see cref="RolloutBuffer.Advantages"/> and <see cref="RolloutBuffer.Returns"/>.</summary>
    public static void Estimate(RolloutBuffer rollout, double gamma, double lambda)
    {
        ArgumentNullException.ThrowIfNull(rollout);
        Estimate(rollout.StepsPerEnvironment, rollout.EnvironmentCount, rollout.Rewards, rollout.Values, rollout.Terminated,
            rollout.Truncated, rollout.BootstrapValues, rollout.LastValues, gamma, lambda, rollout.Advantages, rollout.Returns);
    }

    /// <summary>Span form over step-major arrays (index = step · environments + environment).</summary>
    public static void Estimate(int steps, int environments, ReadOnlySpan<float> rewards, ReadOnlySpan<float> values,
        ReadOnlySpan<bool> terminated, ReadOnlySpan<bool> truncated, ReadOnlySpan<float> bootstrapValues,
        ReadOnlySpan<float> lastValues, double gamma, double lambda, Span<float> advantages, Span<float> returns)
    {
        int n = steps * environments;
        if (rewards.Length < n || values.Length < n || terminated.Length < n || truncated.Length < n || bootstrapValues.Length < n
            || advantages.Length < n || returns.Length < n || lastValues.Length < environments)
            throw new ArgumentException($"every span must hold {steps} steps × {environments} environments");
        if (gamma is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(gamma), gamma, "must be in [0, 1]");
        if (lambda is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(lambda), lambda, "must be in [0, 1]");

        for (int e = 0; e < environments; e++)
        {
            double carried = 0;
            for (int t = steps - 1; t >= 0; t--)
            {
                int i = t * environments + e;
                double next = terminated[i] ? 0.0
                    : truncated[i] ? bootstrapValues[i]
                    : t == steps - 1 ? lastValues[e]
                    : values[i + environments];
                if (terminated[i] || truncated[i]) carried = 0;
                double delta = rewards[i] + gamma * next - values[i];
                carried = delta + gamma * lambda * carried;
                advantages[i] = (float)carried;
                returns[i] = (float)(carried + values[i]);
            }
        }
    }
}
