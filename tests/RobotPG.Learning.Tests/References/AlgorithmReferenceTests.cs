using MathNet.Numerics.LinearAlgebra;
using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Estimators;
using RobotPG.Learning.Rollouts;
using RobotPG.Learning.Tests.Networks;
using Xunit;
using static RobotPG.Learning.Tests.References.FixedRollout;

namespace RobotPG.Learning.Tests.References;

/// <summary>
/// One update of each algorithm on <see cref="FixedRollout"/> against a double-precision reference
/// written in the test from the notes' formulas: weights and baselines by explicit loops over the
/// hand-written runs, ∇θ log π by central differences (h = 1e-6) of <see cref="ReferenceNetworks"/>,
/// linear algebra by MathNet. What is compared is what the optimiser was given (the policy's gradient
/// buffer after the update, which the algorithms leave holding the last Adam input) or, for NPG/TRPO,
/// the parameter change. Tolerance: 1e-4 × max(1, max|reference|) per component unless stated — float32
/// code on a 14-parameter network agrees to ~1e-6; every formula slip we planted moves some component by
/// more than 1e-2.
/// </summary>
public partial class AlgorithmReferenceTests
{
    private const double Tolerance = 1e-4;
    private const double Gamma = 0.9;

    private static readonly AlgorithmContext Context = new(ObservationSize, ActionSize, "reference", 7);

    private static EstimatorHyperparameters Small => new()
    {
        EnvironmentCount = FixedRollout.EnvironmentCount,
        StepsPerEnvironment = Steps,
        Gamma = Gamma,
        GaeLambda = 0.8,
        PolicyHiddenSizes = Hidden,
        ValueHiddenSizes = Hidden,
        NormalizeObservations = false,
        ValueEpochs = 1,
        ValueMinibatches = 1,
        ReuseSteps = 1,
        Epochs = 1,
        Minibatches = 1,
    };

    /// <summary>Episode step of each index when every run starts an episode (the first rollout).</summary>
    private static readonly int[] FirstRolloutEpisodeSteps = [0, 0, 1, 0, 0, 1, 1, 2];

    // ---------------------------------------------------------------- REINFORCE / VPG

    /// <summary>
    /// Note 000/001/002 REINFORCE ĝ = (1/N) Σᵢ Σₜ ∇log π(aₜ|sₜ) wₜ, N = 4 runs, Adam minimising −ĝ.
    /// Critic-free variants treat a cut as the end; with the V baseline the return continues with the
    /// bootstrap. Baselines: mean whole return, bₜ = mean weight at episode step t, V(sₜ).
    /// </summary>
    private static double[] ReinforceReference(EstimatorHyperparameters h, double[] theta, int[] episodeSteps) =>
        ReinforceReferenceWithLoss(h, theta, episodeSteps).Gradient;

    /// <summary>The gradient and the reported loss −(1/N) Σ log π(aₜ|sₜ) wₜ (NaN for the optimal baselines, which report none).</summary>
    private static (double[] Gradient, double Loss) ReinforceReferenceWithLoss(EstimatorHyperparameters h, double[] theta, int[] episodeSteps,
        int actions = ActionSize)
    {
        bool critic = h.Baseline == BaselineKind.StateValue;
        double[] bootstrap = critic ? RunBootstrap : new double[Runs.Length];
        double[] toGo = RewardToGo(Rewards, h.Gamma, bootstrap);
        var scores = Scores(theta, actions);
        var whole = new double[Runs.Length];
        for (int r = 0; r < Runs.Length; r++)
            whole[r] = toGo[Runs[r][0]]; // the run's discounted return from its first step

        if (h.Baseline is BaselineKind.OptimalConstantScalar or BaselineKind.OptimalConstantPerParameter)
        {
            // Note 001: b = Σ (∇log P(τ))² R(τ) / Σ (∇log P(τ))², per component or with ‖·‖²; ĝ = (1/m) Σ ∇log P(τ)(R − b).
            int p = theta.Length, m = Runs.Length;
            var s = Matrix<double>.Build.Dense(m, p);
            for (int r = 0; r < m; r++)
                foreach (int i in Runs[r]) s.SetRow(r, s.Row(r) + scores.Row(i));
            var b = new double[p];
            double scalarNum = 0, scalarDen = 0;
            for (int r = 0; r < m; r++)
            {
                double sq = s.Row(r).DotProduct(s.Row(r));
                scalarNum += sq * whole[r];
                scalarDen += sq;
            }
            for (int j = 0; j < p; j++)
            {
                double num = 0, den = 0;
                for (int r = 0; r < m; r++)
                {
                    num += s[r, j] * s[r, j] * whole[r];
                    den += s[r, j] * s[r, j];
                }
                b[j] = h.Baseline == BaselineKind.OptimalConstantPerParameter ? num / den : scalarNum / scalarDen;
            }
            var g = new double[p];
            for (int j = 0; j < p; j++)
            {
                double sum = 0;
                for (int r = 0; r < m; r++) sum += s[r, j] * (whole[r] - b[j]);
                g[j] = -sum / m;
            }
            return (g, double.NaN);
        }

        var w = new double[Count];
        for (int r = 0; r < Runs.Length; r++)
            foreach (int i in Runs[r])
                w[i] = h.Weighting == ReturnWeightingKind.WholeTrajectoryReturn ? whole[r] : toGo[i];
        switch (h.Baseline)
        {
            case BaselineKind.MeanReturn:
                double mean = whole.Average();
                for (int i = 0; i < Count; i++) w[i] -= mean;
                break;
            case BaselineKind.TimeDependent:
                var bt = new double[Count];
                for (int i = 0; i < Count; i++)
                {
                    double sum = 0;
                    int count = 0;
                    for (int k = 0; k < Count; k++)
                        if (episodeSteps[k] == episodeSteps[i]) { sum += w[k]; count++; }
                    bt[i] = sum / count;
                }
                for (int i = 0; i < Count; i++) w[i] -= bt[i];
                break;
            case BaselineKind.StateValue:
                for (int i = 0; i < Count; i++) w[i] -= Values[i];
                break;
        }
        if (h.DiscountFromTrajectoryStart)
            for (int i = 0; i < Count; i++) w[i] *= Math.Pow(h.Gamma, episodeSteps[i]);
        if (h.NormalizeAdvantages) w = Standardized(w);
        double loss = -Enumerable.Range(0, Count).Sum(i => LogProb(theta, i, actions) * w[i]) / Runs.Length;
        return (WeightedScore(scores, w, -1.0 / Runs.Length), loss);
    }

    public static TheoryData<string, ReturnWeightingKind, BaselineKind, bool, bool> ReinforceOptions()
    {
        var data = new TheoryData<string, ReturnWeightingKind, BaselineKind, bool, bool>();
        foreach (var weighting in new[] { ReturnWeightingKind.WholeTrajectoryReturn, ReturnWeightingKind.RewardToGo })
            foreach (var baseline in new[] { BaselineKind.None, BaselineKind.MeanReturn, BaselineKind.TimeDependent, BaselineKind.StateValue })
                data.Add(EstimatorAlgorithms.Reinforce, weighting, baseline, false, false);
        data.Add(EstimatorAlgorithms.Reinforce, ReturnWeightingKind.RewardToGo, BaselineKind.OptimalConstantScalar, false, false);
        data.Add(EstimatorAlgorithms.Reinforce, ReturnWeightingKind.RewardToGo, BaselineKind.OptimalConstantPerParameter, false, false);
        data.Add(EstimatorAlgorithms.Reinforce, ReturnWeightingKind.RewardToGo, BaselineKind.TimeDependent, true, false);
        data.Add(EstimatorAlgorithms.Reinforce, ReturnWeightingKind.RewardToGo, BaselineKind.None, true, true);
        data.Add(EstimatorAlgorithms.Vpg, ReturnWeightingKind.RewardToGo, BaselineKind.StateValue, false, false);
        data.Add(EstimatorAlgorithms.Vpg, ReturnWeightingKind.RewardToGo, BaselineKind.StateValue, true, true);
        return data;
    }

    [Theory]
    [MemberData(nameof(ReinforceOptions))]
    public void Reinforce_gradient_matches_the_notes(string name, ReturnWeightingKind weighting, BaselineKind baseline, bool discountFromStart, bool normalize)
    {
        var h = Small with { Weighting = weighting, Baseline = baseline, DiscountFromTrajectoryStart = discountFromStart, NormalizeAdvantages = normalize };
        var algorithm = EstimatorAlgorithms.Create(name, h, Context);
        var policy = algorithm.Agent.Policy;
        double[] theta = Theta(policy), phi = ReferenceNetworks.ToDouble(algorithm.Agent.Value.Parameters);
        UpdateDiagnostics d = algorithm.Update(Build(policy, Values), 1, 1);
        var (gradient, loss) = ReinforceReferenceWithLoss(h, theta, FirstRolloutEpisodeSteps);
        AssertClose(gradient, policy.Gradients, Tolerance, $"{name} {weighting}/{baseline} gradient");
        AssertAdamFirstStep(theta, policy, h.PolicyLearningRate);
        // The reported loss at θ₀; the entropy after the step (of the updated log σ); the critic's explained
        // variance of the bootstrapped returns before its fit; the learning rate; one epoch.
        if (double.IsNaN(loss)) Assert.True(float.IsNaN(d.PolicyLoss), "the optimal-baseline step reports no surrogate loss");
        else Assert.Equal(loss, d.PolicyLoss, Tolerance * Math.Max(1, Math.Abs(loss)));
        Assert.Equal(ReferenceNetworks.Entropy(Theta(policy), PolicySizes), d.Entropy, Tolerance);
        if (baseline == BaselineKind.StateValue)
        {
            double[] targets = RewardToGo(Rewards, Gamma, RunBootstrap);
            double[] residual = [.. targets.Select((y, i) => y - Values[i])];
            double explained = 1 - MathNet.Numerics.Statistics.Statistics.PopulationVariance(residual)
                / MathNet.Numerics.Statistics.Statistics.PopulationVariance(targets);
            Assert.Equal(explained, d.ExplainedVariance, Tolerance);
            // One full-batch critic step: the loss reported is ½·mean((V_φ₀(s) − y)²) at φ₀.
            int[] valueSizes = [ObservationSize, 3, 1];
            double valueLoss = Enumerable.Range(0, Count)
                .Sum(i => 0.5 * Math.Pow(ReferenceNetworks.MlpForward(phi, valueSizes, Observation(i))[0] - targets[i], 2)) / Count;
            Assert.Equal(valueLoss, d.ValueLoss, Tolerance * Math.Max(1, valueLoss));
        }
        else
        {
            Assert.True(float.IsNaN(d.ValueLoss) && float.IsNaN(d.ExplainedVariance), "a critic-free update reports no value loss");
        }
        Assert.True(float.IsNaN(d.ApproxKl) && float.IsNaN(d.ClipFraction));
        Assert.Equal((h.PolicyLearningRate, 1), (d.LearningRate, d.Epochs));
    }

    /// <summary>
    /// Episodes run across rollouts: in the second rollout of the same data, env 0's first run continues
    /// the episode cut at episode step 1 (so it is at steps 2, 3) and env 1's continues the one cut at step
    /// 2 (its one step is step 3). Note 002's γ^(k−1) and note 001's bₜ count from the episode's start.
    /// </summary>
    [Theory]
    [InlineData(BaselineKind.TimeDependent, false)]
    [InlineData(BaselineKind.None, true)]
    [InlineData(BaselineKind.StateValue, true)]
    [InlineData(BaselineKind.OptimalConstantPerParameter, false)] // b from this rollout's runs only
    public void Episode_indices_count_from_the_episode_start_across_rollouts(BaselineKind baseline, bool discountFromStart)
    {
        var h = Small with { Baseline = baseline, DiscountFromTrajectoryStart = discountFromStart };
        var algorithm = EstimatorAlgorithms.Create(EstimatorAlgorithms.Reinforce, h, Context);
        var policy = algorithm.Agent.Policy;
        algorithm.Update(Build(policy, Values), 1, 2);
        double[] theta = Theta(policy);
        algorithm.Update(Build(policy, Values), 2, 2);
        int[] secondRolloutSteps = [2, 3, 3, 0, 0, 1, 1, 2];
        AssertClose(ReinforceReference(h, theta, secondRolloutSteps), policy.Gradients, Tolerance, "second-rollout gradient");
    }

    [Fact]
    public void A_null_rollout_is_refused_by_name() =>
        Assert.Equal("rollout", Assert.Throws<ArgumentNullException>(() => new PolicyGradientBatch(Count, ObservationSize, ActionSize).Load(null!)).ParamName);

    /// <summary>A rollout that ends exactly at an episode's end starts the next one at episode step 0.</summary>
    [Fact]
    public void A_finished_episode_does_not_carry_its_index_into_the_next_rollout()
    {
        var h = Small with { Baseline = BaselineKind.None, DiscountFromTrajectoryStart = true };
        var batch = new PolicyGradientBatch(Count, ObservationSize, ActionSize);
        var policy = EstimatorAlgorithms.Create(EstimatorAlgorithms.Reinforce, h, Context).Agent.Policy;
        var first = Build(policy, Values);
        first.Terminated[7] = true; // env 1's last run ends its episode; env 0's is cut
        batch.Load(first);
        Assert.Equal([0, 1, 0, 1, 0, 0, 1, 2], batch.EpisodeSteps);
        // A termination on the rollout's last step continues with 0, not with the environment's last value.
        Assert.Equal([0f, 0f, 0f, 0.7f, 1.5f, 0f, 0f, 0f], batch.Bootstrap);
        batch.Load(Build(policy, Values));
        // Trajectory order: env 0 (i0, i2, i4, i6) then env 1 (i1, i3, i5, i7).
        Assert.Equal([2, 3, 0, 1, 0, 0, 1, 2], batch.EpisodeSteps);
    }

    /// <summary>
    /// VPG's critic fit, one full-batch Adam step: the value gradient is ∇φ (1/n) Σ ½(V_φ(sₜ) − yₜ)² at φ₀ with
    /// y the bootstrapped Monte-Carlo return, or with fitted V iteration's TD target rₜ + γV_φ₀(sₜ₊₁) (note 001).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Vpg_critic_regresses_onto_monte_carlo_or_td_targets(bool temporalDifference)
    {
        var h = Small with { Baseline = BaselineKind.StateValue, TemporalDifferenceValueTargets = temporalDifference };
        var algorithm = EstimatorAlgorithms.Create(EstimatorAlgorithms.Vpg, h, Context);
        var value = algorithm.Agent.Value;
        double[] phi = ReferenceNetworks.ToDouble(value.Parameters);
        algorithm.Update(Build(algorithm.Agent.Policy, Values), 1, 1);

        double[] targets = RewardToGo(Rewards, Gamma, RunBootstrap);
        if (temporalDifference)
            for (int r = 0; r < Runs.Length; r++)
                for (int k = 0; k < Runs[r].Length; k++)
                    targets[Runs[r][k]] = Rewards[Runs[r][k]] + Gamma * (k == Runs[r].Length - 1 ? RunBootstrap[r] : Values[Runs[r][k + 1]]);
        int[] valueSizes = [ObservationSize, 3, 1];
        double Loss(double[] p) => Enumerable.Range(0, Count)
            .Sum(i => 0.5 * Math.Pow(ReferenceNetworks.MlpForward(p, valueSizes, Observation(i))[0] - targets[i], 2)) / Count;
        AssertClose(ReferenceNetworks.Gradient(Loss, phi), value.Gradients, Tolerance, "critic gradient");
    }

    // ---------------------------------------------------------------- A2C

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A2c_gradient_is_the_n_step_advantage_score(bool normalize)
    {
        var h = Small with { NormalizeAdvantages = normalize };
        var algorithm = EstimatorAlgorithms.Create(EstimatorAlgorithms.A2c, h, Context);
        var policy = algorithm.Agent.Policy;
        double[] theta = Theta(policy);
        UpdateDiagnostics d = algorithm.Update(Build(policy, Values), 1, 2);
        // Q̂ₜ = rₜ + … + γ^k V(s_{t+k}) (the bootstrapped reward-to-go of the run); Â = Q̂ − V; ĝ = (1/n) Σ ∇log π Â.
        double[] q = RewardToGo(Rewards, Gamma, RunBootstrap);
        double[] adv = [.. q.Select((v, i) => v - Values[i])];
        double[] weights = normalize ? Standardized(adv) : adv;
        AssertClose(WeightedScore(Scores(theta), weights, -1.0 / Count), policy.Gradients, Tolerance, "a2c gradient");
        AssertAdamFirstStep(theta, policy, h.PolicyLearningRate);
        // The reported loss −(1/n) Σ log π(aₜ|sₜ) Âₜ uses the advantages before standardisation.
        double loss = -Enumerable.Range(0, Count).Sum(i => LogProb(theta, i) * adv[i]) / Count;
        Assert.Equal(loss, d.PolicyLoss, Tolerance * Math.Max(1, Math.Abs(loss)));

        // A second update on a rollout recorded at θ₁: the gradient is the one at θ₁ alone (none carried over).
        double[] theta1 = Theta(policy);
        algorithm.Update(Build(policy, Values), 2, 2);
        AssertClose(WeightedScore(Scores(theta1), weights, -1.0 / Count), policy.Gradients, Tolerance, "second a2c gradient");
    }

    // ---------------------------------------------------------------- off-policy

    private static readonly double[] BehaviourOffsets = [0.1, -0.2, 0.15, 0.05, -0.1, 0.2, -0.05, 0.1];

    /// <summary>One off-policy update on the rollout with behaviour log-probs offset from θ₀; returns the policy, θ₀ and the behaviour log-probs.</summary>
    private static (RobotPG.Learning.Networks.GaussianPolicy Policy, double[] Theta, double[] Behaviour) UpdateOffPolicy(EstimatorHyperparameters h)
    {
        var algorithm = EstimatorAlgorithms.Create(EstimatorAlgorithms.OffPolicy, h, Context);
        var policy = algorithm.Agent.Policy;
        double[] theta = Theta(policy);
        RolloutBuffer rollout = Build(policy, Values, BehaviourOffsets);
        double[] behaviour = ReferenceNetworks.ToDouble(rollout.LogProbs);
        algorithm.Update(rollout, 1, 1);
        return (policy, theta, behaviour);
    }

    [Fact]
    public void Off_policy_per_decision_weights_match_the_ratio_products()
    {
        var h = Small with { PerDecisionImportance = true };
        var (policy, theta, behaviour) = UpdateOffPolicy(h);

        // Note 001 item 4 with each ratio counted once: wₜ = Π_{t'≤t} ρ_{t'} · Σ_{t'≥t} γ^{t'−t} r'_{t'} Π_{t''=t+1}^{t'} ρ_{t''},
        // r' the rewards with γ·bootstrap added on a run's last step.
        var rho = new double[Count];
        for (int i = 0; i < Count; i++) rho[i] = Math.Exp(LogProb(theta, i) - behaviour[i]);
        var w = new double[Count];
        for (int r = 0; r < Runs.Length; r++)
        {
            int[] run = Runs[r];
            for (int t = 0; t < run.Length; t++)
            {
                double prefix = 1;
                for (int k = 0; k <= t; k++) prefix *= rho[run[k]];
                double inner = 0;
                for (int t2 = t; t2 < run.Length; t2++)
                {
                    double reward = Rewards[run[t2]] + (t2 == run.Length - 1 ? Gamma * RunBootstrap[r] : 0);
                    double product = 1;
                    for (int k = t + 1; k <= t2; k++) product *= rho[run[k]];
                    inner += Math.Pow(Gamma, t2 - t) * reward * product;
                }
                w[run[t]] = prefix * inner;
            }
        }
        AssertClose(WeightedScore(Scores(theta), w, -1.0 / Runs.Length), policy.Gradients, Tolerance, "per-decision gradient");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Off_policy_marginal_gradient_is_the_importance_surrogate_gradient(bool normalize)
    {
        var h = Small with { PerDecisionImportance = false, NormalizeAdvantages = normalize };
        var (policy, theta, behaviour) = UpdateOffPolicy(h);

        double[] q = RewardToGo(Rewards, Gamma, RunBootstrap);
        double[] adv = [.. q.Select((v, i) => v - Values[i])];
        if (normalize) adv = Standardized(adv);
        // ∇ of L^IS(θ) = (1/N) Σ π_θ(a|s)/π_old(a|s) Â by central differences.
        double Surrogate(double[] t)
        {
            double sum = 0;
            for (int i = 0; i < Count; i++) sum += Math.Exp(LogProb(t, i) - behaviour[i]) * adv[i];
            return -sum / Runs.Length;
        }
        AssertClose(ReferenceNetworks.Gradient(Surrogate, theta), policy.Gradients, Tolerance, "marginal-ratio gradient");
    }

    // ---------------------------------------------------------------- PPO

    [Fact]
    public void Ppo_gradient_is_the_clipped_surrogate_minus_entropy_bonus_and_the_value_loss()
    {
        var h = new PpoHyperparameters
        {
            EnvironmentCount = FixedRollout.EnvironmentCount, StepsPerEnvironment = Steps, Minibatches = 1, Epochs = 1, Gamma = Gamma, GaeLambda = 0.8,
            LearningRate = 0.01f, AnnealLearningRate = false, EntropyCoefficient = 0.3f, ValueCoefficient = 0.5f, MaxGradientNorm = 1e6f,
            NormalizeObservations = false, ScaleRewards = false, PolicyHiddenSizes = Hidden, ValueHiddenSizes = Hidden,
        };
        var ppo = new RobotPG.Learning.Algorithms.Ppo(h, Context);
        var policy = ppo.Agent.Policy;
        var value = ppo.Agent.Value;
        double[] theta = Theta(policy), phi = ReferenceNetworks.ToDouble(value.Parameters);
        int[] valueSizes = [ObservationSize, 3, 1];
        double V(double[] p, int i) => ReferenceNetworks.MlpForward(p, valueSizes, Observation(i))[0];
        var values = new double[Count];
        for (int i = 0; i < Count; i++) values[i] = (float)V(phi, i); // what the trainer stores (float)
        RolloutBuffer rollout = Build(policy, values, BehaviourOffsets.Select(o => 0.5 * o).ToArray());
        double[] behaviour = ReferenceNetworks.ToDouble(rollout.LogProbs);
        ppo.Update(rollout, 1, 1);

        // GAE with the truncation bootstrap; returns = Â + V; advantages standardised over the minibatch.
        double[] adv = Gae(values, Gamma, 0.8, RunBootstrap);
        double[] returns = [.. adv.Select((a, i) => a + values[i])];
        double[] std = Standardized(adv);
        const double clip = 0.2;
        double PolicyLoss(double[] t)
        {
            double sum = 0;
            for (int i = 0; i < Count; i++)
            {
                double ratio = Math.Exp(LogProb(t, i) - behaviour[i]);
                sum += Math.Max(-std[i] * ratio, -std[i] * Math.Clamp(ratio, 1 - clip, 1 + clip));
            }
            return sum / Count - 0.3 * ReferenceNetworks.Entropy(t, PolicySizes);
        }
        double ValueLoss(double[] p)
        {
            double sum = 0;
            for (int i = 0; i < Count; i++)
            {
                double v = V(p, i), clipped = values[i] + Math.Clamp(v - values[i], -clip, clip);
                sum += Math.Max((v - returns[i]) * (v - returns[i]), (clipped - returns[i]) * (clipped - returns[i]));
            }
            return 0.5 * 0.5 * sum / Count;
        }
        AssertClose(ReferenceNetworks.Gradient(PolicyLoss, theta), policy.Gradients, Tolerance, "ppo policy gradient");
        AssertClose(ReferenceNetworks.Gradient(ValueLoss, phi), value.Gradients, Tolerance, "ppo value gradient");
    }

    // ---------------------------------------------------------------- PPO-KL

    /// <summary>
    /// L(θ) = Ê[ρ Â] − β Ê[KL(π_old ‖ π_θ)] (note 003 PPO1). At θ_old the KL gradient vanishes, so the test
    /// takes two full-batch epochs: the first Adam step (θ₁ = θ₀ − lr·g₀/(|g₀| + 1e-5), Adam's first step
    /// with bias correction) moves θ, and the second gradient, at θ₁, carries β·∇KL. β = 10, lr 0.05 make
    /// that term ~1/3 of the gradient.
    /// </summary>
    [Fact]
    public void PpoKl_gradient_carries_the_beta_kl_term()
    {
        const double lr = 0.05, beta = 10;
        var h = Small with { Epochs = 2, Minibatches = 1, PolicyLearningRate = (float)lr, InitialBeta = beta };
        var algorithm = (PpoKl)EstimatorAlgorithms.Create(EstimatorAlgorithms.PpoKl, h, Context);
        var policy = algorithm.Agent.Policy;
        double[] theta0 = Theta(policy);
        RolloutBuffer rollout = Build(policy, Values);
        double[] behaviour = ReferenceNetworks.ToDouble(rollout.LogProbs);
        algorithm.Update(rollout, 1, 1);

        double[] adv = Standardized(Gae(Values, Gamma, 0.8, RunBootstrap));
        int meanCount = ReferenceNetworks.MlpParameterCount(PolicySizes);
        double[][] oldMeans = [.. Enumerable.Range(0, Count).Select(i => ReferenceNetworks.PolicyMean(theta0, PolicySizes, Observation(i)))];
        double MeanKl(double[] t)
        {
            double sum = 0;
            for (int i = 0; i < Count; i++)
                sum += ReferenceNetworks.Kl(oldMeans[i], theta0.AsSpan(meanCount), ReferenceNetworks.PolicyMean(t, PolicySizes, Observation(i)), t.AsSpan(meanCount));
            return sum / Count;
        }
        double Loss(double[] t)
        {
            double sum = 0;
            for (int i = 0; i < Count; i++) sum += Math.Exp(LogProb(t, i) - behaviour[i]) * adv[i];
            return -(sum / Count - beta * MeanKl(t));
        }
        double[] g0 = ReferenceNetworks.Gradient(Loss, theta0);
        double[] theta1 = [.. theta0.Select((t, j) => (double)(float)(t - lr * g0[j] / (Math.Abs(g0[j]) + 1e-5)))];
        AssertClose(ReferenceNetworks.Gradient(Loss, theta1), policy.Gradients, 1e-3, "ppo-kl gradient at θ₁");
        // The KL β adapts to is the mean KL(π_old ‖ π_θ₂) over the rollout.
        Assert.Equal(MeanKl(Theta(policy)), algorithm.LastKl, 1e-5);
    }

    // ---------------------------------------------------------------- NPG / TRPO

    /// <summary>g, F (closed form for a Gaussian: (1/n) Σ Jᵢᵀ Jᵢ/σ² on the mean, 2I on log σ, J by central differences) and the note-004 step.</summary>
    private static (double[] Gradient, Vector<double> Step, double[] Advantages) NaturalStepReference(double[] theta, double maxKl, double damping)
    {
        double[] adv = Standardized(Gae(Values, Gamma, 0.8, RunBootstrap));
        double[] g = WeightedScore(Scores(theta), adv, 1.0 / Count);
        int p = theta.Length, meanCount = ReferenceNetworks.MlpParameterCount(PolicySizes);
        var fisher = Matrix<double>.Build.Dense(p, p);
        double inverseVariance = Math.Exp(-2 * theta[meanCount]);
        for (int i = 0; i < Count; i++)
        {
            int step = i;
            var jacobian = Vector<double>.Build.DenseOfArray(ReferenceNetworks.Gradient(t => ReferenceNetworks.PolicyMean(t, PolicySizes, Observation(step))[0], theta));
            fisher += jacobian.OuterProduct(jacobian) * (inverseVariance / Count);
        }
        fisher[meanCount, meanCount] = 2;
        var gv = Vector<double>.Build.DenseOfArray(g);
        var x = (fisher + Matrix<double>.Build.DenseIdentity(p) * damping).Solve(gv);
        return (g, x * Math.Sqrt(2 * maxKl / gv.DotProduct(x)), adv);
    }

    [Fact]
    public void Npg_step_is_sqrt_2_epsilon_natural_direction()
    {
        var h = Small with { MaxKl = 0.02, Damping = 0.1, ConjugateGradientIterations = 40 };
        var algorithm = EstimatorAlgorithms.Create(EstimatorAlgorithms.Npg, h, Context);
        var policy = algorithm.Agent.Policy;
        double[] theta = Theta(policy);
        algorithm.Update(Build(policy, Values), 1, 1);
        var (g, step, _) = NaturalStepReference(theta, 0.02, 0.1);
        AssertClose(g, policy.Gradients, Tolerance, "npg gradient");
        double[] change = [.. Theta(policy).Select((t, j) => t - theta[j])];
        AssertClose(step.ToArray(), change, 1e-3, "npg step");
    }

    [Theory]
    [InlineData(0.02)]   // the full step is accepted
    [InlineData(0.0005)] // KL of the full step (≈ ε from the quadratic model) vs a bound it must beat by backtracking
    public void Trpo_takes_the_first_backtrack_within_the_kl_bound_that_improves_the_surrogate(double maxKl)
    {
        var h = Small with { MaxKl = maxKl, Damping = 0.1, ConjugateGradientIterations = 40, BacktrackRatio = 0.8, MaxBacktracks = 10 };
        var algorithm = (NaturalPolicyGradient)EstimatorAlgorithms.Create(EstimatorAlgorithms.Trpo, h, Context);
        var policy = algorithm.Agent.Policy;
        double[] theta = Theta(policy);
        RolloutBuffer rollout = Build(policy, Values);
        double[] behaviour = ReferenceNetworks.ToDouble(rollout.LogProbs);
        UpdateDiagnostics d = algorithm.Update(rollout, 1, 1);

        var (_, step, adv) = NaturalStepReference(theta, maxKl, 0.1);
        int meanCount = ReferenceNetworks.MlpParameterCount(PolicySizes);
        double Surrogate(double[] t) => Enumerable.Range(0, Count).Sum(i => Math.Exp(LogProb(t, i) - behaviour[i]) * adv[i]) / Count;
        double Kl(double[] t) => Enumerable.Range(0, Count).Sum(i => ReferenceNetworks.Kl(
            ReferenceNetworks.PolicyMean(theta, PolicySizes, Observation(i)), theta.AsSpan(meanCount),
            ReferenceNetworks.PolicyMean(t, PolicySizes, Observation(i)), t.AsSpan(meanCount))) / Count;
        double start = Surrogate(theta);
        double[] expected = theta;
        double fraction = 1;
        for (int k = 0; k < 10; k++, fraction *= 0.8)
        {
            double[] candidate = [.. theta.Select((t, j) => t + fraction * step[j])];
            if (Kl(candidate) <= maxKl && Surrogate(candidate) > start)
            {
                expected = candidate;
                Assert.Equal(k, algorithm.LastLineSearch.Backtracks);
                break;
            }
        }
        Assert.True(algorithm.LastLineSearch.Accepted);
        AssertClose(expected, policy.Parameters, 1e-4, "trpo parameters");
        // What the search saw at the accepted θ and what the update reports: Ê[ρÂ] and the mean KL there.
        double[] accepted = Theta(policy);
        Assert.Equal(Surrogate(accepted), algorithm.LastLineSearch.Surrogate, 1e-5);
        Assert.Equal(Kl(accepted), algorithm.LastLineSearch.MeanKl, 1e-6);
        Assert.Equal(Kl(accepted), algorithm.LastKl, 1e-6);
        Assert.Equal(Kl(accepted), d.ApproxKl, 1e-6);
    }
}
