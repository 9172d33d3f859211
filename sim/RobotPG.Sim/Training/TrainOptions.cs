using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Estimators;

namespace RobotPG.Sim.Training;

/// <summary>
/// The algorithm-specific options of <c>train</c>, as typed (null = not given). Each applies to some
/// algorithms only; giving it to another is a usage error, so no option is silently ignored.
/// </summary>
/// <param name="ReturnWeighting"><c>--return-weighting</c>: whole | reward-to-go (REINFORCE/VPG).</param>
/// <param name="DiscountWeighting"><c>--discount-weighting</c>: note 002's γ^(k−1) factor (REINFORCE/VPG, reward-to-go).</param>
/// <param name="Baseline"><c>--baseline</c>: one of <see cref="TrainOptions.BaselineNames"/> (REINFORCE/VPG).</param>
/// <param name="Delta"><c>--delta</c>: δ of fd / perturbation scale of regression.</param>
/// <param name="Perturbations"><c>--perturbations</c>: m of regression.</param>
/// <param name="StepSize"><c>--step-size</c>: α of fd / regression.</param>
public sealed record TrainOptions(
    string? ReturnWeighting = null,
    bool DiscountWeighting = false,
    string? Baseline = null,
    string? Delta = null,
    string? Perturbations = null,
    string? StepSize = null)
{
    public const string Whole = "whole", RewardToGo = "reward-to-go";
    public const string BaselineNone = "none", BaselineMean = "mean", BaselineOptimalScalar = "optimal-scalar",
        BaselineOptimalPerParameter = "optimal-per-parameter", BaselineTime = "time", BaselineValue = "value";

    public static IReadOnlyList<string> WeightingNames { get; } = [Whole, RewardToGo];

    public static IReadOnlyList<string> BaselineNames { get; } =
        [BaselineNone, BaselineMean, BaselineOptimalScalar, BaselineOptimalPerParameter, BaselineTime, BaselineValue];

    public static TrainOptions None { get; } = new();

    private bool AnyReinforceOption => ReturnWeighting is not null || DiscountWeighting || Baseline is not null;

    /// <summary>
    /// Throws a <see cref="UsageException"/> naming the first option that does not apply to
    /// <paramref name="algorithm"/> (already known to be a valid name).
    /// </summary>
    public void CheckApplicable(string algorithm)
    {
        bool reinforce = algorithm is EstimatorAlgorithms.Reinforce or EstimatorAlgorithms.Vpg;
        bool search = PolicySearchAlgorithms.Contains(algorithm);
        if (!reinforce)
        {
            string? given = ReturnWeighting is not null ? "--return-weighting" : DiscountWeighting ? "--discount-weighting" : Baseline is not null ? "--baseline" : null;
            if (given is not null) throw new UsageException($"{given} applies only to --algo reinforce or vpg, not '{algorithm}'");
        }
        if (!search)
        {
            string? given = Delta is not null ? "--delta" : Perturbations is not null ? "--perturbations" : StepSize is not null ? "--step-size" : null;
            if (given is not null) throw new UsageException($"{given} applies only to --algo fd or regression, not '{algorithm}'");
        }
        if (algorithm == PolicySearchAlgorithms.FiniteDifference && Perturbations is not null)
            throw new UsageException("--perturbations applies only to --algo regression (fd perturbs each parameter once)");
    }

    /// <summary>
    /// The REINFORCE/VPG preset with the given options applied; the preset itself when none is given.
    /// </summary>
    public EstimatorHyperparameters ApplyTo(EstimatorHyperparameters preset)
    {
        ArgumentNullException.ThrowIfNull(preset);
        if (!AnyReinforceOption) return preset;
        EstimatorHyperparameters h = preset;
        if (ReturnWeighting is not null)
            h = h with
            {
                Weighting = ReturnWeighting switch
                {
                    Whole => ReturnWeightingKind.WholeTrajectoryReturn,
                    RewardToGo => ReturnWeightingKind.RewardToGo,
                    _ => throw new UsageException($"--return-weighting must be one of {string.Join(", ", WeightingNames)} (got '{ReturnWeighting}')"),
                },
            };
        if (Baseline is not null)
            h = h with
            {
                Baseline = Baseline switch
                {
                    BaselineNone => BaselineKind.None,
                    BaselineMean => BaselineKind.MeanReturn,
                    BaselineOptimalScalar => BaselineKind.OptimalConstantScalar,
                    BaselineOptimalPerParameter => BaselineKind.OptimalConstantPerParameter,
                    BaselineTime => BaselineKind.TimeDependent,
                    BaselineValue => BaselineKind.StateValue,
                    _ => throw new UsageException($"--baseline must be one of {string.Join(", ", BaselineNames)} (got '{Baseline}')"),
                },
            };
        bool optimal = h.Baseline is BaselineKind.OptimalConstantScalar or BaselineKind.OptimalConstantPerParameter;
        // Note 001's optimal constant b is defined on whole-trajectory scores ∇log P(τ) and returns R(τ).
        if (optimal && ReturnWeighting == RewardToGo)
            throw new UsageException($"--baseline {Baseline} weights whole-trajectory returns (note 001); it does not combine with --return-weighting reward-to-go");
        if (optimal && DiscountWeighting)
            throw new UsageException($"--discount-weighting does not combine with --baseline {Baseline}, which weights whole-trajectory returns");
        // Note 002's γ^(k−1) multiplies the reward-to-go of step k; it is no part of formula (a).
        if (DiscountWeighting && h.Weighting == ReturnWeightingKind.WholeTrajectoryReturn)
            throw new UsageException("--discount-weighting multiplies the reward-to-go (note 002); it does not combine with --return-weighting whole");
        return h with { DiscountFromTrajectoryStart = DiscountWeighting || h.DiscountFromTrajectoryStart };
    }

    /// <summary>The fd / regression settings for a policy with <paramref name="parameterCount"/> mean parameters.</summary>
    public PolicySearchSettings PolicySearch(string algorithm, int parameterCount, ulong seed) =>
        PolicySearchAlgorithms.Settings(algorithm, parameterCount, seed,
            Delta is null ? null : CommandArguments.PositiveDouble(Delta, "--delta"),
            Perturbations is null ? null : (int)Math.Min(int.MaxValue, CommandArguments.PositiveInt64(Perturbations, "--perturbations")),
            StepSize is null ? null : CommandArguments.PositiveDouble(StepSize, "--step-size"));
}
