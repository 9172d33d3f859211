using RobotPG.Learning.Environments;
using RobotPG.Learning.Estimators;
using RobotPG.Numerics;

namespace RobotPG.Learning.Algorithms;

/// <summary>
/// The roll-out utility U(θ) of a <see cref="LinearGaussianPolicy"/>'s mean parameters (W, b): the mean
/// undiscounted return of the deterministic (mean-action) policy over a fixed set of episodes, each
/// reset with the same seed at every θ (common random numbers), so U is a deterministic, smooth
/// function of θ on a smooth task and note 002's difference quotients measure the policy alone.
/// </summary>
public sealed class RolloutUtility : IPolicyUtility
{
    private readonly LinearGaussianPolicy _policy;
    private readonly IEnvironment _environment;
    private readonly float[] _observation, _action;
    private readonly double[] _mean;

    public RolloutUtility(LinearGaussianPolicy policy, IEnvironment environment, int episodes, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(episodes);
        if (environment.ObservationSize != policy.ObservationSize || environment.ActionSize != policy.ActionSize)
            throw new ArgumentException("the environment's sizes differ from the policy's", nameof(environment));
        _policy = policy;
        _environment = environment;
        Episodes = episodes;
        Seed = seed;
        _observation = new float[environment.ObservationSize];
        _action = new float[environment.ActionSize];
        _mean = new double[environment.ActionSize];
    }

    public int Episodes { get; }
    public ulong Seed { get; }

    /// <summary>Roll-outs taken so far (each <see cref="Evaluate"/> takes <see cref="Episodes"/>).</summary>
    public long EnvironmentSteps { get; private set; }

    /// <summary>Sets the policy's mean parameters to <paramref name="parameters"/> and returns U.</summary>
    public double Evaluate(ReadOnlySpan<double> parameters)
    {
        parameters.CopyTo(_policy.MeanParameters);
        double total = 0;
        for (int k = 0; k < Episodes; k++)
        {
            _environment.Reset(_observation, Seed + (ulong)k);
            StepResult r;
            do
            {
                _policy.Mean(_observation, _mean);
                for (int i = 0; i < _action.Length; i++) _action[i] = (float)_mean[i];
                r = _environment.Step(_action, _observation);
                total += r.Reward;
                EnvironmentSteps++;
            } while (!r.Done);
        }
        return total / Episodes;
    }
}

/// <summary>Which of note 002's black-box gradient estimates drives <see cref="FiniteDifferencePolicySearch"/>.</summary>
public enum PolicySearchGradient
{
    /// <summary>Forward differences (U(θ + δeʲ) − U(θ))/δ.</summary>
    FiniteDifference,

    /// <summary>Least squares ∇U ≈ ΔΘ⁺ΔU over m random perturbations.</summary>
    Regression,
}

/// <summary>Settings of <see cref="FiniteDifferencePolicySearch"/>.</summary>
/// <param name="Gradient">Which estimate.</param>
/// <param name="StepSize">α of θ ← θ + α ∇U (note 002 "Policy Gradient Ascent").</param>
/// <param name="Delta">δ of the forward differences.</param>
/// <param name="Perturbations">m of the regression (≥ the number of parameters).</param>
/// <param name="PerturbationScale">Standard deviation of each regression perturbation.</param>
/// <param name="Episodes">Episodes per utility evaluation.</param>
/// <param name="Seed">Episode seeds (common random numbers) and perturbations.</param>
/// <param name="MaxStepNorm">
/// Radius of note 002's "Restricted Gradient": the step α∇U is shortened to ‖Δθ‖ ≤ this bound
/// (the maximiser of the linear model under ½ΔθᵀΔθ ≤ ε is sqrt(2ε)·∇U/‖∇U‖). Far from the optimum the
/// raw gradient of a quadratic cost is huge and a fixed α overshoots into a poor region.
/// </param>
public readonly record struct PolicySearchSettings(
    PolicySearchGradient Gradient, double StepSize, double Delta, int Perturbations, double PerturbationScale, int Episodes, ulong Seed,
    double MaxStepNorm = double.PositiveInfinity);

/// <summary>
/// Gradient ascent on U(θ) of a linear Gaussian policy's mean with note 002's finite-difference or
/// linear-regression gradient — the black-box estimators that need no log-likelihood, only roll-outs.
/// Each <see cref="Update"/> estimates ∇U at θ and steps θ ← θ + α ∇U (length-limited, see
/// <see cref="PolicySearchSettings.MaxStepNorm"/>). Allocation-free after construction.
/// </summary>
public sealed class FiniteDifferencePolicySearch
{
    private readonly PolicySearchSettings _settings;
    private readonly LinearGaussianPolicy _policy;
    private readonly RolloutUtility _utility;
    private readonly FiniteDifferenceGradient? _differences;
    private readonly RegressionGradient? _regression;
    private readonly double[] _theta, _gradient;
    private Prng _rng;

    public FiniteDifferencePolicySearch(LinearGaussianPolicy policy, IEnvironment environment, PolicySearchSettings settings)
    {
        if (!(settings.StepSize > 0)) throw new ArgumentOutOfRangeException(nameof(settings), settings.StepSize, "step size must be positive");
        _utility = new RolloutUtility(policy, environment, settings.Episodes, settings.Seed); // checks policy, environment, episodes
        _settings = settings;
        _policy = policy;
        int n = policy.MeanParameters.Length;
        if (settings.Gradient == PolicySearchGradient.FiniteDifference)
            _differences = new FiniteDifferenceGradient(n, settings.Delta);
        else
            _regression = new RegressionGradient(n, settings.Perturbations, settings.PerturbationScale);
        _theta = new double[n];
        _gradient = new double[n];
        _rng = new Prng(settings.Seed ^ 0xFD_2E6UL);
    }

    public LinearGaussianPolicy Policy => _policy;
    public RolloutUtility Utility => _utility;

    /// <summary>∇U of the last update.</summary>
    public ReadOnlySpan<double> LastGradient => _gradient;

    /// <summary>One estimate and ascent step; returns U(θ) before the step.</summary>
    public double Update()
    {
        _policy.MeanParameters.CopyTo(_theta);
        RolloutUtility rollouts = _utility;
        double utility = _differences is not null
            ? _differences.Estimate(ref rollouts, _theta, _gradient)
            : _regression!.Estimate(ref rollouts, _theta, ref _rng, _gradient);
        double norm = 0;
        for (int j = 0; j < _gradient.Length; j++) norm += _gradient[j] * _gradient[j];
        norm = Math.Sqrt(norm);
        double scale = _settings.StepSize * norm > _settings.MaxStepNorm ? _settings.MaxStepNorm / norm : _settings.StepSize;
        if (double.IsFinite(scale))
            for (int j = 0; j < _theta.Length; j++) _theta[j] += scale * _gradient[j];
        _theta.CopyTo(_policy.MeanParameters);
        return utility;
    }

    /// <summary>U at the current parameters.</summary>
    public double Evaluate()
    {
        _policy.MeanParameters.CopyTo(_theta);
        return _utility.Evaluate(_theta);
    }
}
