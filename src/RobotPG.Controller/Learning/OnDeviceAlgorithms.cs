using RobotPG.Learning.Algorithms;

namespace RobotPG.Controller.Learning;

/// <summary>
/// The registry's algorithms shaped for one robot: one environment (the robot itself), the configured
/// batch, no learning-rate annealing (learning never "finishes" on a robot), the config's policy layers.
/// </summary>
public static class OnDeviceAlgorithms
{
    public static IReadOnlyList<string> Names { get; } =
        [AlgorithmRegistry.Ppo, EstimatorAlgorithms.PpoKl, EstimatorAlgorithms.Npg, EstimatorAlgorithms.Trpo,
         EstimatorAlgorithms.A2c, EstimatorAlgorithms.Vpg, EstimatorAlgorithms.Reinforce];

    /// <summary>
    /// Builds <see cref="LearningOptions.Algorithm"/> for a task of the given sizes; throws <see cref="ArgumentException"/> on bad settings.
    /// <paramref name="offPolicyData"/>: the batches are acted by older policies (a fleet learner), PPO clips around the policy before the update.
    /// </summary>
    public static IPolicyGradientAlgorithm Create(LearningOptions options, int observationSize, int actionSize, int[] policyHiddenSizes, string taskName,
        bool offPolicyData = false)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Validate() is string problem) throw new ArgumentException(problem, nameof(options));
        var context = new AlgorithmContext(observationSize, actionSize, taskName, options.Seed);
        if (options.Algorithm == AlgorithmRegistry.Ppo)
        {
            var h = PpoPresets.For(taskName) with
            {
                EnvironmentCount = 1,
                StepsPerEnvironment = options.BatchSteps,
                Minibatches = Math.Max(1, options.BatchSteps / 64),
                AnnealLearningRate = false,
                PolicyHiddenSizes = policyHiddenSizes,
                ValueHiddenSizes = options.ValueHiddenSizes,
                ReplayBatches = options.ReplayBatches,
                OffPolicyData = offPolicyData,
            };
            if (options.LearningRate is float lr) h = h with { LearningRate = lr };
            return new Ppo(h, context);
        }
        var e = EstimatorPresets.For(options.Algorithm, taskName)
            ?? throw new ArgumentException($"unknown algorithm '{options.Algorithm}'", nameof(options));
        e = e with
        {
            EnvironmentCount = 1,
            StepsPerEnvironment = options.BatchSteps,
            Minibatches = Math.Max(1, Math.Min(e.Minibatches, options.BatchSteps / 64)),
            ValueMinibatches = Math.Max(1, Math.Min(e.ValueMinibatches, options.BatchSteps / 64)),
            PolicyHiddenSizes = policyHiddenSizes,
            ValueHiddenSizes = options.ValueHiddenSizes,
        };
        if (options.LearningRate is float elr) e = e with { PolicyLearningRate = elr };
        return EstimatorAlgorithms.Create(options.Algorithm, e, context);
    }
}
