using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Rollouts;

namespace RobotPG.Controller.Tests.Learning;

/// <summary>
/// A stand-in algorithm for learner tests: a real agent, an update that applies the test's
/// <see cref="Change"/> (the injected good or bad update) and keeps a copy of the rollout it was given.
/// </summary>
internal sealed class ScriptedAlgorithm : IPolicyGradientAlgorithm
{
    public ScriptedAlgorithm(int batch, bool scaleRewards = false, bool normalizeObservations = false)
    {
        Agent = new ActorCritic(4, 2, [8, 8], [8, 8], maxBatch: batch, seed: 5, normalizeObservations);
        Rollout = new RolloutSettings(1, batch, 0.99, scaleRewards, 10f);
    }

    public string Name => "scripted";

    public ActorCritic Agent { get; }

    public RolloutSettings Rollout { get; }

    public Action<ActorCritic>? Change { get; set; }

    /// <summary>Called first in each update with the rollout and the agent as they are before it (e.g. to compare log-probs).</summary>
    public Action<RolloutBuffer, ActorCritic>? Inspect { get; set; }

    public List<(float[] Rewards, bool[] Terminated, bool[] Truncated, float[] Observations, float[] LogProbs, float[] Bootstrap, float LastValue)> Seen { get; } = [];

    public UpdateDiagnostics Update(RolloutBuffer rollout, int iteration, int iterations)
    {
        Seen.Add((rollout.Rewards.ToArray(), rollout.Terminated.ToArray(), rollout.Truncated.ToArray(), rollout.Observations.ToArray(),
            rollout.LogProbs.ToArray(), rollout.BootstrapValues.ToArray(), rollout.LastValues[0]));
        Inspect?.Invoke(rollout, Agent);
        Change?.Invoke(Agent);
        return new UpdateDiagnostics(0.5f, 0.25f, 1f, 0f, 0f, 0f, 1e-3f, 1);
    }
}
