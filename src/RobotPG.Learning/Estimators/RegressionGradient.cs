using RobotPG.Numerics;

namespace RobotPG.Learning.Estimators;

/// <summary>
/// Note 002, "Linear Regression Gradient Estimate": m random perturbations Δθ¹..Δθᵐ stacked as the m×n
/// matrix ΔΘ, ΔU = [U(θ + Δθ¹) − U(θ), …, U(θ + Δθᵐ) − U(θ)], and ∇U ≈ ΔΘ⁺ ΔU — the least-squares fit of
/// ΔU = ΔΘ ∇U. Perturbations are Gaussian with standard deviation σ per parameter. Needs m ≥ n
/// (ΔΘ then has full column rank almost surely and ΔΘ⁺ΔU is the least-squares solution, computed by
/// <see cref="HouseholderLeastSquares"/>). m + 1 roll-outs per estimate; allocation-free after construction.
/// </summary>
public sealed class RegressionGradient
{
    private readonly double[] _perturbations;
    private readonly double[] _utilityChanges;
    private readonly double[] _perturbed;
    private readonly HouseholderLeastSquares _leastSquares;

    public RegressionGradient(int parameterCount, int perturbationCount, double perturbationScale)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(parameterCount);
        if (perturbationCount < parameterCount)
            throw new ArgumentException($"the regression gradient needs at least as many perturbations as parameters (m = {perturbationCount} < n = {parameterCount})");
        if (!(perturbationScale > 0) || !double.IsFinite(perturbationScale))
            throw new ArgumentOutOfRangeException(nameof(perturbationScale), perturbationScale, "must be positive and finite");
        ParameterCount = parameterCount;
        PerturbationCount = perturbationCount;
        PerturbationScale = perturbationScale;
        _perturbations = new double[perturbationCount * parameterCount];
        _utilityChanges = new double[perturbationCount];
        _perturbed = new double[parameterCount];
        _leastSquares = new HouseholderLeastSquares(perturbationCount, parameterCount);
    }

    public int ParameterCount { get; }
    public int PerturbationCount { get; }
    public double PerturbationScale { get; }

    /// <summary>ΔΘ of the last estimate (m×n row-major), for inspection and tests.</summary>
    public ReadOnlySpan<double> Perturbations => _perturbations;

    /// <summary>ΔU of the last estimate.</summary>
    public ReadOnlySpan<double> UtilityChanges => _utilityChanges;

    /// <summary>Writes ΔΘ⁺ΔU into <paramref name="gradient"/>; returns U(θ). Returns NaN (gradient zeroed) if ΔΘ is rank deficient.</summary>
    public double Estimate<TUtility>(ref TUtility utility, ReadOnlySpan<double> parameters, ref Prng rng, Span<double> gradient)
        where TUtility : IPolicyUtility, allows ref struct
    {
        int n = ParameterCount, m = PerturbationCount;
        if (parameters.Length != n || gradient.Length != n)
            throw new ArgumentException($"regression gradient over {n} parameters got θ of {parameters.Length} and ∇ of {gradient.Length}");
        double baseUtility = utility.Evaluate(parameters);
        for (int i = 0; i < m; i++)
        {
            Span<double> row = _perturbations.AsSpan(i * n, n);
            for (int j = 0; j < n; j++)
            {
                row[j] = PerturbationScale * rng.NextGaussian();
                _perturbed[j] = parameters[j] + row[j];
            }
            _utilityChanges[i] = utility.Evaluate(_perturbed) - baseUtility;
        }
        if (!_leastSquares.Solve(_perturbations, _utilityChanges, gradient))
        {
            gradient.Clear();
            return double.NaN;
        }
        return baseUtility;
    }
}
