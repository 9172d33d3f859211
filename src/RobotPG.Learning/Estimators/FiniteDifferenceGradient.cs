namespace RobotPG.Learning.Estimators;

/// <summary>
/// U(θ): the roll-out utility of a policy with parameters θ (note 002, "Roll-out utility"). For a
/// stochastic task, evaluate with common random numbers (the same seeds at every θ) so that U is a
/// deterministic, smooth function of θ and differences measure the policy change, not the noise.
/// </summary>
public interface IPolicyUtility
{
    double Evaluate(ReadOnlySpan<double> parameters);
}

/// <summary>
/// Note 002, "Finite-Different Gradient Estimation": ∇U(θ) ≈ [(U(θ + δe¹) − U(θ))/δ, …, (U(θ + δeⁿ) − U(θ))/δ],
/// forward differences, n + 1 roll-out evaluations per estimate. Suited to small policies (a linear
/// Gaussian policy); the truncation error is O(δ) per component. Allocation-free after construction.
/// </summary>
public sealed class FiniteDifferenceGradient
{
    private readonly double[] _perturbed;

    public FiniteDifferenceGradient(int parameterCount, double delta)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(parameterCount);
        if (!(delta > 0) || !double.IsFinite(delta)) throw new ArgumentOutOfRangeException(nameof(delta), delta, "δ must be positive and finite");
        _perturbed = new double[parameterCount];
        Delta = delta;
    }

    public double Delta { get; }
    public int ParameterCount => _perturbed.Length;

    /// <summary>Writes the forward-difference gradient at <paramref name="parameters"/>; returns U(θ).</summary>
    public double Estimate<TUtility>(ref TUtility utility, ReadOnlySpan<double> parameters, Span<double> gradient)
        where TUtility : IPolicyUtility, allows ref struct
    {
        int n = _perturbed.Length;
        if (parameters.Length != n || gradient.Length != n)
            throw new ArgumentException($"finite differences over {n} parameters got θ of {parameters.Length} and ∇ of {gradient.Length}");
        double baseUtility = utility.Evaluate(parameters);
        parameters.CopyTo(_perturbed);
        for (int j = 0; j < n; j++)
        {
            _perturbed[j] = parameters[j] + Delta;
            gradient[j] = (utility.Evaluate(_perturbed) - baseUtility) / Delta;
            _perturbed[j] = parameters[j];
        }
        return baseUtility;
    }
}
