using System.Diagnostics;
using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Environments;
using RobotPG.Learning.Estimators;
using RobotPG.Learning.Training;

namespace RobotPG.Sim.Training;

/// <summary>
/// Note 002's black-box estimators as <c>train --algo</c> names. They need roll-outs at perturbed
/// parameters, which the trainer's collect → update interface cannot give, so <c>train</c> runs them on
/// their own path (<see cref="PolicySearchTraining"/>) with the same outputs.
/// </summary>
public static class PolicySearchAlgorithms
{
    public const string FiniteDifference = "fd", Regression = "regression";

    public static IReadOnlyList<string> Names { get; } = [FiniteDifference, Regression];

    public static bool Contains(string? name) => name is FiniteDifference or Regression;

    /// <summary>α of θ ← θ + α∇U; the step is also limited to ‖Δθ‖ ≤ <see cref="MaxStepNorm"/> (note 002 "Restricted Gradient").</summary>
    public const double DefaultStepSize = 0.5, MaxStepNorm = 1.0;

    /// <summary>δ: the forward-difference step (fd), or the standard deviation of each perturbation (regression).</summary>
    public const double DefaultFiniteDifferenceDelta = 1e-3, DefaultRegressionDelta = 1e-2;

    /// <summary>Episodes per utility evaluation U(θ), each reset with the same seeds at every θ.</summary>
    public const int UtilityEpisodes = 8;

    /// <summary>Bound on m: each perturbation costs a full utility evaluation, and ΔΘ is m × n.</summary>
    public const int MaxPerturbations = 10_000;

    /// <summary>
    /// Settings of a run: δ, m (default 2n, n = mean parameters) and α from the command line or the
    /// defaults above. The utility's episode seeds are the run seed onward.
    /// </summary>
    public static PolicySearchSettings Settings(string name, int parameterCount, ulong seed, double? delta, int? perturbations, double? stepSize)
    {
        bool regression = name == Regression;
        double d = delta ?? (regression ? DefaultRegressionDelta : DefaultFiniteDifferenceDelta);
        int m = perturbations ?? 2 * parameterCount;
        if (m > MaxPerturbations) throw new UsageException($"--perturbations must be ≤ {MaxPerturbations} (got {m})");
        if (regression && m < parameterCount)
            throw new UsageException($"--perturbations must be ≥ {parameterCount}, the number of policy mean parameters, for ΔΘ⁺ΔU to exist (got {m})");
        return new PolicySearchSettings(regression ? PolicySearchGradient.Regression : PolicySearchGradient.FiniteDifference,
            stepSize ?? DefaultStepSize, Delta: d, Perturbations: m, PerturbationScale: d, UtilityEpisodes, seed, MaxStepNorm);
    }

    /// <summary>Utility evaluations per update: U(θ) and one per perturbed θ.</summary>
    public static int EvaluationsPerUpdate(in PolicySearchSettings settings, int parameterCount) =>
        1 + (settings.Gradient == PolicySearchGradient.Regression ? settings.Perturbations : parameterCount);
}

/// <summary>
/// A <c>train</c> run of a <see cref="FiniteDifferencePolicySearch"/> on a <see cref="LinearGaussianPolicy"/>
/// (zero-initialised mean, the deterministic mean action is what is evaluated), reported as the trainer
/// reports: one <see cref="TrainingProgress"/> per update, where steps count every roll-out the estimate
/// took, MeanReturn is U(θ) before the step (the mean return of the unperturbed policy over the
/// utility's episodes), UpdateMilliseconds is the whole estimate-and-step (the roll-outs are the
/// estimate), and the diagnostics carry only the step size α as learning rate: there is no surrogate
/// loss, critic, entropy or KL. Allocation-free per update (the search is).
/// </summary>
public sealed class PolicySearchTraining
{
    private readonly FiniteDifferencePolicySearch _search;
    private readonly PolicySearchSettings _settings;
    private readonly int _evaluationsPerUpdate;
    private readonly long _totalSteps;
    private readonly long _start;
    private long _lastCost;

    public PolicySearchTraining(IEnvironment environment, in PolicySearchSettings settings, long totalSteps)
    {
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(totalSteps);
        Policy = new LinearGaussianPolicy(environment.ObservationSize, environment.ActionSize);
        _search = new FiniteDifferencePolicySearch(Policy, environment, settings);
        _settings = settings;
        _evaluationsPerUpdate = PolicySearchAlgorithms.EvaluationsPerUpdate(settings, Policy.MeanParameters.Length);
        _totalSteps = totalSteps;
        _start = Stopwatch.GetTimestamp();
    }

    public LinearGaussianPolicy Policy { get; }
    public FiniteDifferencePolicySearch Search => _search;
    public long Steps => _search.Utility.EnvironmentSteps;
    public int Iteration { get; private set; }
    public long Episodes => (long)Iteration * _evaluationsPerUpdate * _settings.Episodes;
    /// <summary>
    /// True once the next update, costing what the last one did, would overrun the budget: like the
    /// trainer, the run stays within --steps (exactly when episode lengths are fixed, as on point-mass).
    /// At least one update is always taken.
    /// </summary>
    public bool Finished => Iteration > 0 && Steps + _lastCost > _totalSteps;

    /// <summary>One estimate and ascent step. Iterations is projected from this update's cost (episode lengths can vary) and equals Iteration on the last one.</summary>
    public TrainingProgress RunIteration()
    {
        long before = Steps, started = Stopwatch.GetTimestamp();
        double utility = _search.Update();
        double milliseconds = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        Iteration++;
        _lastCost = Math.Max(1, Steps - before);
        int iterations = Finished ? Iteration : Iteration + (int)Math.Min(int.MaxValue - Iteration, (_totalSteps - Steps) / _lastCost);
        double seconds = Stopwatch.GetElapsedTime(_start).TotalSeconds;
        var diagnostics = new UpdateDiagnostics(float.NaN, float.NaN, float.NaN, float.NaN, float.NaN, float.NaN, (float)_settings.StepSize, 1);
        return new TrainingProgress(Steps, _totalSteps, (int)Math.Min(int.MaxValue, Episodes), Iteration, iterations, utility, diagnostics,
            milliseconds, seconds > 0 ? Steps / seconds : 0);
    }
}

/// <summary>Returns of a linear policy's mean action, seeded as <see cref="PolicyEvaluation.Run"/> seeds (first reset with the seed, then continuing).</summary>
public static class LinearPolicyEvaluation
{
    public static double Run(LinearGaussianPolicy policy, IEnvironment environment, int episodes, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(episodes);
        var observation = new float[environment.ObservationSize];
        var action = new float[environment.ActionSize];
        var mean = new double[environment.ActionSize];
        double total = 0;
        for (int k = 0; k < episodes; k++)
        {
            if (k == 0) environment.Reset(observation, seed);
            else environment.Reset(observation);
            StepResult r;
            do
            {
                policy.Mean(observation, mean);
                for (int i = 0; i < action.Length; i++) action[i] = (float)mean[i];
                r = environment.Step(action, observation);
                total += r.Reward;
            } while (!r.Done);
        }
        return total / episodes;
    }
}
