using RobotPG.Learning.Advantages;
using RobotPG.Learning.Algorithms;
using RobotPG.Messaging;
using RobotPG.Numerics;
using RobotPG.Sim.Fleet;
using Xunit;
using static RobotPG.Learning.Tests.Ppo.QuadraticObjective;

namespace RobotPG.Sim.Tests.Fleet;

/// <summary>
/// Stale fleet data on a linear-Gaussian bandit: s = 1, a ~ N(μ(s), σ²), r = −(a − c)², so
/// J(θ) = −((μ − c)² + σ²), ∂J/∂θ = −2(μ − c) ∂μ/∂θ and ∂J/∂log σ = −2σ². The rollouts come from a
/// known older behaviour policy N(μ + 0.5, (1.2σ)²) with its log-probs shipped in the batch, as a robot
/// running an old version sends them. The learner's gradient (its rollout + PPO's loss with the clip
/// opened) must match the on-policy closed form in expectation; with the ratio left out (the learner's
/// own log-probs in place of the behaviour's) it is the gradient at the behaviour policy instead.
/// </summary>
public class OffPolicyCorrectionTests
{
    private const int N = 16384;

    [Fact]
    public void Shipped_behaviour_log_probs_make_the_learner_gradient_the_on_policy_gradient()
    {
        var h = new PpoHyperparameters
        {
            StepsPerEnvironment = N, Minibatches = 1, Epochs = 1, NormalizeObservations = false, ScaleRewards = false,
            NormalizeAdvantages = false, PolicyHiddenSizes = [4], ValueHiddenSizes = [4], AnnealLearningRate = false, OffPolicyData = true,
        };
        var ppo = new Ppo(h, new AlgorithmContext(1, 1, "bandit", 3));
        var core = new FleetLearnerCore(ppo, new NullSigner(), maxStaleVersions: 100, maxKl: 1.0);
        var policy = ppo.Agent.Policy;
        double sigma = 0.5;
        policy.LogStd[0] = (float)Math.Log(sigma);
        var mu = new float[1];
        policy.Mean([1f], mu);
        double muB = mu[0] + 0.5, sigmaB = 1.2 * sigma;

        var batch = new RolloutBatch(1, 1, N) { PolicyVersion = 1 };
        var prng = new Prng(11);
        for (int i = 0; i < N; i++)
        {
            double a = muB + sigmaB * prng.NextGaussian();
            double logBehaviour = -0.5 * Math.Pow((a - muB) / sigmaB, 2) - Math.Log(sigmaB) - 0.5 * Math.Log(2 * Math.PI);
            batch.TryAdd([1f], [(float)a], (float)logBehaviour, (float)(-(a - C) * (a - C)), terminated: true, truncated: false);
        }
        for (int i = 0; i < N; i++) core.Append(batch, i);
        var rollout = core.Rollout;
        GaeEstimator.Estimate(rollout, h.Gamma, h.GaeLambda); // A = r − V(s): a constant baseline, unbiased

        double[] reference = ClosedFormGradient(policy, mu[0], sigma);
        double[] corrected = LearnerGradient(policy, rollout.Observations, rollout.Actions, rollout.LogProbs, rollout.Advantages);
        var newLogProbs = new float[N];
        policy.LogProbBatch(rollout.Observations, rollout.Actions, N, newLogProbs);
        double[] uncorrected = LearnerGradient(policy, rollout.Observations, rollout.Actions, newLogProbs, rollout.Advantages);

        double norm = Norm(reference);
        Assert.True(norm > 0.5, $"the reference gradient {norm} is too small to judge");
        // Monte-Carlo error of the importance-weighted mean at N = 16384 is a few per cent of |∇J|.
        Assert.True(Distance(corrected, reference) < 0.1 * norm, $"corrected {Format(corrected)} vs closed form {Format(reference)}");
        Assert.True(Distance(uncorrected, reference) > 0.2 * norm, $"without the ratio {Format(uncorrected)} should miss {Format(reference)}");
    }

    /// <summary>
    /// One update of the learner itself (<see cref="FleetLearnerCore.Consume"/> → PPO, ε 0.2, one minibatch, one epoch, no
    /// gradient-norm clip) on a batch acted by the older behaviour policy above. Its gradient is taken at θk, where the
    /// ratio π_θ/π_behaviour equals the centre π_θk/π_behaviour for every transition: centred on θk nothing is clipped and
    /// the gradient is the importance-weighted one, the closed form in expectation. Centred on the behaviour policy
    /// (c = 1, PPO-clip) every transition whose ratio is already outside 1 ± 0.2 on the side the clip holds passes
    /// nothing, and the gradient misses the closed form.
    /// </summary>
    [Fact]
    public void The_fleet_learner_clips_stale_data_around_its_policy_before_the_update()
    {
        var h = new PpoHyperparameters
        {
            StepsPerEnvironment = N, Minibatches = 1, Epochs = 1, NormalizeObservations = false, ScaleRewards = false,
            NormalizeAdvantages = false, PolicyHiddenSizes = [4], ValueHiddenSizes = [4], AnnealLearningRate = false,
            MaxGradientNorm = 1e9f, OffPolicyData = true,
        };
        var ppo = new Ppo(h, new AlgorithmContext(1, 1, "bandit", 3));
        var core = new FleetLearnerCore(ppo, new NullSigner(), maxStaleVersions: 100, maxKl: double.PositiveInfinity);
        var policy = ppo.Agent.Policy;
        double sigma = 0.5;
        policy.LogStd[0] = (float)Math.Log(sigma);
        var mu = new float[1];
        policy.Mean([1f], mu);
        // The robot acted with an older policy further from C than θk (the learner has moved on): the transitions
        // near C, good ones, have ratios π_θk/π_behaviour above 1 + ε.
        Assert.True(mu[0] < C);
        double muB = mu[0] - 0.5, sigmaB = 1.2 * sigma;
        double[] reference = ClosedFormGradient(policy, mu[0], sigma);
        // A constant baseline at the behaviour's mean reward, E[−(a − C)²] = −((μb − C)² + σb²), so advantages take both
        // signs (a constant baseline keeps the estimate unbiased): the clip then holds ratios on both sides.
        var critic = ppo.Agent.Value.Parameters;
        critic.Clear();
        critic[^1] = (float)-((muB - C) * (muB - C) + sigmaB * sigmaB); // the output bias
        Assert.Equal(critic[^1], ppo.Agent.Value.Predict([1f]));
        var before = new RobotPG.Learning.Networks.GaussianPolicy(1, 1, policy.HiddenSizes, maxBatch: N, seed: 1);
        before.CopyFrom(policy); // θk

        var batch = new RolloutBatch(1, 1, N) { PolicyVersion = 1 };
        var prng = new Prng(11);
        for (int i = 0; i < N; i++)
        {
            double a = muB + sigmaB * prng.NextGaussian();
            double logBehaviour = -0.5 * Math.Pow((a - muB) / sigmaB, 2) - Math.Log(sigmaB) - 0.5 * Math.Log(2 * Math.PI);
            Assert.True(batch.TryAdd([1f], [(float)a], (float)logBehaviour, (float)(-(a - C) * (a - C)), terminated: true, truncated: false));
        }
        var encoded = new byte[batch.EncodedLengthNow];
        batch.Encode(encoded);
        Assert.NotNull(core.Consume(encoded)); // one update, accepted
        Assert.Equal(1, core.Updates);
        Assert.NotEqual(before.Parameters.ToArray(), policy.Parameters.ToArray());

        // The update's only minibatch gradient, ∂L/∂θ at θk, is still in the policy: −∂L/∂θ estimates ∇J.
        double[] learner = new double[policy.ParameterCount];
        for (int k = 0; k < learner.Length; k++) learner[k] = -policy.Gradients[k];
        // The same data (the rollout keeps the update's advantages) with the clip centred on the behaviour policy.
        var rollout = core.Rollout;
        double[] centredOnBehaviour = ClippedGradient(before, rollout.Observations, rollout.Actions, rollout.LogProbs, rollout.LogProbs, rollout.Advantages, 0.2f);
        double[] centredOnBefore = ClippedGradient(before, rollout.Observations, rollout.Actions, rollout.LogProbs, default, rollout.Advantages, 0.2f);

        double norm = Norm(reference);
        Assert.True(norm > 0.5, $"the reference gradient {norm} is too small to judge");
        Assert.True(Distance(learner, reference) < 0.1 * norm, $"learner {Format(learner)} vs closed form {Format(reference)}");
        Assert.True(Distance(learner, centredOnBefore) < 1e-4 * norm, $"learner {Format(learner)} vs centre θk {Format(centredOnBefore)}");
        Assert.True(Distance(centredOnBehaviour, reference) > 0.2 * norm,
            $"centred on the behaviour policy {Format(centredOnBehaviour)} should miss {Format(reference)}");
    }

    [Fact]
    public void A_fleet_learner_refuses_ppo_that_would_clip_around_the_behaviour_policy()
    {
        var h = new PpoHyperparameters { StepsPerEnvironment = 64, Minibatches = 1, Epochs = 1, PolicyHiddenSizes = [4], ValueHiddenSizes = [4] };
        var e = Assert.Throws<ArgumentException>(() => new FleetLearnerCore(new Ppo(h, new AlgorithmContext(1, 1, "bandit", 3)), new NullSigner(), 2, 1.0));
        Assert.StartsWith("the fleet learner's batches are acted by older policies", e.Message);
    }

    [Fact]
    public void Batches_older_than_the_staleness_bound_are_dropped_and_counted()
    {
        var h = new PpoHyperparameters { StepsPerEnvironment = 64, Minibatches = 1, Epochs = 1, PolicyHiddenSizes = [4], ValueHiddenSizes = [4], OffPolicyData = true };
        var ppo = new Ppo(h, new AlgorithmContext(1, 1, "bandit", 3));
        var core = new FleetLearnerCore(ppo, new NullSigner(), maxStaleVersions: 2, maxKl: 1.0);
        var peer = new FleetPolicyMessage(1, 1, ppo.Agent.Policy.HiddenSizes, ppo.Agent.Policy.ParameterCount) { Version = 10 };
        ppo.Agent.Policy.Parameters.CopyTo(peer.Parameters);
        Assert.True(core.Adopt(peer));
        Assert.Equal(10UL, core.Version);

        Assert.Null(core.Consume(Encoded(version: 7, count: 5)));   // 7 + 2 < 10: stale
        Assert.Equal(1, core.BatchesStale);
        Assert.Equal(5, core.StaleTransitions);
        Assert.Equal(0, core.BatchFill);
        Assert.Null(core.Consume(Encoded(version: 8, count: 5)));   // 8 + 2 = 10: still usable
        Assert.Equal(1, core.BatchesConsumed);
        Assert.Equal(5, core.BatchFill);
        var corrupt = Encoded(version: 9, count: 3);
        corrupt[40] ^= 1;
        Assert.Null(core.Consume(corrupt));
        Assert.Equal(1, core.BatchesMalformed);
        Assert.Equal(5, core.BatchFill);
    }

    private static byte[] Encoded(ulong version, int count)
    {
        var b = new RolloutBatch(1, 1, count) { PolicyVersion = version };
        for (int i = 0; i < count; i++) b.TryAdd([0.1f * i], [0.2f], -1f, 1f, false, false);
        b.SetNextObservation([1f]);
        var bytes = new byte[b.EncodedLengthNow];
        b.Encode(bytes);
        return bytes;
    }

    /// <summary>∇θ of the PPO surrogate (clip opened), as the learner's update computes it: −∂L/∂θ.</summary>
    private static double[] LearnerGradient(RobotPG.Learning.Networks.GaussianPolicy policy, ReadOnlySpan<float> observations, ReadOnlySpan<float> actions,
        ReadOnlySpan<float> oldLogProbs, ReadOnlySpan<float> advantages)
    {
        var newLogProbs = new float[N];
        var weights = new float[N];
        policy.LogProbBatch(observations, actions, N, newLogProbs);
        PpoLoss.PolicyLoss(newLogProbs, oldLogProbs, advantages, clip: 1e6f, weights);
        policy.ZeroGradients();
        policy.AccumulateLogProbGradient(weights, N);
        var g = new double[policy.ParameterCount];
        for (int k = 0; k < g.Length; k++) g[k] = -policy.Gradients[k];
        return g;
    }

    /// <summary>
    /// −∂L/∂θ of PPO's clipped surrogate at <paramref name="policy"/> with clip <paramref name="clip"/>, centred on
    /// <paramref name="centre"/> log-probs (empty: the policy's own, θk).
    /// </summary>
    private static double[] ClippedGradient(RobotPG.Learning.Networks.GaussianPolicy policy, ReadOnlySpan<float> observations, ReadOnlySpan<float> actions,
        ReadOnlySpan<float> behaviour, ReadOnlySpan<float> centre, ReadOnlySpan<float> advantages, float clip)
    {
        var current = new float[N];
        var weights = new float[N];
        policy.LogProbBatch(observations, actions, N, current);
        PpoLoss.PolicyLoss(current, behaviour, centre.IsEmpty ? current : centre, advantages, clip, weights);
        policy.ZeroGradients();
        policy.AccumulateLogProbGradient(weights, N);
        var g = new double[policy.ParameterCount];
        for (int k = 0; k < g.Length; k++) g[k] = -policy.Gradients[k];
        return g;
    }

    private sealed class NullSigner : IFleetPolicySigner
    {
        public byte[] Sign(ReadOnlyMemory<byte> body) => body.ToArray();
    }
}
