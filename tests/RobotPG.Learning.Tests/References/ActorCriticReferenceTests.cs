using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Tests.Networks;
using Xunit;

namespace RobotPG.Learning.Tests.References;

/// <summary>The agent's deterministic action against the double-precision policy mean.</summary>
public class ActorCriticReferenceTests
{
    [Fact]
    public void The_deterministic_action_is_the_policy_mean_of_the_observation()
    {
        // Normalisation off: the policy sees the raw observation, so the action is μ_θ(s) exactly.
        var agent = new ActorCritic(2, 2, [3], [3], maxBatch: 1, seed: 5, normalizeObservations: false);
        double[] theta = ReferenceNetworks.ToDouble(agent.Policy.Parameters);
        float[] action = new float[2];
        foreach (double[] s in new[] { new[] { 0.4, -1.3 }, new[] { -0.7, 0.2 } })
        {
            agent.ActDeterministic([(float)s[0], (float)s[1]], action);
            double[] mu = ReferenceNetworks.PolicyMean(theta, [2, 3, 2], s);
            FixedRollout.AssertClose(mu, action, 1e-5, "μ(s)");
        }
    }
}
