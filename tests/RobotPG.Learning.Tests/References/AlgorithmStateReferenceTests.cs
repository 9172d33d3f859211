using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Estimators;
using RobotPG.Learning.Rollouts;
using RobotPG.Learning.Tests.Networks;
using RobotPG.Numerics;
using Xunit;
using static RobotPG.Learning.Tests.References.FixedRollout;

namespace RobotPG.Learning.Tests.References;

/// <summary>
/// What one full-batch step with one action component cannot show: state carried between reuse steps,
/// minibatches and updates (zeroed gradients, the old policy captured, the shuffle), the diagnostics an
/// update reports (KL, loss, ratio drift, β), TRPO's rejected search, strides of two action components.
/// Same references and tolerances as <see cref="AlgorithmReferenceTests"/>. Where an algorithm shuffles
/// minibatches, the reference draws the same permutation from <see cref="Prng"/> (tested on its own) with
/// the seed the algorithm derives from the run's seed.
/// </summary>
public partial class AlgorithmReferenceTests
{
    private static readonly AlgorithmContext TwoActions = new(ObservationSize, 2, "reference", 7);

    /// <summary>Batch index → rollout index: the estimator batch holds env 0's steps, then env 1's.</summary>
    private static readonly int[] TrajectoryOrder = [0, 2, 4, 6, 1, 3, 5, 7];

    /// <summary>Adam's first step θ₀ − lr·g/(|g| + ε), rounded to float as the policy stores it.</summary>
    private static double[] AdamFirstStep(double[] theta0, double[] g, double lr, double epsilon = 1e-5) =>
        [.. theta0.Select((t, j) => (double)(float)(t - lr * g[j] / (Math.Abs(g[j]) + epsilon)))];

    /// <summary>Mean over the rollout's observations of KL(π_old ‖ π_new) for one action component.</summary>
    private static double MeanKl(double[] oldTheta, double[] newTheta, IEnumerable<int>? indices = null)
    {
        int meanCount = ReferenceNetworks.MlpParameterCount(PolicySizes);
        int[] over = [.. indices ?? Enumerable.Range(0, Count)];
        return over.Sum(i => ReferenceNetworks.Kl(ReferenceNetworks.PolicyMean(oldTheta, PolicySizes, Observation(i)), oldTheta.AsSpan(meanCount),
            ReferenceNetworks.PolicyMean(newTheta, PolicySizes, Observation(i)), newTheta.AsSpan(meanCount))) / over.Length;
    }

    private static int[] Shuffled(ulong seed)
    {
        int[] indices = [.. Enumerable.Range(0, Count)];
        var prng = new Prng(seed);
        prng.Shuffle(indices);
        return indices;
    }

    // ---------------------------------------------------------------- NPG / TRPO

    /// <summary>
    /// The second NPG update starts from the gradient at θ₁ alone and measures its KL against π_θ₁ (mean and
    /// log σ captured at its start), not against the first update's or the initial policy.
    /// </summary>
    [Fact]
    public void Npg_second_update_uses_fresh_gradients_and_reports_the_kl_of_its_own_step()
    {
        var h = Small with { MaxKl = 0.02, Damping = 0.1, ConjugateGradientIterations = 40 };
        var algorithm = (NaturalPolicyGradient)EstimatorAlgorithms.Create(EstimatorAlgorithms.Npg, h, Context);
        var policy = algorithm.Agent.Policy;
        double logStd0 = policy.LogStd[0];
        algorithm.Update(Build(policy, Values), 1, 2);
        double[] theta1 = Theta(policy);
        Assert.True(Math.Abs(policy.LogStd[0] - logStd0) > 1e-3, "precondition: the first step moved log σ (so a stale σ_old would show)");
        UpdateDiagnostics d = algorithm.Update(Build(policy, Values), 2, 2);
        double[] theta2 = Theta(policy);

        var (g, step, _) = NaturalStepReference(theta1, 0.02, 0.1);
        AssertClose(g, policy.Gradients, Tolerance, "second npg gradient");
        AssertClose(step.ToArray(), [.. theta2.Select((t, j) => t - theta1[j])], 1e-3, "second npg step");
        double kl = MeanKl(theta1, theta2);
        Assert.Equal(kl, algorithm.LastKl, 1e-6);
        Assert.Equal(kl, d.ApproxKl, 1e-6);
    }

    /// <summary>
    /// TRPO with one try: with damping 1e-3 the full step of ε = 0.5 overshoots the bound (its KL, computed here,
    /// is ≈ 1.7), so θ stays exactly θ₀ and the update reports KL 0, while the search reports the KL it saw.
    /// </summary>
    [Fact]
    public void Trpo_keeps_theta_and_reports_zero_kl_when_the_search_fails()
    {
        const double maxKl = 0.5, damping = 1e-3;
        var h = Small with { MaxKl = maxKl, Damping = damping, ConjugateGradientIterations = 40, BacktrackRatio = 0.8, MaxBacktracks = 1 };
        var algorithm = (NaturalPolicyGradient)EstimatorAlgorithms.Create(EstimatorAlgorithms.Trpo, h, Context);
        var policy = algorithm.Agent.Policy;
        float[] start = policy.Parameters.ToArray();
        double[] theta = Theta(policy);
        UpdateDiagnostics d = algorithm.Update(Build(policy, Values), 1, 1);

        var (_, step, _) = NaturalStepReference(theta, maxKl, damping);
        double[] full = [.. theta.Select((t, j) => t + step[j])];
        double fullKl = MeanKl(theta, full);
        Assert.True(fullKl > maxKl, $"precondition: the full step's KL {fullKl:G4} exceeds ε");
        Assert.False(algorithm.LastLineSearch.Accepted);
        Assert.Equal(start, policy.Parameters.ToArray());
        Assert.Equal(0, algorithm.LastKl);
        Assert.Equal(0f, d.ApproxKl);
        Assert.Equal(fullKl, algorithm.LastLineSearch.MeanKl, 0.02 * fullKl);
    }

    // ---------------------------------------------------------------- off-policy

    /// <summary>
    /// Two reuse steps of the marginal-ratio estimator: the second gradient is ∇L^IS at θ₁ (Adam's first step
    /// from θ₀) alone, and the drift reported is max |ρ − 1| over both steps' ratios.
    /// </summary>
    [Fact]
    public void Off_policy_second_reuse_step_is_the_surrogate_gradient_at_the_moved_parameters()
    {
        const double lr = 0.05;
        var h = Small with { PerDecisionImportance = false, ReuseSteps = 2, PolicyLearningRate = (float)lr };
        var algorithm = (OffPolicyPolicyGradient)EstimatorAlgorithms.Create(EstimatorAlgorithms.OffPolicy, h, Context);
        var policy = algorithm.Agent.Policy;
        double[] theta0 = Theta(policy);
        RolloutBuffer rollout = Build(policy, Values, BehaviourOffsets);
        double[] behaviour = ReferenceNetworks.ToDouble(rollout.LogProbs);
        algorithm.Update(rollout, 1, 1);

        double[] q = RewardToGo(Rewards, Gamma, RunBootstrap);
        double[] adv = [.. q.Select((v, i) => v - Values[i])];
        double Surrogate(double[] t)
        {
            double sum = 0;
            for (int i = 0; i < Count; i++) sum += Math.Exp(LogProb(t, i) - behaviour[i]) * adv[i];
            return -sum / Runs.Length;
        }
        double[] theta1 = AdamFirstStep(theta0, ReferenceNetworks.Gradient(Surrogate, theta0), lr);
        AssertClose(ReferenceNetworks.Gradient(Surrogate, theta1), policy.Gradients, 1e-3, "second reuse step's gradient");

        double drift = 0;
        foreach (double[] t in new[] { theta0, theta1 })
            for (int i = 0; i < Count; i++) drift = Math.Max(drift, Math.Abs(Math.Exp(LogProb(t, i) - behaviour[i]) - 1));
        Assert.Equal(drift, algorithm.LastMaxRatioDeviation, 1e-4);
    }

    // ---------------------------------------------------------------- PPO-KL

    /// <summary>
    /// Two minibatches of 4 drawn by the shuffle, σ_old = e^−0.3: the last minibatch's gradient is that of
    /// −(Ê_mb[ρÂ] − β Ê_mb[KL(π_old ‖ π_θ)]) at θ₁ (Adam's step on the first minibatch), the loss reported is
    /// −Ê_mb[ρÂ] there, and β is doubled or halved by the whole batch's KL after the update.
    /// </summary>
    [Fact]
    public void PpoKl_shuffled_minibatches_penalty_and_reported_loss()
    {
        const double lr = 0.05, beta = 10;
        var h = Small with { Epochs = 1, Minibatches = 2, PolicyLearningRate = (float)lr, InitialBeta = beta };
        var algorithm = (PpoKl)EstimatorAlgorithms.Create(EstimatorAlgorithms.PpoKl, h, Context);
        var policy = algorithm.Agent.Policy;
        policy.LogStd[0] = -0.3f;
        double[] theta0 = Theta(policy);
        RolloutBuffer rollout = Build(policy, Values);
        double[] behaviour = ReferenceNetworks.ToDouble(rollout.LogProbs);
        UpdateDiagnostics d = algorithm.Update(rollout, 1, 1);

        int[] order = Shuffled(Context.Seed ^ 0x9B0_5EEDUL);
        int[] first = [.. order[..4].Select(k => TrajectoryOrder[k])], second = [.. order[4..].Select(k => TrajectoryOrder[k])];
        double[] adv = Standardized(Gae(Values, Gamma, 0.8, RunBootstrap));
        double Surrogate(double[] t, int[] mb) => mb.Sum(i => Math.Exp(LogProb(t, i) - behaviour[i]) * adv[i]) / mb.Length;
        double Loss(double[] t, int[] mb) => -(Surrogate(t, mb) - beta * MeanKl(theta0, t, mb));
        double[] theta1 = AdamFirstStep(theta0, ReferenceNetworks.Gradient(t => Loss(t, first), theta0), lr);
        AssertClose(ReferenceNetworks.Gradient(t => Loss(t, second), theta1), policy.Gradients, 1e-3, "last minibatch's gradient");
        Assert.Equal(-Surrogate(theta1, second), d.PolicyLoss, 1e-4);

        double kl = MeanKl(theta0, Theta(policy));
        Assert.Equal(kl, algorithm.LastKl, 1e-5);
        double adapted = kl > h.KlMax ? 2 * beta : kl < h.KlMin ? beta / 2 : beta;
        Assert.NotEqual(beta, adapted); // precondition: the step's KL is outside [KLmin, KLmax]
        Assert.Equal(adapted, algorithm.Penalty.Beta);
        Assert.Equal(kl, d.ApproxKl, 1e-5);
    }

    // ---------------------------------------------------------------- PPO

    /// <summary>
    /// Two shuffled minibatches, with a joint gradient-norm clip of 0.05 or none: the gradients left in the
    /// buffers are the second minibatch's (advantages standardised over it) at (θ₁, φ₁), scaled by
    /// 0.05/(‖g‖ + 1e-6) when clipped — the first minibatch's contribution zeroed, and (θ₁, φ₁) Adam's first
    /// step on the (clipped) first gradient. Compared in units of the clipped norm, so a leftover of the first
    /// minibatch shows above the tolerance.
    /// </summary>
    [Theory]
    [InlineData(0.05)]
    [InlineData(1e6)]
    public void Ppo_shuffled_minibatches_with_a_clipped_joint_gradient(double maxNorm)
    {
        const double lr = 0.01, clip = 0.2;
        bool clipped = maxNorm < 1;
        var h = new PpoHyperparameters
        {
            EnvironmentCount = FixedRollout.EnvironmentCount, StepsPerEnvironment = Steps, Minibatches = 2, Epochs = 1, Gamma = Gamma, GaeLambda = 0.8,
            LearningRate = (float)lr, AnnealLearningRate = false, EntropyCoefficient = 0.3f, ValueCoefficient = 0.5f, MaxGradientNorm = (float)maxNorm,
            NormalizeObservations = false, ScaleRewards = false, PolicyHiddenSizes = Hidden, ValueHiddenSizes = Hidden,
        };
        var ppo = new RobotPG.Learning.Algorithms.Ppo(h, Context);
        var policy = ppo.Agent.Policy;
        var value = ppo.Agent.Value;
        double[] theta0 = Theta(policy), phi0 = ReferenceNetworks.ToDouble(value.Parameters);
        int[] valueSizes = [ObservationSize, 3, 1];
        double V(double[] p, int i) => ReferenceNetworks.MlpForward(p, valueSizes, Observation(i))[0];
        var values = new double[Count];
        for (int i = 0; i < Count; i++) values[i] = (float)V(phi0, i);
        RolloutBuffer rollout = Build(policy, values, BehaviourOffsets.Select(o => 0.5 * o).ToArray());
        double[] behaviour = ReferenceNetworks.ToDouble(rollout.LogProbs);
        ppo.Update(rollout, 1, 1);

        double[] adv = Gae(values, Gamma, 0.8, RunBootstrap);
        double[] returns = [.. adv.Select((a, i) => a + values[i])];
        int[] order = Shuffled(Context.Seed ^ 0x5050_4F5F_5348_5546UL);
        int[] first = order[..4], second = order[4..];
        (double[] Policy, double[] Value) ClippedGradient(double[] theta, double[] phi, int[] mb)
        {
            double[] std = Standardized([.. mb.Select(i => adv[i])]);
            double PolicyLoss(double[] t) => mb.Select((i, k) =>
            {
                double ratio = Math.Exp(LogProb(t, i) - behaviour[i]);
                return Math.Max(-std[k] * ratio, -std[k] * Math.Clamp(ratio, 1 - clip, 1 + clip));
            }).Sum() / mb.Length - 0.3 * ReferenceNetworks.Entropy(t, PolicySizes);
            double ValueLoss(double[] p) => 0.5 * 0.5 * mb.Sum(i =>
            {
                double v = V(p, i), clipped = values[i] + Math.Clamp(v - values[i], -clip, clip);
                return Math.Max((v - returns[i]) * (v - returns[i]), (clipped - returns[i]) * (clipped - returns[i]));
            }) / mb.Length;
            double[] gp = ReferenceNetworks.Gradient(PolicyLoss, theta), gv = ReferenceNetworks.Gradient(ValueLoss, phi);
            double norm = Math.Sqrt(gp.Sum(x => x * x) + gv.Sum(x => x * x));
            Assert.True(norm > maxNorm == clipped, $"precondition: the minibatch gradient's norm {norm:G4} is clipped iff the case says so");
            double scale = clipped ? maxNorm / (norm + 1e-6) : 1;
            return ([.. gp.Select(x => x * scale)], [.. gv.Select(x => x * scale)]);
        }
        var (gp0, gv0) = ClippedGradient(theta0, phi0, first);
        double[] theta1 = AdamFirstStep(theta0, gp0, lr), phi1 = AdamFirstStep(phi0, gv0, lr);
        var (gp1, gv1) = ClippedGradient(theta1, phi1, second);
        double unit = clipped ? maxNorm : 1;
        float[] Scaled(ReadOnlySpan<float> g) => [.. g.ToArray().Select(x => (float)(x / unit))];
        AssertClose([.. gp1.Select(x => x / unit)], Scaled(policy.Gradients), 1e-3, "last minibatch's policy gradient");
        AssertClose([.. gv1.Select(x => x / unit)], Scaled(value.Gradients), 1e-3, "last minibatch's value gradient");
    }

    [Fact]
    public void Ppo_refuses_a_null_rollout_by_name()
    {
        var h = new PpoHyperparameters { EnvironmentCount = 2, StepsPerEnvironment = 4, Minibatches = 1, PolicyHiddenSizes = Hidden, ValueHiddenSizes = Hidden };
        var e = Assert.Throws<ArgumentNullException>(() => new RobotPG.Learning.Algorithms.Ppo(h, Context).Update(null!, 1, 1));
        Assert.Equal("rollout", e.ParamName);
    }

    // ---------------------------------------------------------------- two action components

    /// <summary>
    /// Every buffer stride (actions, old means, minibatch gathers) with a = 2: the first update's gradient, at
    /// θ₀ where ρ = 1 and ∇KL = 0, is the weighted score of the 2-component log-prob. One action component would
    /// not tell n·a from n/a.
    /// </summary>
    [Theory]
    [InlineData(EstimatorAlgorithms.Reinforce)]
    [InlineData(EstimatorAlgorithms.A2c)]
    [InlineData(EstimatorAlgorithms.Npg)]
    [InlineData(EstimatorAlgorithms.PpoKl)]
    [InlineData("ppo")]
    public void Two_action_components_give_the_two_component_score(string name)
    {
        double[] gae = Standardized(Gae(Values, Gamma, 0.8, RunBootstrap));
        if (name == "ppo")
        {
            var h = new PpoHyperparameters
            {
                EnvironmentCount = FixedRollout.EnvironmentCount, StepsPerEnvironment = Steps, Minibatches = 1, Epochs = 1, Gamma = Gamma, GaeLambda = 0.8,
                AnnealLearningRate = false, MaxGradientNorm = 1e6f, NormalizeObservations = false, ScaleRewards = false,
                PolicyHiddenSizes = Hidden, ValueHiddenSizes = Hidden,
            };
            var ppo = new RobotPG.Learning.Algorithms.Ppo(h, TwoActions);
            double[] theta = Theta(ppo.Agent.Policy);
            ppo.Update(Build(ppo.Agent.Policy, Values), 1, 1);
            AssertClose(WeightedScore(Scores(theta, 2), gae, -1.0 / Count), ppo.Agent.Policy.Gradients, Tolerance, "ppo, 2 actions");
            return;
        }
        var hp = Small with { Baseline = name == EstimatorAlgorithms.Reinforce ? BaselineKind.OptimalConstantPerParameter : BaselineKind.StateValue };
        var algorithm = EstimatorAlgorithms.Create(name, hp, TwoActions);
        var policy = algorithm.Agent.Policy;
        double[] theta0 = Theta(policy);
        algorithm.Update(Build(policy, Values), 1, 1);
        double[] expected = name switch
        {
            EstimatorAlgorithms.Reinforce => ReinforceReferenceWithLoss(hp, theta0, FirstRolloutEpisodeSteps, 2).Gradient,
            EstimatorAlgorithms.A2c => WeightedScore(Scores(theta0, 2),
                [.. RewardToGo(Rewards, Gamma, RunBootstrap).Select((v, i) => v - Values[i])], -1.0 / Count),
            EstimatorAlgorithms.Npg => WeightedScore(Scores(theta0, 2), gae, 1.0 / Count),
            _ => WeightedScore(Scores(theta0, 2), gae, -1.0 / Count),
        };
        AssertClose(expected, policy.Gradients, Tolerance, $"{name}, 2 actions");
    }

    // ---------------------------------------------------------------- arguments

    public static TheoryData<string> AlgorithmNames() =>
        [EstimatorAlgorithms.Reinforce, EstimatorAlgorithms.A2c, EstimatorAlgorithms.OffPolicy, EstimatorAlgorithms.PpoKl, EstimatorAlgorithms.Npg, "ppo"];

    [Theory]
    [MemberData(nameof(AlgorithmNames))]
    public void Null_hyperparameters_are_refused_by_name(string name)
    {
        Func<object> create = name switch
        {
            EstimatorAlgorithms.Reinforce => () => new Reinforce(null!, Context),
            EstimatorAlgorithms.A2c => () => new A2c(null!, Context),
            EstimatorAlgorithms.OffPolicy => () => new OffPolicyPolicyGradient(null!, Context),
            EstimatorAlgorithms.PpoKl => () => new PpoKl(null!, Context),
            EstimatorAlgorithms.Npg => () => new NaturalPolicyGradient(null!, Context, lineSearch: false),
            _ => () => new RobotPG.Learning.Algorithms.Ppo(null!, Context),
        };
        Assert.Equal("hyperparameters", Assert.Throws<ArgumentNullException>(create).ParamName);
    }
}
