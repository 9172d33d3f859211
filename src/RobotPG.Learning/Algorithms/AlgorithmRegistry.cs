namespace RobotPG.Learning.Algorithms;

/// <summary>What an algorithm needs to know about the task to build itself.</summary>
/// <param name="ObservationSize">Observation length.</param>
/// <param name="ActionSize">Action length.</param>
/// <param name="EnvironmentName">Task name, selects tuned presets ("pendulum", "cartpole", ...); unknown names get the defaults.</param>
/// <param name="Seed">Run seed (network initialisation, sampling, minibatch order).</param>
public readonly record struct AlgorithmContext(int ObservationSize, int ActionSize, string EnvironmentName, ulong Seed);

/// <summary>The algorithms by name: one switch, extended by each new method.</summary>
public static class AlgorithmRegistry
{
    public const string Ppo = "ppo";

    /// <summary>Every name <see cref="TryCreate"/> accepts.</summary>
    public static IReadOnlyList<string> Names { get; } = [Ppo, .. EstimatorAlgorithms.Names];

    public static bool TryCreate(string name, in AlgorithmContext context, out IPolicyGradientAlgorithm algorithm)
    {
        algorithm = name switch
        {
            Ppo => new Algorithms.Ppo(PpoPresets.For(context.EnvironmentName), context),
            _ when EstimatorAlgorithms.TryCreate(name, context, out IPolicyGradientAlgorithm estimator) => estimator,
            _ => null!,
        };
        return algorithm is not null;
    }

    public static IPolicyGradientAlgorithm Create(string name, in AlgorithmContext context) =>
        TryCreate(name, context, out IPolicyGradientAlgorithm algorithm)
            ? algorithm
            : throw new ArgumentException($"unknown algorithm '{name}' (known: {string.Join(", ", Names)})", nameof(name));
}
