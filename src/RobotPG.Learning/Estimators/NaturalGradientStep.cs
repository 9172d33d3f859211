namespace RobotPG.Learning.Estimators;

/// <summary>
/// Note 004 Method 2 (Natural Gradient): with KL(π_θ₁ ‖ π_θ₀) ≈ ½ (θ₁−θ₀)ᵀ F (θ₁−θ₀) ≤ ε and the
/// first-order objective, the Lagrangian solution is θ₁ = θ₀ + sqrt(2ε) · F⁻¹g / sqrt(gᵀF⁻¹g).
/// The caller supplies x ≈ F⁻¹g (conjugate gradient on the Fisher-vector product, note 001 TRPO).
/// </summary>
public static class NaturalGradientStep
{
    /// <summary>The scale sqrt(2ε / gᵀF⁻¹g) that turns x = F⁻¹g into the step; 0 when gᵀF⁻¹g ≤ 0 (no ascent direction).</summary>
    public static double StepScale(ReadOnlySpan<float> gradient, ReadOnlySpan<float> naturalDirection, double epsilon)
    {
        if (gradient.Length != naturalDirection.Length)
            throw new ArgumentException($"gradient ({gradient.Length}) and F⁻¹g ({naturalDirection.Length}) differ in length");
        if (!(epsilon > 0))
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "the KL radius ε must be positive");
        double gFg = 0;
        for (int i = 0; i < gradient.Length; i++) gFg += (double)gradient[i] * naturalDirection[i];
        return gFg > 0 && double.IsFinite(gFg) ? Math.Sqrt(2 * epsilon / gFg) : 0;
    }

    /// <summary>Writes the full step sqrt(2ε) F⁻¹g / sqrt(gᵀF⁻¹g) into <paramref name="step"/>; returns its scale.</summary>
    public static double Compute(ReadOnlySpan<float> gradient, ReadOnlySpan<float> naturalDirection, double epsilon, Span<float> step)
    {
        double scale = StepScale(gradient, naturalDirection, epsilon);
        for (int i = 0; i < step.Length; i++) step[i] = (float)(scale * naturalDirection[i]);
        return scale;
    }
}
