namespace RobotPG.Learning.Advantages;

/// <summary>
/// Discounted return from each step to the end of its episode, Gₜ = rₜ + γ Gₜ₊₁, with the same
/// episode-end rules as <see cref="GaeEstimator"/>: 0 beyond termination, the final observation's value
/// beyond truncation, and the last value beyond the rollout's end. Step-major spans; double sums.
/// </summary>
public static class DiscountedReturn
{
    public static void Compute(int steps, int environments, ReadOnlySpan<float> rewards, ReadOnlySpan<bool> terminated,
        ReadOnlySpan<bool> truncated, ReadOnlySpan<float> bootstrapValues, ReadOnlySpan<float> lastValues, double gamma, Span<float> returns)
    {
        int n = steps * environments;
        if (rewards.Length < n || terminated.Length < n || truncated.Length < n || bootstrapValues.Length < n
            || returns.Length < n || lastValues.Length < environments)
            throw new ArgumentException($"every span must hold {steps} steps × {environments} environments");
        if (gamma is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(gamma), gamma, "must be in [0, 1]");

        for (int e = 0; e < environments; e++)
        {
            double g = lastValues[e];
            for (int t = steps - 1; t >= 0; t--)
            {
                int i = t * environments + e;
                if (terminated[i]) g = 0;
                else if (truncated[i]) g = bootstrapValues[i];
                g = rewards[i] + gamma * g;
                returns[i] = (float)g;
            }
        }
    }
}
