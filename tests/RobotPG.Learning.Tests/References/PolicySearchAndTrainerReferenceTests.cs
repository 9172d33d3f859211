using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Environments;
using RobotPG.Learning.Estimators;
using RobotPG.Learning.Rollouts;
using RobotPG.Learning.Training;
using Xunit;

namespace RobotPG.Learning.Tests.References;

/// <summary>
/// Note 002's black-box searches (finite differences, regression) on a one-step task whose utility is a
/// closed form in θ, and the trainer's time-limit bootstrap against the critic evaluated by hand.
/// </summary>
public class PolicySearchAndTrainerReferenceTests
{
    /// <summary>
    /// One step from s = (sin k, cos 2k) (k the reset seed); reward −(a − (0.7 s₀ − 0.3 s₁ + 0.2))² (quadratic)
    /// or 0.7 a + 0.1 (linear). U(W, b) = (1/E) Σₖ r(W sₖ + b).
    /// </summary>
    private sealed class OneStepTask(bool quadratic) : IEnvironment
    {
        private static readonly float[] Low = [-10f], High = [10f];
        private double _s0, _s1;

        public int ObservationSize => 2;
        public int ActionSize => 1;
        public ReadOnlySpan<float> ActionLow => Low;
        public ReadOnlySpan<float> ActionHigh => High;
        public int StateSize => 0;

        public static double Reward(bool quadratic, double s0, double s1, double a) =>
            quadratic ? -Math.Pow(a - (0.7 * s0 - 0.3 * s1 + 0.2), 2) : 0.7 * a + 0.1;

        public void Reset(Span<float> observation, ulong? seed = null)
        {
            double k = seed ?? 0;
            _s0 = (float)Math.Sin(k);
            _s1 = (float)Math.Cos(2 * k);
            observation[0] = (float)_s0;
            observation[1] = (float)_s1;
        }

        public void ResetTo(ReadOnlySpan<double> state, Span<float> observation) => throw new NotSupportedException();
        public void ReadState(Span<double> state) { }

        public StepResult Step(ReadOnlySpan<float> action, Span<float> observation) =>
            new((float)Reward(quadratic, _s0, _s1, action[0]), true, false);
    }

    private const int Episodes = 5;
    private const ulong Seed = 3;

    private static double Utility(bool quadratic, double[] theta)
    {
        double total = 0;
        for (int k = 0; k < Episodes; k++)
        {
            double s0 = (float)Math.Sin(Seed + (ulong)k), s1 = (float)Math.Cos(2.0 * (Seed + (ulong)k));
            double a = (float)(theta[0] * (float)s0 + theta[1] * (float)s1 + theta[2]);
            total += OneStepTask.Reward(quadratic, s0, s1, a);
        }
        return total / Episodes;
    }

    [Fact]
    public void Finite_difference_search_steps_along_the_forward_differences_of_U()
    {
        const double delta = 1e-2, alpha = 0.1;
        var policy = new LinearGaussianPolicy(2, 1);
        double[] theta = [0.3, -0.5, 0.1];
        theta.CopyTo(policy.MeanParameters);
        var search = new FiniteDifferencePolicySearch(policy, new OneStepTask(true),
            new PolicySearchSettings(PolicySearchGradient.FiniteDifference, alpha, delta, 0, 0, Episodes, Seed));
        double u = search.Update();

        // (U(θ + δeʲ) − U(θ))/δ of the closed-form U; U is quadratic, so this is ∂ⱼU + (δ/2)∂ⱼ²U exactly.
        double u0 = Utility(true, theta);
        var expected = new double[3];
        for (int j = 0; j < 3; j++)
        {
            double[] plus = (double[])theta.Clone();
            plus[j] += delta;
            expected[j] = (Utility(true, plus) - u0) / delta;
        }
        Assert.Equal(u0, u, 1e-6);
        // Float rewards: |ΔU| rounding ~1e-7 / δ.
        FixedRollout.AssertClose(expected, search.LastGradient, 1e-4, "forward differences");
        double[] stepped = [.. theta.Select((t, j) => t + alpha * expected[j])];
        FixedRollout.AssertClose(stepped, policy.MeanParameters, 1e-5, "θ + α∇U");
        Assert.Equal(Utility(true, stepped), search.Evaluate(), 1e-5); // U at the stepped θ, by the closed form
        double[] moved = [0.1, 0.2, -0.3]; // parameters set from outside (a checkpoint, a fleet broadcast) are what Evaluate rates
        moved.CopyTo(policy.MeanParameters);
        Assert.Equal(Utility(true, moved), search.Evaluate(), 1e-5);
    }

    /// <summary>
    /// With a step-length limit L below α‖∇U‖ the step is L·∇U/‖∇U‖; each U(θ) costs Episodes one-step
    /// roll-outs (four evaluations for three parameters: U(θ) and one forward difference each).
    /// </summary>
    [Fact]
    public void Finite_difference_search_limits_the_step_length_and_counts_its_roll_outs()
    {
        const double delta = 1e-2, alpha = 0.1, limit = 0.02;
        var policy = new LinearGaussianPolicy(2, 1);
        double[] theta = [0.3, -0.5, 0.1];
        theta.CopyTo(policy.MeanParameters);
        var search = new FiniteDifferencePolicySearch(policy, new OneStepTask(true),
            new PolicySearchSettings(PolicySearchGradient.FiniteDifference, alpha, delta, 0, 0, Episodes, Seed, limit));
        search.Update();
        double[] g = search.LastGradient.ToArray();
        double norm = Math.Sqrt(g.Sum(x => x * x));
        Assert.True(alpha * norm > 2 * limit, $"the case must hit the limit (α‖∇U‖ = {alpha * norm})");
        double[] stepped = [.. theta.Select((t, j) => t + limit * g[j] / norm)];
        FixedRollout.AssertClose(stepped, policy.MeanParameters, 1e-6, "θ + L∇U/‖∇U‖");
        Assert.Equal(4 * Episodes, search.Utility.EnvironmentSteps);
    }

    /// <summary>
    /// The limit applies exactly when α‖∇U‖ exceeds it: with L = α the step is limited iff ‖∇U‖ &gt; 1
    /// (a test of α/‖∇U‖ would pick the other branch).
    /// </summary>
    [Theory]
    [InlineData(0.3, -0.5, 0.1)]
    [InlineData(0.05, 0.02, -0.03)]
    public void Finite_difference_search_limits_exactly_the_steps_longer_than_the_limit(double w0, double w1, double b)
    {
        const double delta = 1e-2, alpha = 0.1;
        double[] theta = [w0, w1, b];
        var policy = new LinearGaussianPolicy(2, 1);
        theta.CopyTo(policy.MeanParameters);
        var search = new FiniteDifferencePolicySearch(policy, new OneStepTask(true),
            new PolicySearchSettings(PolicySearchGradient.FiniteDifference, alpha, delta, 0, 0, Episodes, Seed, alpha));
        search.Update();
        double[] g = search.LastGradient.ToArray();
        double norm = Math.Sqrt(g.Sum(x => x * x));
        Assert.True(Math.Abs(norm - 1) > 0.05, $"precondition: ‖∇U‖ = {norm} is clearly on one side of 1");
        double scale = norm > 1 ? alpha / norm : alpha;
        FixedRollout.AssertClose([.. theta.Select((t, j) => t + scale * g[j])], policy.MeanParameters, 1e-6, "limited iff α‖∇U‖ > L");
    }

    [Fact]
    public void Policy_search_refuses_a_step_size_that_is_not_positive_and_an_environment_of_other_sizes()
    {
        var settings = new PolicySearchSettings(PolicySearchGradient.FiniteDifference, 0, 1e-2, 0, 0, Episodes, Seed);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new FiniteDifferencePolicySearch(new LinearGaussianPolicy(2, 1), new OneStepTask(true), settings));
        Assert.Equal(0.0, e.ActualValue);
        Assert.StartsWith("step size must be positive", e.Message);
        Assert.Equal("policy", Assert.Throws<ArgumentNullException>(() => new FiniteDifferencePolicySearch(null!, new OneStepTask(true), settings with { StepSize = 0.1 })).ParamName);
        Assert.Equal("environment", Assert.Throws<ArgumentNullException>(() => new FiniteDifferencePolicySearch(new LinearGaussianPolicy(2, 1), null!, settings with { StepSize = 0.1 })).ParamName);
        Assert.Equal("episodes", Assert.Throws<ArgumentOutOfRangeException>(
            () => new FiniteDifferencePolicySearch(new LinearGaussianPolicy(2, 1), new OneStepTask(true), settings with { StepSize = 0.1, Episodes = 0 })).ParamName);
        foreach (var wrong in new[] { new LinearGaussianPolicy(3, 1), new LinearGaussianPolicy(2, 2) })
        {
            var sizes = Assert.Throws<ArgumentException>(() => new FiniteDifferencePolicySearch(wrong, new OneStepTask(true), settings with { StepSize = 0.1 }));
            Assert.StartsWith("the environment's sizes differ from the policy's", sizes.Message);
        }
    }

    [Fact]
    public void Regression_search_recovers_the_exact_gradient_of_a_linear_utility()
    {
        const double alpha = 0.2;
        var policy = new LinearGaussianPolicy(2, 1);
        double[] theta = [0.3, -0.5, 0.1];
        theta.CopyTo(policy.MeanParameters);
        var search = new FiniteDifferencePolicySearch(policy, new OneStepTask(false),
            new PolicySearchSettings(PolicySearchGradient.Regression, alpha, 0, 6, 0.1, Episodes, Seed));
        search.Update();

        // U = 0.7 (W·mean(s) + b) + 0.1 is linear, so ΔU = ΔΘ ∇U holds exactly and ΔΘ⁺ΔU = ∇U = 0.7 (mean s₀, mean s₁, 1).
        double m0 = 0, m1 = 0;
        for (int k = 0; k < Episodes; k++)
        {
            m0 += (float)Math.Sin(Seed + (ulong)k);
            m1 += (float)Math.Cos(2.0 * (Seed + (ulong)k));
        }
        double[] gradient = [0.7 * m0 / Episodes, 0.7 * m1 / Episodes, 0.7];
        FixedRollout.AssertClose(gradient, search.LastGradient, 1e-4, "ΔΘ⁺ΔU");
        double[] stepped = [.. theta.Select((t, j) => t + alpha * gradient[j])];
        FixedRollout.AssertClose(stepped, policy.MeanParameters, 1e-5, "θ + α∇U");
    }

    /// <summary>Counts steps and truncates every 3rd; observations (0.3·k, 1 − 0.2·k) for the k-th step of the episode.</summary>
    private sealed class TimeLimitedTask : IEnvironment
    {
        private static readonly float[] Low = [-1f], High = [1f];
        private int _k;

        public List<float[]> FinalObservations { get; } = [];
        public int ObservationSize => 2;
        public int ActionSize => 1;
        public ReadOnlySpan<float> ActionLow => Low;
        public ReadOnlySpan<float> ActionHigh => High;
        public int StateSize => 0;

        public void Reset(Span<float> observation, ulong? seed = null)
        {
            _k = 0;
            Write(observation);
        }

        public void ResetTo(ReadOnlySpan<double> state, Span<float> observation) => throw new NotSupportedException();
        public void ReadState(Span<double> state) { }

        public StepResult Step(ReadOnlySpan<float> action, Span<float> observation)
        {
            _k++;
            Write(observation);
            bool truncated = _k == 3;
            if (truncated) FinalObservations.Add(observation.ToArray());
            return new StepResult(1f, false, truncated);
        }

        private void Write(Span<float> observation)
        {
            observation[0] = 0.3f * _k;
            observation[1] = 1f - 0.2f * _k;
        }
    }

    /// <summary>Collects without learning, so the critic that filled the rollout is still there to check against.</summary>
    private sealed class CollectOnly : IPolicyGradientAlgorithm
    {
        public string Name => "collect-only";
        public ActorCritic Agent { get; } = new(2, 1, [4], [4], 8, 11, normalizeObservations: false);
        public RolloutSettings Rollout { get; } = new(1, 7, 0.9, false, 10f);
        public UpdateDiagnostics Update(RolloutBuffer rollout, int iteration, int iterations) => default;
    }

    [Fact]
    public void Trainer_stores_the_critic_value_of_the_final_observation_at_a_time_limit()
    {
        var algorithm = new CollectOnly();
        var task = new TimeLimitedTask();
        var trainer = new Trainer(algorithm, [task], 7, 5);
        trainer.RunIteration();
        RolloutBuffer rollout = trainer.Rollout;

        // Steps 2 and 5 end at the time limit; the final observation is (0.9, 0.4) both times.
        Assert.Equal([false, false, true, false, false, true, false], rollout.Truncated.ToArray());
        Assert.Equal(2, task.FinalObservations.Count);
        float expected = algorithm.Agent.Value.Predict(task.FinalObservations[0]);
        Assert.True(Math.Abs(expected) > 1e-3, "the check needs a critic value away from 0");
        Assert.Equal([0f, 0f, expected, 0f, 0f, expected, 0f], rollout.BootstrapValues.ToArray());
        // After the rollout: V of the observation the next rollout starts from (step 1 of a new episode: (0.3, 0.8)).
        Assert.Equal(algorithm.Agent.Value.Predict([0.3f, 0.8f]), rollout.LastValues[0]);
    }
}
