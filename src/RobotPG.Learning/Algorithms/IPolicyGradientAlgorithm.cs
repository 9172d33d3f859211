using RobotPG.Learning.Rollouts;

namespace RobotPG.Learning.Algorithms;

/// <summary>
/// How rollouts are collected for an algorithm: their shape and the observation/reward processing
/// the trainer applies before storing a transition.
/// </summary>
/// <param name="EnvironmentCount">Environment copies stepped in turn per rollout step (CleanRL's num_envs).</param>
/// <param name="StepsPerEnvironment">Steps of each environment per rollout (num_steps).</param>
/// <param name="Gamma">Discount of the reward scaler's running return.</param>
/// <param name="ScaleRewards">Divide rewards by the running std of the discounted return.</param>
/// <param name="RewardClip">Clip of scaled rewards (±).</param>
public readonly record struct RolloutSettings(int EnvironmentCount, int StepsPerEnvironment, double Gamma, bool ScaleRewards, float RewardClip)
{
    public int BatchSize => EnvironmentCount * StepsPerEnvironment;
}

/// <summary>
/// A policy-gradient method: given a rollout collected with <see cref="Agent"/>, improve the agent.
/// The same interface serves the simulator trainer and the robot's on-device learner.
/// </summary>
public interface IPolicyGradientAlgorithm
{
    /// <summary>Registry name ("ppo", ...).</summary>
    string Name { get; }

    /// <summary>The policy, critic and normaliser being trained.</summary>
    ActorCritic Agent { get; }

    RolloutSettings Rollout { get; }

    /// <summary>
    /// One update from a full rollout (values, log-probs and rewards as collected; advantages are the
    /// algorithm's business). <paramref name="iteration"/> is 1-based out of <paramref name="iterations"/>
    /// (learning-rate schedules). Allocates nothing after the first call.
    /// </summary>
    UpdateDiagnostics Update(RolloutBuffer rollout, int iteration, int iterations);
}
