using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Estimators;
using RobotPG.Learning.Rollouts;
using Xunit;

namespace RobotPG.Learning.Tests.Ppo;

/// <summary>
/// The settings records' validation at each boundary (the value just inside passes, just outside gives the
/// named line), the per-task presets (tuned values a silent edit would lose) and the registry's names.
/// </summary>
public class SettingsTests
{
    private static readonly EstimatorHyperparameters E = new();

    public static TheoryData<EstimatorHyperparameters, string?> EstimatorCases => new()
    {
        { E, null },
        { E with { EnvironmentCount = 0 }, "rollout must be ≥ 1 × 1 (got 0 × 512)" },
        { E with { StepsPerEnvironment = 0 }, "rollout must be ≥ 1 × 1 (got 4 × 0)" },
        { E with { EnvironmentCount = 1, StepsPerEnvironment = 16, ValueMinibatches = 16, Minibatches = 16 }, null },
        { E with { EnvironmentCount = 1, StepsPerEnvironment = 1, ValueMinibatches = 1, Minibatches = 1 }, null },
        { E with { Gamma = 0 }, "gamma must be in (0, 1] (got 0)" },
        { E with { Gamma = 1 }, null },
        { E with { Gamma = 1.5 }, "gamma must be in (0, 1] (got 1.5)" },
        { E with { Gamma = double.NaN }, "gamma must be in (0, 1] (got NaN)" },
        { E with { GaeLambda = 0 }, null },
        { E with { GaeLambda = 1 }, null },
        { E with { GaeLambda = -0.5 }, "GAE lambda must be in [0, 1] (got -0.5)" },
        { E with { GaeLambda = 1.5 }, "GAE lambda must be in [0, 1] (got 1.5)" },
        { E with { PolicyLearningRate = 0 }, "learning rates must be > 0" },
        { E with { ValueLearningRate = 0 }, "learning rates must be > 0" },
        { E with { ValueLearningRate = float.NaN }, "learning rates must be > 0" },
        { E with { ValueEpochs = 0 }, null },
        { E with { ValueEpochs = -1 }, "value epochs ≥ 0 and minibatches in 1..2048" },
        { E with { ValueMinibatches = 0 }, "value epochs ≥ 0 and minibatches in 1..2048" },
        { E with { ValueMinibatches = 2048, Minibatches = 2048 }, null },
        { E with { ValueMinibatches = 2049 }, "value epochs ≥ 0 and minibatches in 1..2048" },
        { E with { ValueTrustPenalty = 0 }, null },
        { E with { ValueTrustPenalty = -1 }, "trust penalty must be ≥ 0 (got -1)" },
        { E with { ReuseSteps = 1, Epochs = 1, Minibatches = 1 }, null },
        { E with { ReuseSteps = 0 }, "reuse steps, epochs and minibatches must be ≥ 1" },
        { E with { Epochs = 0 }, "reuse steps, epochs and minibatches must be ≥ 1" },
        { E with { Minibatches = 0 }, "reuse steps, epochs and minibatches must be ≥ 1" },
        { E with { Minibatches = 2049 }, "reuse steps, epochs and minibatches must be ≥ 1" },
        { E with { MaxKl = 0 }, "KL bound > 0, CG iterations ≥ 1, damping ≥ 0" },
        { E with { ConjugateGradientIterations = 0 }, "KL bound > 0, CG iterations ≥ 1, damping ≥ 0" },
        { E with { ConjugateGradientIterations = 1, Damping = 0 }, null },
        { E with { Damping = -0.1 }, "KL bound > 0, CG iterations ≥ 1, damping ≥ 0" },
        { E with { BacktrackRatio = 0 }, "backtrack ratio in (0, 1), at least one backtrack" },
        { E with { BacktrackRatio = 1 }, "backtrack ratio in (0, 1), at least one backtrack" },
        { E with { MaxBacktracks = 0 }, "backtrack ratio in (0, 1), at least one backtrack" },
        { E with { MaxBacktracks = 1 }, null },
        { E with { PolicyHiddenSizes = [] }, "networks need at least one hidden layer" },
        { E with { ValueHiddenSizes = [] }, "networks need at least one hidden layer" },
    };

    [Theory, MemberData(nameof(EstimatorCases))]
    public void Estimator_settings_are_refused_exactly_outside_their_ranges(EstimatorHyperparameters h, string? expected) =>
        Assert.Equal(expected, h.Validate());

    [Fact]
    public void Estimator_rollouts_keep_the_raw_rewards()
    {
        var h = E with { EnvironmentCount = 3, StepsPerEnvironment = 5, Gamma = 0.95 };
        Assert.Equal(new RobotPG.Learning.Algorithms.RolloutSettings(3, 5, 0.95, ScaleRewards: false, RewardClip: 10f), h.CreateRolloutSettings());
    }

    private static readonly PpoHyperparameters P = new();

    public static TheoryData<PpoHyperparameters, string?> PpoCases => new()
    {
        { P, null },
        { P with { EnvironmentCount = 0 }, "environment count must be ≥ 1 (got 0)" },
        { P with { StepsPerEnvironment = 0 }, "steps per environment must be ≥ 1 (got 0)" },
        { P with { EnvironmentCount = 1, StepsPerEnvironment = 1, Minibatches = 1 }, null },
        { P with { Minibatches = 0 }, "minibatches must be in 1..2048 (got 0)" },
        { P with { Minibatches = 2048 }, null },
        { P with { Minibatches = 2049 }, "minibatches must be in 1..2048 (got 2049)" },
        { P with { Epochs = 0 }, "epochs must be ≥ 1 (got 0)" },
        { P with { Epochs = 1 }, null },
        { P with { Gamma = 0 }, null },
        { P with { Gamma = 1 }, null },
        { P with { Gamma = -0.5 }, "gamma must be in [0, 1] (got -0.5)" },
        { P with { Gamma = 1.5 }, "gamma must be in [0, 1] (got 1.5)" },
        { P with { GaeLambda = -0.5 }, "GAE lambda must be in [0, 1] (got -0.5)" },
        { P with { GaeLambda = 1.5 }, "GAE lambda must be in [0, 1] (got 1.5)" },
        { P with { GaeLambda = 0 }, null },
        { P with { GaeLambda = 1 }, null },
        { P with { LearningRate = 0 }, "learning rate must be > 0 (got 0)" },
        { P with { ClipCoefficient = 0 }, "clip coefficient must be > 0 (got 0)" },
        { P with { MaxGradientNorm = 0 }, "max gradient norm must be > 0 (got 0)" },
        { P with { PolicyHiddenSizes = [] }, "networks need at least one hidden layer" },
        { P with { ValueHiddenSizes = [] }, "networks need at least one hidden layer" },
    };

    [Theory, MemberData(nameof(PpoCases))]
    public void Ppo_settings_are_refused_exactly_outside_their_ranges(PpoHyperparameters h, string? expected) =>
        Assert.Equal(expected, h.Validate());

    [Fact]
    public void Ppo_defaults_are_cleanrl_and_the_presets_keep_their_tuned_values()
    {
        var d = new PpoHyperparameters();
        Assert.Equal((1, 2048, 32, 10, 0.99, 0.95, 3e-4f, true, 0.2f, true, true, 0f, 0.5f, 0.5f, 1e-5f, (float?)null, true, 10f, true, 10f),
            (d.EnvironmentCount, d.StepsPerEnvironment, d.Minibatches, d.Epochs, d.Gamma, d.GaeLambda, d.LearningRate, d.AnnealLearningRate,
                d.ClipCoefficient, d.ClipValueLoss, d.NormalizeAdvantages, d.EntropyCoefficient, d.ValueCoefficient, d.MaxGradientNorm,
                d.AdamEpsilon, d.TargetKl, d.NormalizeObservations, d.ObservationClip, d.ScaleRewards, d.RewardClip));
        Assert.Equal([64, 64], d.PolicyHiddenSizes);
        Assert.Equal([64, 64], d.ValueHiddenSizes);
        Assert.Equal(64, d.MinibatchSize);

        var p = PpoPresets.For("pendulum");
        Assert.Equal((8, 256, 32, 10, 0.95, 0.95, 1e-3f, false, true), (p.EnvironmentCount, p.StepsPerEnvironment, p.Minibatches, p.Epochs,
            p.Gamma, p.GaeLambda, p.LearningRate, p.NormalizeObservations, p.ScaleRewards));
        var c = PpoPresets.For("cartpole");
        Assert.Equal((4, 512, 32, 10, 0.99, 0.95, 1e-3f, true), (c.EnvironmentCount, c.StepsPerEnvironment, c.Minibatches, c.Epochs,
            c.Gamma, c.GaeLambda, c.LearningRate, c.NormalizeObservations));
        Assert.Equal(d, PpoPresets.For("balance-bot") with { PolicyHiddenSizes = d.PolicyHiddenSizes, ValueHiddenSizes = d.ValueHiddenSizes });
    }

    [Fact]
    public void Estimator_presets_set_each_algorithms_shape_and_baseline()
    {
        var d = new EstimatorHyperparameters();
        Assert.Equal((4, 512, 0.99, 0.97, 3e-3f, 1e-3f, 5, 16, 0f, false, ReturnWeightingKind.RewardToGo, BaselineKind.StateValue, false, false),
            (d.EnvironmentCount, d.StepsPerEnvironment, d.Gamma, d.GaeLambda, d.PolicyLearningRate, d.ValueLearningRate, d.ValueEpochs,
                d.ValueMinibatches, d.ValueTrustPenalty, d.TemporalDifferenceValueTargets, d.Weighting, d.Baseline, d.DiscountFromTrajectoryStart,
                d.NormalizeAdvantages));
        Assert.Equal((4, false, 10, 32, KlPenaltyRule.DoubleOrHalve, 1.0, 0.01 / 1.5, 0.01 * 1.5, 0.01, 10.0, 0.01, 10, 0.1, 0.8, 10, true),
            (d.ReuseSteps, d.PerDecisionImportance, d.Epochs, d.Minibatches, d.KlRule, d.InitialBeta, d.KlMin, d.KlMax, d.TargetKl, d.BetaRate,
                d.MaxKl, d.ConjugateGradientIterations, d.Damping, d.BacktrackRatio, d.MaxBacktracks, d.NormalizeObservations));
        Assert.Equal([64, 64], d.PolicyHiddenSizes);
        Assert.Equal([64, 64], d.ValueHiddenSizes);

        Assert.Equal(BaselineKind.TimeDependent, EstimatorPresets.For("reinforce", "x")!.Baseline);
        Assert.Equal(BaselineKind.StateValue, EstimatorPresets.For("vpg", "x")!.Baseline);
        var a2c = EstimatorPresets.For("a2c", "x")!;
        Assert.Equal((16, 5, 1, 1, 1e-3f, 1e-3f, true), (a2c.EnvironmentCount, a2c.StepsPerEnvironment, a2c.ValueEpochs, a2c.ValueMinibatches,
            a2c.PolicyLearningRate, a2c.ValueLearningRate, a2c.NormalizeAdvantages));
        var off = EstimatorPresets.For("off-policy", "x")!;
        Assert.Equal((4, true), (off.ReuseSteps, off.NormalizeAdvantages));
        Assert.Equal((3e-4f, 10, 32), (EstimatorPresets.For("ppo-kl", "x")!.PolicyLearningRate, EstimatorPresets.For("ppo-kl", "x")!.Epochs,
            EstimatorPresets.For("ppo-kl", "x")!.Minibatches));
        Assert.Equal(1e-3f, EstimatorPresets.For("ppo-kl", "pendulum")!.PolicyLearningRate);
        Assert.Equal(10, EstimatorPresets.For("npg", "x")!.ValueEpochs);
        Assert.Equal(10, EstimatorPresets.For("trpo", "x")!.ValueEpochs);
        var pendulum = EstimatorPresets.For("vpg", "pendulum")!;
        Assert.Equal((0.9, 0.95, 8, 256), (pendulum.Gamma, pendulum.GaeLambda, pendulum.EnvironmentCount, pendulum.StepsPerEnvironment));
        Assert.Null(EstimatorPresets.For("ppo", "x"));
    }

    [Fact]
    public void The_registry_builds_each_named_algorithm_and_names_the_known_ones_when_asked_for_another()
    {
        Assert.Equal(["ppo", "reinforce", "vpg", "a2c", "off-policy", "ppo-kl", "npg", "trpo"], AlgorithmRegistry.Names);
        var context = new AlgorithmContext(3, 1, "x", 1);
        foreach (string name in AlgorithmRegistry.Names)
        {
            Assert.True(AlgorithmRegistry.TryCreate(name, context, out IPolicyGradientAlgorithm algorithm));
            Assert.Equal(name, algorithm.Name);
            Assert.Equal(name, AlgorithmRegistry.Create(name, context).Name);
        }
        Assert.False(AlgorithmRegistry.TryCreate("sgd", context, out _));
        var e = Assert.Throws<ArgumentException>(() => AlgorithmRegistry.Create("sgd", context));
        Assert.StartsWith("unknown algorithm 'sgd' (known: ppo, reinforce, vpg, a2c, off-policy, ppo-kl, npg, trpo)", e.Message);
        var e2 = Assert.Throws<ArgumentException>(() => EstimatorAlgorithms.Create("sgd", new EstimatorHyperparameters(), context));
        Assert.StartsWith("unknown estimator algorithm 'sgd' (known: reinforce, vpg, a2c, off-policy, ppo-kl, npg, trpo)", e2.Message);
    }

    [Theory]
    [InlineData("reinforce"), InlineData("vpg"), InlineData("a2c"), InlineData("off-policy"), InlineData("ppo-kl"), InlineData("npg"), InlineData("trpo")]
    public void Each_estimator_algorithm_refuses_bad_settings_naming_itself_and_the_setting(string name)
    {
        var e = Assert.Throws<ArgumentException>(() => EstimatorAlgorithms.Create(name, E with { Gamma = 2 }, new AlgorithmContext(3, 1, "x", 1)));
        Assert.StartsWith($"{name}: gamma must be in (0, 1] (got 2)", e.Message);
        Assert.Equal("hyperparameters", e.ParamName);
    }

    [Fact]
    public void Ppo_refuses_bad_settings_a_rollout_of_another_shape_and_an_iteration_out_of_range()
    {
        var context = new AlgorithmContext(3, 1, "x", 1);
        var e = Assert.Throws<ArgumentException>(() => new Algorithms.Ppo(P with { Epochs = 0 }, context));
        Assert.StartsWith("PPO: epochs must be ≥ 1 (got 0)", e.Message);
        var h = P with { EnvironmentCount = 2, StepsPerEnvironment = 4, Minibatches = 2, PolicyHiddenSizes = [3], ValueHiddenSizes = [3] };
        var ppo = new Algorithms.Ppo(h, context);
        foreach (var wrong in new[] { new RolloutBuffer(4, 1, 3, 1), new RolloutBuffer(4, 2, 2, 1), new RolloutBuffer(4, 2, 3, 2) })
        {
            var shape = Assert.Throws<ArgumentException>(() => ppo.Update(wrong, 1, 1));
            Assert.StartsWith("rollout does not have the shape PPO was built for", shape.Message);
        }
        var rollout = new RolloutBuffer(4, 2, 3, 1);
        Assert.Equal(0, Assert.Throws<ArgumentOutOfRangeException>(() => ppo.Update(rollout, 0, 3)).ActualValue);
        Assert.Equal(4, Assert.Throws<ArgumentOutOfRangeException>(() => ppo.Update(rollout, 4, 3)).ActualValue);
        Assert.StartsWith("must be in 1..3", Assert.Throws<ArgumentOutOfRangeException>(() => ppo.Update(rollout, 4, 3)).Message);
    }

    [Fact]
    public void Ppo_loss_pieces_refuse_spans_of_different_lengths_and_explained_variance_is_nan_without_variance()
    {
        float[] two = [1f, 2f], one = [1f];
        Assert.Throws<ArgumentException>(() => PpoLoss.PolicyLoss(two, one, two, 0.2f, new float[2]));
        Assert.Throws<ArgumentException>(() => PpoLoss.PolicyLoss(two, two, one, 0.2f, new float[2]));
        Assert.Throws<ArgumentException>(() => PpoLoss.PolicyLoss(two, two, two, 0.2f, new float[1]));
        Assert.Throws<ArgumentException>(() => PpoLoss.ValueLoss(two, one, two, 0.2f, true, 1f, new float[2]));
        Assert.Throws<ArgumentException>(() => PpoLoss.ValueLoss(two, two, one, 0.2f, true, 1f, new float[2]));
        Assert.Throws<ArgumentException>(() => PpoLoss.ValueLoss(two, two, two, 0.2f, true, 1f, new float[1]));
        Assert.Throws<ArgumentException>(() => PpoLoss.ExplainedVariance(one, two));
        Assert.True(float.IsNaN(PpoLoss.ExplainedVariance([], [])));
        Assert.True(float.IsNaN(PpoLoss.ExplainedVariance(two, [3f, 3f])));
    }

    [Fact]
    public void A_policy_gradient_batch_refuses_a_rollout_of_another_shape()
    {
        var batch = new PolicyGradientBatch(8, 3, 1);
        foreach (var wrong in new[] { new RolloutBuffer(4, 1, 3, 1), new RolloutBuffer(4, 2, 2, 1), new RolloutBuffer(4, 2, 3, 2) })
        {
            var e = Assert.Throws<ArgumentException>(() => batch.Load(wrong));
            Assert.StartsWith($"rollout of {wrong.Capacity} steps does not fit a batch of 8", e.Message);
        }
    }
}
