using RobotPG.Learning.Advantages;
using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Networks;
using RobotPG.Learning.Rollouts;
using RobotPG.Numerics;
using Xunit;
using static RobotPG.Learning.Tests.Ppo.QuadraticObjective;
using static RobotPG.Learning.Tests.Networks.ReferenceNetworks;

namespace RobotPG.Learning.Tests.Ppo;

/// <summary>
/// The pieces of an update over the last K batches (learning.replayBatches): the importance weight of stale data,
/// the clip centred on the policy before the update, and old batches valued by the current critic. Each test fails
/// when its correction is left out.
/// </summary>
public class BatchReplayTests
{

    /// <summary>
    /// A linear-Gaussian bandit (s = 1, a ~ N(μ, σ²), r = −(a − C)²): J = −((μ − C)² + σ²), so ∂J/∂θ = −2(μ − C) ∂μ/∂θ
    /// and ∂J/∂log σ = −2σ². Two stale batches acted by known older policies N(μ + 0.5, (1.2σ)²) and N(μ − 0.4, (0.8σ)²),
    /// kept by the replay with their behaviour log-probs, assembled, GAE (a constant baseline V(1): unbiased), then the
    /// generalised clip's gradient at θ = θk (centre = the current policy) must be the on-policy closed form in expectation.
    /// Without the ratio (the current log-probs in place of the behaviour's) it is the mixture's gradient instead.
    /// </summary>
    [Fact]
    public void Stale_batches_weighted_by_their_behaviour_log_probs_give_the_on_policy_gradient()
    {
        const int steps = 12288;
        var agent = new ActorCritic(1, 1, [4], [4], maxBatch: 2 * steps, seed: 3, normalizeObservations: false, observationClip: 10f);
        var policy = agent.Policy;
        double sigma = 0.5;
        policy.LogStd[0] = (float)Math.Log(sigma);
        var mu = new float[1];
        policy.Mean([1f], mu);

        var replay = new BatchReplay(batches: 3, steps, 1, 1);
        var prng = new Prng(17);
        foreach (var (shift, scale) in new[] { (0.5, 1.2), (-0.4, 0.8) })
        {
            double muB = mu[0] + shift, sigmaB = scale * sigma;
            for (int t = 0; t < steps; t++)
            {
                double a = muB + sigmaB * prng.NextGaussian();
                double logBehaviour = -0.5 * Math.Pow((a - muB) / sigmaB, 2) - Math.Log(sigmaB) - 0.5 * Math.Log(2 * Math.PI);
                replay.Record(t, [1f], [(float)a], (float)logBehaviour, (float)(-(a - C) * (a - C)), terminated: true, truncated: false, default);
            }
            replay.Commit(default);
        }
        RolloutBuffer rollout = replay.Assemble(agent);
        Assert.Equal(2, rollout.EnvironmentCount);
        GaeEstimator.Estimate(rollout, 0.99, 0.95);

        int n = rollout.Capacity;
        var current = new float[n];
        policy.LogProbBatch(rollout.Observations, rollout.Actions, n, current);
        double[] reference = ClosedFormGradient(policy, mu[0], sigma);
        double[] corrected = SurrogateGradient(policy, rollout, behaviour: rollout.LogProbs, centre: current);
        double[] uncorrected = SurrogateGradient(policy, rollout, behaviour: current, centre: current);

        double norm = Norm(reference);
        Assert.True(norm > 0.5, $"the reference gradient {norm} is too small to judge");
        // Monte-Carlo error of the importance-weighted mean over 24576 samples: a few per cent of |∇J|.
        Assert.True(Distance(corrected, reference) < 0.1 * norm, $"corrected {Format(corrected)} vs closed form {Format(reference)}");
        Assert.True(Distance(uncorrected, reference) > 0.3 * norm, $"without the ratio {Format(uncorrected)} should miss {Format(reference)}");
    }

    /// <summary>
    /// Four transitions, each acted by a behaviour policy the current one (θk) now finds twice as likely: c = 2, so the
    /// region is [1.8, 2.2] around c, not [0.8, 1.2] around 1. Inside, a transition contributes −A·r/N to ∂L/∂log π;
    /// outside on the side the clip holds, nothing. Centred on 1 the first (r 2.1, A &gt; 0) would be cut and the third
    /// (r 1.5, A &lt; 0) would pass.
    /// </summary>
    [Fact]
    public void The_clip_is_centred_on_the_policy_before_the_update_not_on_the_behaviour_policy()
    {
        float[] behaviour = [-1.3f, -0.4f, -2.0f, -0.9f];
        double[] ratios = [2.1, 2.5, 1.5, 1.9];
        float[] advantages = [1.5f, 0.8f, -1.2f, -0.6f];
        var centre = new float[4];
        var current = new float[4];
        for (int i = 0; i < 4; i++)
        {
            centre[i] = behaviour[i] + (float)Math.Log(2.0);
            current[i] = behaviour[i] + (float)Math.Log(ratios[i]);
        }
        var gradients = new float[4];
        PolicyLossTerms terms = PpoLoss.PolicyLoss(current, behaviour, centre, advantages, 0.2f, gradients);

        // The closed form: −A·r/4 inside [1.8, 2.2] (samples 0 and 3), 0 outside (1: above with A > 0; 2: below with A < 0).
        double r0 = Math.Exp(current[0] - behaviour[0]), r3 = Math.Exp(current[3] - behaviour[3]);
        Assert.Equal(-1.5 * r0 / 4, gradients[0], 6);
        Assert.Equal(0f, gradients[1]);
        Assert.Equal(0f, gradients[2]);
        Assert.Equal(0.6 * r3 / 4, gradients[3], 6);
        // Loss: the unclipped terms of 0 and 3, the clipped ones of 1 (−0.8·2.2) and 2 (+1.2·1.8).
        Assert.Equal((-1.5 * r0 - 0.8 * 2.2 + 1.2 * 1.8 + 0.6 * r3) / 4, terms.Loss, 5);
        Assert.Equal(0.5f, terms.ClipFraction); // |r − c| > ε for 1 and 2

        // Central differences of the loss in each new log-prob (away from the clip's kinks) give the same gradient.
        for (int i = 0; i < 4; i++)
        {
            const float h = 1e-3f;
            float saved = current[i];
            current[i] = saved + h;
            double up = PpoLoss.PolicyLoss(current, behaviour, centre, advantages, 0.2f, new float[4]).Loss;
            current[i] = saved - h;
            double down = PpoLoss.PolicyLoss(current, behaviour, centre, advantages, 0.2f, new float[4]).Loss;
            current[i] = saved;
            // float losses over 2h = 2e-3: a few 1e-5 of rounding.
            Assert.Equal((up - down) / (2 * h), gradients[i], tolerance: 1e-4);
        }
    }

    [Fact]
    public void With_the_centre_at_the_behaviour_policy_the_loss_is_ppo_clip_to_the_bit()
    {
        var prng = new Prng(5);
        float[] current = new float[64], behaviour = new float[64], advantages = new float[64];
        for (int i = 0; i < 64; i++)
        {
            behaviour[i] = (float)(-1 + prng.NextGaussian());
            current[i] = behaviour[i] + (float)(0.3 * prng.NextGaussian());
            advantages[i] = (float)prng.NextGaussian();
        }
        float[] centred = new float[64], plain = new float[64];
        var a = PpoLoss.PolicyLoss(current, behaviour, behaviour, advantages, 0.2f, centred);
        var b = PpoLoss.PolicyLoss(current, behaviour, advantages, 0.2f, plain);
        Assert.Equal(b, a);
        Assert.Equal(plain, centred);
        // A ratio of 1.25 with A > 0 is clipped at 1.2 (no gradient): PPO's region around 1.
        var g = new float[1];
        PpoLoss.PolicyLoss([(float)Math.Log(1.25)], [0f], [1f], 0.2f, g);
        Assert.Equal(0f, g[0]);
    }

    /// <summary>
    /// Two batches kept with raw observations (one episode cut by a time limit, one ending, the last going on past the
    /// batch), then the statistics and the critic change. The assembled rollout's values, truncation bootstraps and
    /// values after each batch, and so the GAE advantages, must be those of the current critic on observations
    /// normalised with the current statistics — a double-precision reference of the network and of GAE — not those the
    /// batches were collected under.
    /// </summary>
    [Fact]
    public void Old_batches_are_normalised_and_valued_again_by_the_current_critic()
    {
        const int steps = 6, obs = 2;
        const double gamma = 0.9, lambda = 0.8;
        var agent = new ActorCritic(obs, 1, [3], [5], maxBatch: 16, seed: 7, normalizeObservations: true, observationClip: 10f);
        var prng = new Prng(9);
        float[] Raw() => [(float)(1 + 2 * prng.NextGaussian()), (float)(-3 + 0.5 * prng.NextGaussian())];
        var replay = new BatchReplay(batches: 2, steps, obs, 1);
        var raws = new List<float[]>[2];
        var finals = new Dictionary<(int, int), float[]>();
        var nexts = new float[2][];
        float[][] rewards = [[0.5f, -0.2f, 1.0f, 0.3f, 0.7f, -0.4f], [0.1f, 0.9f, -0.6f, 0.2f, 0.4f, 0.8f]];
        bool[][] terminated = [[false, false, false, false, true, false], [false, true, false, false, false, false]];
        bool[][] truncated = [[false, true, false, false, false, false], [false, false, false, false, true, false]];
        var collectedValues = new float[2 * steps];
        var normalized = new float[obs];
        for (int b = 0; b < 2; b++)
        {
            raws[b] = [];
            for (int t = 0; t < steps; t++)
            {
                float[] raw = Raw();
                raws[b].Add(raw);
                agent.ObserveStatistics(raw);
                agent.NormalizeObservation(raw, normalized);
                collectedValues[b * steps + t] = agent.Value.Predict(normalized); // what a learner of the time saw
                float[] final = Raw();
                if (truncated[b][t]) finals[(b, t)] = final;
                replay.Record(t, raw, [0.1f * t], -1f - t, rewards[b][t], terminated[b][t], truncated[b][t], final);
            }
            nexts[b] = Raw();
            replay.Commit(nexts[b]);
            replay.Assemble(agent); // the update of the time, under the critic of the time
            // Between the batches the critic learns and the statistics move.
            for (int k = 0; k < agent.Value.ParameterCount; k++) agent.Value.Parameters[k] += (float)(0.4 * prng.NextGaussian());
            for (int k = 0; k < 20; k++) agent.ObserveStatistics([(float)(4 + prng.NextGaussian()), (float)(-1 + prng.NextGaussian())]);
        }

        RolloutBuffer rollout = replay.Assemble(agent);
        GaeEstimator.Estimate(rollout, gamma, lambda);

        double[] theta = [.. agent.Value.Parameters.ToArray().Select(v => (double)v)];
        var stats = agent.ObservationStatistics!;
        double V(float[] raw)
        {
            var x = new double[obs];
            for (int j = 0; j < obs; j++) x[j] = Math.Clamp((raw[j] - stats.Mean[j]) / Math.Sqrt(stats.Variance[j] + stats.Epsilon), -10, 10);
            return MlpForward(theta, [obs, 5, 1], x)[0];
        }
        double maxCollectedGap = 0;
        for (int b = 0; b < 2; b++)
        {
            // Reference GAE in double over batch b alone (environment b of the rollout, index t·2 + b).
            var values = raws[b].Select(V).ToArray();
            var advantages = new double[steps];
            double carried = 0;
            for (int t = steps - 1; t >= 0; t--)
            {
                double next = terminated[b][t] ? 0 : truncated[b][t] ? V(finals[(b, t)]) : t == steps - 1 ? V(nexts[b]) : values[t + 1];
                if (terminated[b][t] || truncated[b][t]) carried = 0;
                carried = rewards[b][t] + gamma * next - values[t] + gamma * lambda * carried;
                advantages[t] = carried;
            }
            for (int t = 0; t < steps; t++)
            {
                int i = t * 2 + b;
                Assert.Equal(values[t], rollout.Values[i], 4);
                Assert.Equal(advantages[t], rollout.Advantages[i], 4);
                Assert.Equal(-1f - t, rollout.LogProbs[i]); // the behaviour's, as recorded
                maxCollectedGap = Math.Max(maxCollectedGap, Math.Abs(collectedValues[b * steps + t] - values[t]));
            }
            Assert.Equal(V(nexts[b]), rollout.LastValues[b], 4);
        }
        // The critic of the time differs enough that using its values would fail the assertions above.
        Assert.True(maxCollectedGap > 0.1, $"the critic moved only {maxCollectedGap}");
    }

    [Fact]
    public void The_replay_keeps_the_newest_K_batches_oldest_first_and_ppo_takes_one_to_K_of_them()
    {
        var replay = new BatchReplay(batches: 2, batchSteps: 64, 1, 1);
        var agent = new ActorCritic(1, 1, [4], [4], maxBatch: 64, seed: 1, normalizeObservations: false, observationClip: 10f);
        Assert.Throws<InvalidOperationException>(() => replay.Assemble(agent));
        for (int b = 0; b < 3; b++)
        {
            for (int t = 0; t < 64; t++) replay.Record(t, [b], [0f], -b, 0f, false, false, default);
            replay.Commit(default);
        }
        RolloutBuffer rollout = replay.Assemble(agent);
        Assert.Equal(2, replay.Count);
        Assert.Equal(2, rollout.EnvironmentCount);
        Assert.Equal(1f, rollout.Observation(0)[0]); // environment 0: batch 1 (batch 0 dropped)
        Assert.Equal(2f, rollout.Observation(1)[0]);
        Assert.Equal(-2f, rollout.LogProbs[63 * 2 + 1]);

        var h = new PpoHyperparameters { StepsPerEnvironment = 64, Minibatches = 1, Epochs = 1, ReplayBatches = 2, PolicyHiddenSizes = [4], ValueHiddenSizes = [4] };
        var ppo = new RobotPG.Learning.Algorithms.Ppo(h, new AlgorithmContext(1, 1, "bandit", 1));
        ppo.Update(rollout, 1, 1);
        ppo.Update(new RolloutBuffer(64, 1, 1, 1), 1, 1);
        Assert.Throws<ArgumentException>(() => ppo.Update(new RolloutBuffer(64, 3, 1, 1), 1, 1));
        Assert.Throws<ArgumentException>(() => ppo.Update(new RolloutBuffer(32, 2, 1, 1), 1, 1));
        Assert.Equal("replay batches must be in 1..8 (got 9)", (h with { ReplayBatches = 9 }).Validate());
        Assert.Equal("replay of 2 batches needs one environment (got 4)", (h with { EnvironmentCount = 4 }).Validate());
    }

    /// <summary>∇θ of the generalised surrogate, as the update computes it: −∂L/∂θ.</summary>
    private static double[] SurrogateGradient(GaussianPolicy policy, RolloutBuffer rollout, ReadOnlySpan<float> behaviour, ReadOnlySpan<float> centre)
    {
        int n = rollout.Capacity;
        var current = new float[n];
        var weights = new float[n];
        policy.LogProbBatch(rollout.Observations, rollout.Actions, n, current);
        PpoLoss.PolicyLoss(current, behaviour, centre, rollout.Advantages, 0.2f, weights);
        policy.ZeroGradients();
        policy.AccumulateLogProbGradient(weights, n);
        var g = new double[policy.ParameterCount];
        for (int k = 0; k < g.Length; k++) g[k] = -policy.Gradients[k];
        return g;
    }
}
