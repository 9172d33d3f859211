using RobotPG.Learning.Estimators;

namespace RobotPG.Learning.Algorithms;

/// <summary>
/// The note-algorithms by name, for <see cref="AlgorithmRegistry"/> (which consults this first) and the
/// on-device learner. Presets per task are in <see cref="EstimatorPresets"/>.
/// </summary>
public static class EstimatorAlgorithms
{
    public const string Reinforce = "reinforce", Vpg = "vpg", A2c = "a2c", OffPolicy = "off-policy", PpoKl = "ppo-kl", Npg = "npg", Trpo = "trpo";

    public static IReadOnlyList<string> Names { get; } = [Reinforce, Vpg, A2c, OffPolicy, PpoKl, Npg, Trpo];

    public static bool TryCreate(string name, in AlgorithmContext context, out IPolicyGradientAlgorithm algorithm)
    {
        EstimatorHyperparameters? h = EstimatorPresets.For(name, context.EnvironmentName);
        algorithm = h is null ? null! : Create(name, h, context);
        return algorithm is not null;
    }

    /// <summary>Builds the named algorithm with explicit settings (tests, tuned runs).</summary>
    public static IPolicyGradientAlgorithm Create(string name, EstimatorHyperparameters hyperparameters, in AlgorithmContext context) => name switch
    {
        Reinforce => new Algorithms.Reinforce(hyperparameters, context, Reinforce),
        Vpg => new Algorithms.Reinforce(hyperparameters, context, Vpg),
        A2c => new Algorithms.A2c(hyperparameters, context),
        OffPolicy => new OffPolicyPolicyGradient(hyperparameters, context),
        PpoKl => new Algorithms.PpoKl(hyperparameters, context),
        Npg => new NaturalPolicyGradient(hyperparameters, context, lineSearch: false),
        Trpo => new NaturalPolicyGradient(hyperparameters, context, lineSearch: true),
        _ => throw new ArgumentException($"unknown estimator algorithm '{name}' (known: {string.Join(", ", Names)})", nameof(name)),
    };
}

/// <summary>
/// Settings per algorithm and task. Unknown tasks get the defaults of <see cref="EstimatorHyperparameters"/>
/// with the algorithm's own shape (A2C: 16 environments × 5 steps).
/// </summary>
public static class EstimatorPresets
{
    /// <summary>The preset, or null for an unknown algorithm name.</summary>
    public static EstimatorHyperparameters? For(string algorithm, string environment)
    {
        var h = new EstimatorHyperparameters();
        bool pendulum = environment == "pendulum";
        // Pendulum's dense cost over a 200-step swing-up needs a short horizon (γ 0.9, as the PPO preset).
        if (pendulum) h = h with { Gamma = 0.9, GaeLambda = 0.95, EnvironmentCount = 8, StepsPerEnvironment = 256 };
        return algorithm switch
        {
            // REINFORCE proper: reward-to-go (formula (b)) with the critic-free time-dependent baseline.
            EstimatorAlgorithms.Reinforce => h with { Baseline = BaselineKind.TimeDependent },
            // Note 001's VPG loop: reward-to-go, V(s) baseline re-fitted by Monte-Carlo regression.
            EstimatorAlgorithms.Vpg => h with { Baseline = BaselineKind.StateValue },
            EstimatorAlgorithms.A2c => h with { EnvironmentCount = 16, StepsPerEnvironment = 5, ValueEpochs = 1, ValueMinibatches = 1,
                PolicyLearningRate = 1e-3f, ValueLearningRate = 1e-3f, NormalizeAdvantages = true },
            EstimatorAlgorithms.OffPolicy => h with { ReuseSteps = 4, NormalizeAdvantages = true },
            // Pendulum: lr 1e-3 as the PPO preset (3e-4 reaches −165 only near 200k steps).
            EstimatorAlgorithms.PpoKl => h with { PolicyLearningRate = pendulum ? 1e-3f : 3e-4f, Epochs = 10, Minibatches = 32 },
            EstimatorAlgorithms.Npg or EstimatorAlgorithms.Trpo => h with { ValueEpochs = 10 },
            _ => null,
        };
    }
}
