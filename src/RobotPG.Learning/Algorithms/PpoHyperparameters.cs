namespace RobotPG.Learning.Algorithms;

/// <summary>
/// PPO-clip settings. Defaults are CleanRL's <c>ppo_continuous_action.py</c> (1 env × 2048 steps,
/// 32 minibatches, 10 epochs, γ 0.99, λ 0.95, lr 3e-4 annealed to 0, ε 0.2 on ratio and value,
/// entropy 0, value coefficient 0.5, gradient norm 0.5, Adam ε 1e-5, no target KL, 64-64 tanh networks).
/// </summary>
public sealed record PpoHyperparameters
{
    public int EnvironmentCount { get; init; } = 1;
    public int StepsPerEnvironment { get; init; } = 2048;
    public int Minibatches { get; init; } = 32;
    public int Epochs { get; init; } = 10;
    public double Gamma { get; init; } = 0.99;
    public double GaeLambda { get; init; } = 0.95;
    public float LearningRate { get; init; } = 3e-4f;
    public bool AnnealLearningRate { get; init; } = true;
    public float ClipCoefficient { get; init; } = 0.2f;
    public bool ClipValueLoss { get; init; } = true;
    public bool NormalizeAdvantages { get; init; } = true;
    public float EntropyCoefficient { get; init; }
    public float ValueCoefficient { get; init; } = 0.5f;
    public float MaxGradientNorm { get; init; } = 0.5f;
    public float AdamEpsilon { get; init; } = 1e-5f;

    /// <summary>
    /// Batches of the recent past an update trains on (1: the current one only, on-policy PPO; at most
    /// <see cref="MaxReplayBatches"/>): <see cref="Ppo.Update"/> then takes a rollout of 1..K batches as its
    /// environments and clips around the policy before the update (<see cref="PpoLoss"/>, GePPO). One environment only.
    /// </summary>
    public int ReplayBatches { get; init; } = 1;

    public const int MaxReplayBatches = 8;

    /// <summary>
    /// The rollout holds transitions acted by policies older than the one being updated (the fleet learner's robots
    /// run the versions they last received): clip around the policy before the update, as with replay, instead of
    /// around the behaviour policy. Implied by <see cref="ReplayBatches"/> &gt; 1.
    /// </summary>
    public bool OffPolicyData { get; init; }

    /// <summary>Whether the clip is centred on θk, the policy before the update (GePPO), rather than on the behaviour policy.</summary>
    public bool ClipsAroundPolicyBeforeUpdate => ReplayBatches > 1 || OffPolicyData;

    /// <summary>Stops the epochs of an update once a minibatch's approx KL exceeds it; null = never.</summary>
    public float? TargetKl { get; init; }

    /// <summary>Normalise observations by running statistics and clip to ±<see cref="ObservationClip"/>.</summary>
    public bool NormalizeObservations { get; init; } = true;
    public float ObservationClip { get; init; } = 10f;

    /// <summary>Scale rewards by the running std of the discounted return and clip to ±<see cref="RewardClip"/>.</summary>
    public bool ScaleRewards { get; init; } = true;
    public float RewardClip { get; init; } = 10f;

    public int[] PolicyHiddenSizes { get; init; } = [64, 64];
    public int[] ValueHiddenSizes { get; init; } = [64, 64];

    public int BatchSize => EnvironmentCount * StepsPerEnvironment;
    public int MinibatchSize => BatchSize / Minibatches;

    /// <summary>One line naming the first setting that cannot work, or null.</summary>
    public string? Validate()
    {
        if (EnvironmentCount < 1) return $"environment count must be ≥ 1 (got {EnvironmentCount})";
        if (StepsPerEnvironment < 1) return $"steps per environment must be ≥ 1 (got {StepsPerEnvironment})";
        if (Minibatches < 1 || Minibatches > BatchSize) return $"minibatches must be in 1..{BatchSize} (got {Minibatches})";
        if (Epochs < 1) return $"epochs must be ≥ 1 (got {Epochs})";
        if (Gamma is < 0 or > 1) return $"gamma must be in [0, 1] (got {Gamma})";
        if (GaeLambda is < 0 or > 1) return $"GAE lambda must be in [0, 1] (got {GaeLambda})";
        if (!(LearningRate > 0)) return $"learning rate must be > 0 (got {LearningRate})";
        if (!(ClipCoefficient > 0)) return $"clip coefficient must be > 0 (got {ClipCoefficient})";
        if (!(MaxGradientNorm > 0)) return $"max gradient norm must be > 0 (got {MaxGradientNorm})";
        if (ReplayBatches is < 1 or > MaxReplayBatches) return $"replay batches must be in 1..{MaxReplayBatches} (got {ReplayBatches})";
        if (ReplayBatches > 1 && EnvironmentCount != 1) return $"replay of {ReplayBatches} batches needs one environment (got {EnvironmentCount})";
        if (PolicyHiddenSizes.Length == 0 || ValueHiddenSizes.Length == 0) return "networks need at least one hidden layer";
        return null;
    }
}
