using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Environments;

namespace RobotPG.Learning.Training;

/// <summary>Returns of the deterministic policy (the mean action) with frozen normaliser statistics.</summary>
public static class PolicyEvaluation
{
    /// <summary>
    /// Runs <paramref name="episodes"/> episodes (the first reset seeded with <paramref name="seed"/>)
    /// and writes each undiscounted return; returns their mean.
    /// </summary>
    public static double Run(ActorCritic agent, IEnvironment environment, int episodes, ulong seed, Span<double> returns = default)
    {
        ArgumentNullException.ThrowIfNull(agent);
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(episodes);
        var observation = new float[environment.ObservationSize];
        var action = new float[environment.ActionSize];
        double total = 0;
        for (int k = 0; k < episodes; k++)
        {
            if (k == 0) environment.Reset(observation, seed);
            else environment.Reset(observation);
            double episodeReturn = 0;
            StepResult r;
            do
            {
                agent.ActDeterministic(observation, action);
                r = environment.Step(action, observation);
                episodeReturn += r.Reward;
            } while (!r.Done);
            if (k < returns.Length) returns[k] = episodeReturn;
            total += episodeReturn;
        }
        return total / episodes;
    }
}
