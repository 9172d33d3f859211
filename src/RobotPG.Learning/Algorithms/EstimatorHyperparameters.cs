using RobotPG.Learning.Estimators;

namespace RobotPG.Learning.Algorithms;

/// <summary>
/// Settings of the note-algorithms (REINFORCE, VPG, A2C, off-policy IS, PPO-KL, NPG, TRPO). One record
/// so presets read side by side; each algorithm uses the fields its doc names. Per-task presets are in
/// <see cref="EstimatorPresets"/>.
/// </summary>
public sealed record EstimatorHyperparameters
{
    public int EnvironmentCount { get; init; } = 4;
    public int StepsPerEnvironment { get; init; } = 512;
    public double Gamma { get; init; } = 0.99;

    /// <summary>GAE λ for PPO-KL, NPG and TRPO (note 001 GAE).</summary>
    public double GaeLambda { get; init; } = 0.97;

    public float PolicyLearningRate { get; init; } = 3e-3f;
    public float ValueLearningRate { get; init; } = 1e-3f;

    /// <summary>Epochs × minibatches of critic regression per update (note 001 "Re-fit the baseline").</summary>
    public int ValueEpochs { get; init; } = 5;
    public int ValueMinibatches { get; init; } = 16;

    /// <summary>λ of the fitted-V trust penalty λ‖φ − φᵢ‖² (note 001; κ in the A3C section).</summary>
    public float ValueTrustPenalty { get; init; }

    /// <summary>Fit V to TD targets r + γV_φᵢ(s′) (fitted V iteration) instead of Monte-Carlo returns.</summary>
    public bool TemporalDifferenceValueTargets { get; init; }

    public ReturnWeightingKind Weighting { get; init; } = ReturnWeightingKind.RewardToGo;
    public BaselineKind Baseline { get; init; } = BaselineKind.StateValue;

    /// <summary>Note 002's γ^(k−1) factor on the reward-to-go, k counted from the episode's first step.</summary>
    public bool DiscountFromTrajectoryStart { get; init; }

    /// <summary>Divide the advantages by their standard deviation after centring (a variance device outside the notes; off by default).</summary>
    public bool NormalizeAdvantages { get; init; }

    /// <summary>Off-policy: gradient steps taken on one rollout, re-weighting by importance ratios each time.</summary>
    public int ReuseSteps { get; init; } = 4;

    /// <summary>Off-policy: per-decision ratio products with causality (true) or the marginal-ratio approximation.</summary>
    public bool PerDecisionImportance { get; init; }

    /// <summary>PPO-KL: epochs and minibatches of the penalised surrogate.</summary>
    public int Epochs { get; init; } = 10;
    public int Minibatches { get; init; } = 32;
    public KlPenaltyRule KlRule { get; init; } = KlPenaltyRule.DoubleOrHalve;
    public double InitialBeta { get; init; } = 1.0;
    public double KlMin { get; init; } = 0.01 / 1.5;
    public double KlMax { get; init; } = 0.01 * 1.5;
    public double TargetKl { get; init; } = 0.01;
    public double BetaRate { get; init; } = 10.0;

    /// <summary>NPG/TRPO: ε (NPG's KL radius) or δ (TRPO's KL bound).</summary>
    public double MaxKl { get; init; } = 0.01;
    public int ConjugateGradientIterations { get; init; } = 10;
    public double Damping { get; init; } = 0.1;
    public double BacktrackRatio { get; init; } = 0.8;
    public int MaxBacktracks { get; init; } = 10;

    public bool NormalizeObservations { get; init; } = true;
    public int[] PolicyHiddenSizes { get; init; } = [64, 64];
    public int[] ValueHiddenSizes { get; init; } = [64, 64];

    public int BatchSize => EnvironmentCount * StepsPerEnvironment;

    /// <summary>The policy, critic and normaliser an estimator algorithm trains, one rollout batch wide.</summary>
    public ActorCritic CreateAgent(in AlgorithmContext context) =>
        new(context.ObservationSize, context.ActionSize, PolicyHiddenSizes, ValueHiddenSizes, BatchSize, context.Seed, NormalizeObservations);

    /// <summary>The note-algorithms learn from the raw rewards: no reward scaling (so the clip never applies).</summary>
    public RolloutSettings CreateRolloutSettings() => new(EnvironmentCount, StepsPerEnvironment, Gamma, false, 10f);

    /// <summary>The critic's regression onto a whole batch of targets; <paramref name="seed"/> drives its minibatch shuffles.</summary>
    public ValueFitting CreateValueFitting(ActorCritic agent, ulong seed) =>
        new(agent.Value, ValueLearningRate, BatchSize, BatchSize / ValueMinibatches, seed);

    /// <summary>One line naming the first setting that cannot work, or null.</summary>
    public string? Validate()
    {
        if (EnvironmentCount < 1 || StepsPerEnvironment < 1) return $"rollout must be ≥ 1 × 1 (got {EnvironmentCount} × {StepsPerEnvironment})";
        if (!(Gamma > 0 && Gamma <= 1)) return $"gamma must be in (0, 1] (got {Gamma})";
        if (GaeLambda is < 0 or > 1) return $"GAE lambda must be in [0, 1] (got {GaeLambda})";
        if (!(PolicyLearningRate > 0) || !(ValueLearningRate > 0)) return "learning rates must be > 0";
        if (ValueEpochs < 0 || ValueMinibatches < 1 || ValueMinibatches > BatchSize) return $"value epochs ≥ 0 and minibatches in 1..{BatchSize}";
        if (ValueTrustPenalty < 0) return $"trust penalty must be ≥ 0 (got {ValueTrustPenalty})";
        if (ReuseSteps < 1 || Epochs < 1 || Minibatches < 1 || Minibatches > BatchSize) return "reuse steps, epochs and minibatches must be ≥ 1";
        if (!(MaxKl > 0) || ConjugateGradientIterations < 1 || Damping < 0) return "KL bound > 0, CG iterations ≥ 1, damping ≥ 0";
        if (!(BacktrackRatio > 0 && BacktrackRatio < 1) || MaxBacktracks < 1) return "backtrack ratio in (0, 1), at least one backtrack";
        if (PolicyHiddenSizes.Length == 0 || ValueHiddenSizes.Length == 0) return "networks need at least one hidden layer";
        return null;
    }
}
