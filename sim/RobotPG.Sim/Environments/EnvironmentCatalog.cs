using RobotPG.Learning.Environments;

namespace RobotPG.Sim.Environments;

/// <summary>The in-process environments by name, each wrapped as Gymnasium registers it (time limit, action clipping).</summary>
public static class EnvironmentCatalog
{
    public const string Pendulum = "pendulum", CartPole = "cartpole", MountainCar = "mountaincar", PointMass = "point-mass";

    /// <summary>Every name <see cref="TryCreate"/> accepts.</summary>
    public static IReadOnlyList<string> Names { get; } = [Pendulum, CartPole, MountainCar, PointMass];

    /// <summary>Names of the physical state variables, in the order of <see cref="IEnvironment.ReadState"/>.</summary>
    public static IReadOnlyList<string> StateNames(string name) => name switch
    {
        Pendulum => ["theta", "theta_dot"],
        CartPole => ["x", "x_dot", "theta", "theta_dot"],
        MountainCar => ["position", "velocity"],
        PointMass => ["x", "v"],
        _ => throw new ArgumentException($"unknown environment '{name}'", nameof(name)),
    };

    /// <summary>Creates the named environment behind ClipAction(TimeLimit(env)); false for an unknown name.</summary>
    public static bool TryCreate(string name, ulong seed, out IEnvironment environment)
    {
        (IEnvironment? raw, int limit) = name switch
        {
            Pendulum => ((IEnvironment?)new Environments.Pendulum(seed), Environments.Pendulum.MaxEpisodeSteps),
            CartPole => (new Environments.CartPole(seed), Environments.CartPole.MaxEpisodeSteps),
            MountainCar => (new MountainCarContinuous(seed), MountainCarContinuous.MaxEpisodeSteps),
            _ => (null, 0),
        };
        // The point mass stays unwrapped: it truncates itself at 50 steps, and clipping its force would
        // break the smooth quadratic return that makes the LQR solution its reference.
        if (name == PointMass)
        {
            environment = new Environments.PointMass(seed);
            return true;
        }
        if (raw is null)
        {
            environment = null!;
            return false;
        }
        environment = new ClipAction(new TimeLimit(raw, limit));
        return true;
    }

    /// <summary>Creates the named environment or throws naming the accepted names.</summary>
    public static IEnvironment Create(string name, ulong seed = 0) =>
        TryCreate(name, seed, out IEnvironment env)
            ? env
            : throw new ArgumentException($"unknown environment '{name}' (known: {string.Join(", ", Names)})", nameof(name));
}
