using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Rollouts;
using RobotPG.Learning.Tests.Networks;
using Xunit;
using static RobotPG.Learning.Tests.References.FixedRollout;

namespace RobotPG.Learning.Tests.References;

public partial class AlgorithmReferenceTests
{
    /// <summary>
    /// PPO over two replayed batches (K = 2, the fixed rollout's two environments as the two batches of 4 steps, acted by
    /// a behaviour policy other than θ₀). Minibatches of 4 from the 8 steps: the first at θ₀, the second at θ₁ after
    /// Adam's first step. The second's gradient, loss, approx KL and the clip fraction must be the generalised clip's
    /// (importance weight r = π_θ/π_behaviour, region c ± ε with c = π_θ₀/π_behaviour fixed for the update), in double
    /// precision with central differences. The reference with the region around 1 (on-policy PPO), or around θ₁ (a
    /// centre taken again per minibatch), differs by more than the tolerance, so each would fail.
    /// </summary>
    [Fact]
    public void Ppo_with_replay_clips_around_the_policy_before_the_update_for_every_minibatch()
    {
        const double lr = 0.3, clip = 0.2;
        var h = new PpoHyperparameters
        {
            EnvironmentCount = 1, StepsPerEnvironment = Steps, ReplayBatches = 2, Minibatches = 1, Epochs = 1, Gamma = Gamma, GaeLambda = 0.8,
            LearningRate = (float)lr, AnnealLearningRate = false, EntropyCoefficient = 0f, ValueCoefficient = 0.5f, MaxGradientNorm = 1e6f,
            NormalizeObservations = false, ScaleRewards = false, PolicyHiddenSizes = Hidden, ValueHiddenSizes = Hidden,
        };
        var ppo = new RobotPG.Learning.Algorithms.Ppo(h, Context);
        var policy = ppo.Agent.Policy;
        double[] theta0 = Theta(policy);
        RolloutBuffer rollout = Build(policy, Values, BehaviourOffsets.Select(o => 4 * o).ToArray());
        double[] behaviour = ReferenceNetworks.ToDouble(rollout.LogProbs);
        UpdateDiagnostics d = ppo.Update(rollout, 1, 1);

        double[] adv = Gae(Values, Gamma, 0.8, RunBootstrap);
        int[] order = Shuffled(Context.Seed ^ 0x5050_4F5F_5348_5546UL);
        int[] first = order[..4], second = order[4..];
        double[] centre0 = [.. Enumerable.Range(0, Count).Select(i => LogProb(theta0, i))];
        (double Loss, double Kl, double ClipFraction) Terms(double[] t, int[] mb, double[] centre)
        {
            double[] std = Standardized([.. mb.Select(i => adv[i])]);
            double loss = 0, kl = 0;
            int clipped = 0;
            for (int k = 0; k < mb.Length; k++)
            {
                int i = mb[k];
                double ratio = Math.Exp(LogProb(t, i) - behaviour[i]), c = Math.Exp(centre[i] - behaviour[i]);
                loss += Math.Max(-std[k] * ratio, -std[k] * Math.Clamp(ratio, c - clip, c + clip));
                double logToCentre = LogProb(t, i) - centre[i];
                kl += Math.Exp(logToCentre) - 1 - logToCentre;
                if (Math.Abs(ratio - c) > clip) clipped++;
            }
            return (loss / mb.Length, kl / mb.Length, (double)clipped / mb.Length);
        }
        double[] theta1 = AdamFirstStep(theta0, ReferenceNetworks.Gradient(t => Terms(t, first, centre0).Loss, theta0), lr);
        double[] expected = ReferenceNetworks.Gradient(t => Terms(t, second, centre0).Loss, theta1);
        AssertClose(expected, policy.Gradients, 1e-3, "second minibatch's policy gradient");

        var (loss, kl, clipFraction) = Terms(theta1, second, centre0);
        Assert.Equal(loss, d.PolicyLoss, 1e-4);
        Assert.Equal(kl, d.ApproxKl, 1e-5);
        // The first minibatch is at θ₀ = the centre: nothing is outside the region there.
        Assert.Equal(clipFraction / 2, d.ClipFraction, 1e-6);

        // The alternatives this must tell apart: the region around 1 (the behaviour policy) or around θ₁.
        double[] behaviourCentre = ReferenceNetworks.Gradient(t => Terms(t, second, behaviour).Loss, theta1);
        double[] centre1 = [.. Enumerable.Range(0, Count).Select(i => LogProb(theta1, i))];
        double[] freshCentre = ReferenceNetworks.Gradient(t => Terms(t, second, centre1).Loss, theta1);
        double scale = Math.Max(1, expected.Max(Math.Abs));
        Assert.True(expected.Zip(behaviourCentre).Max(p => Math.Abs(p.First - p.Second)) > 0.05 * scale, "precondition: the region around 1 differs");
        Assert.True(expected.Zip(freshCentre).Max(p => Math.Abs(p.First - p.Second)) > 0.05 * scale, "precondition: the region around θ₁ differs");
        Assert.True(clipFraction > 0, "precondition: the clip binds in the second minibatch");
    }
    /// <summary>
    /// θk's log-probs (the clip centre) are taken in minibatch-sized chunks before the epochs: a replayed batch of 5 steps
    /// in chunks of 2 ends with a chunk of 1, and with two observation and two action components every stride shows.
    /// With a learning rate of 1e-12, θ stays θk (to 1e-11), so every sample's ratio to the centre is 1:
    /// no sample is outside the region, in any minibatch (the clip fraction averages all of them), and the last
    /// minibatch's approx KL is 0. A centre left at 0, taken for the wrong rows or cut short puts samples far outside.
    /// </summary>
    [Fact]
    public void Ppo_with_replay_takes_the_clip_centre_of_every_sample_of_a_batch_that_is_no_multiple_of_the_minibatch()
    {
        const int steps = 5, obs = 2, act = 2;
        var h = new PpoHyperparameters
        {
            EnvironmentCount = 1, StepsPerEnvironment = steps, ReplayBatches = 2, Minibatches = 2, Epochs = 6, Gamma = Gamma, GaeLambda = 0.8,
            LearningRate = 1e-12f, AnnealLearningRate = false, NormalizeObservations = false, ScaleRewards = false,
            PolicyHiddenSizes = Hidden, ValueHiddenSizes = Hidden,
        };
        var ppo = new RobotPG.Learning.Algorithms.Ppo(h, new AlgorithmContext(obs, act, "reference", 7));
        var policy = ppo.Agent.Policy;
        float[] before = policy.Parameters.ToArray();
        var rollout = new RolloutBuffer(steps, 1, obs, act);
        for (int i = 0; i < steps; i++)
        {
            rollout.Observation(i)[0] = 0.3f * i - 0.5f;
            rollout.Observation(i)[1] = 0.2f - 0.15f * i;
            rollout.Action(i)[0] = 0.4f - 0.3f * i;
            rollout.Action(i)[1] = 0.1f * i;
            // A behaviour policy 0.3 nats from θk either way: the centre c = e^(±0.3) is far from 1, so a wrong centre shows.
            float behaviour = policy.LogProb(rollout.Observation(i), rollout.Action(i)) + (i % 2 == 0 ? 0.3f : -0.3f);
            rollout.Record(i, behaviour, 0.1f * i, 1f - 0.2f * i, false, false);
        }
        UpdateDiagnostics d = ppo.Update(rollout, 1, 1);
        // θ did not move (Adam's steps are ≈ lr each): the centre is the current policy throughout.
        Assert.True(before.Zip(policy.Parameters.ToArray()).Max(p => Math.Abs(p.First - p.Second)) < 1e-10);
        Assert.Equal(6, d.Epochs);
        Assert.Equal(0f, d.ClipFraction);
        Assert.Equal(0, d.ApproxKl, 1e-6);
    }
}

