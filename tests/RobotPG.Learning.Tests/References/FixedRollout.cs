using MathNet.Numerics.LinearAlgebra;
using RobotPG.Learning.Networks;
using RobotPG.Learning.Rollouts;
using RobotPG.Learning.Tests.Networks;

namespace RobotPG.Learning.Tests.References;

/// <summary>
/// One small fixed rollout of 2 environments × 4 steps (step-major index i = 2t + e), observations of 2,
/// actions of 1, and the double-precision pieces the algorithm reference tests build from it. Its runs
/// are written out by hand, not derived by the code under test:
///   env 0: i0, i2 (terminated)          | i4, i6 (cut by the rollout's end, last value 0.7)
///   env 1: i1 (truncated, V(final) 1.5) | i3, i5, i7 (cut, last value −0.4)
/// </summary>
internal static class FixedRollout
{
    public const int EnvironmentCount = 2, Steps = 4, ObservationSize = 2, ActionSize = 1, Count = EnvironmentCount * Steps;
    public static readonly int[] Hidden = [3];
    public static readonly int[] PolicySizes = [ObservationSize, 3, ActionSize];

    public static readonly double[] Rewards = [1.0, 0.5, 2.0, 1.5, 0.8, -0.3, 1.2, 0.9];
    public static readonly double[] Values = [0.3, -0.2, 0.9, 0.4, 0.1, 0.6, -0.5, 0.2];
    public static readonly bool[] Terminated = [false, false, true, false, false, false, false, false];
    public static readonly bool[] Truncated = [false, true, false, false, false, false, false, false];
    public static readonly double[] BootstrapValues = [0, 1.5, 0, 0, 0, 0, 0, 0];
    public static readonly double[] LastValues = [0.7, -0.4];

    /// <summary>Runs (trajectory pieces) in time order, with the value each return continues with.</summary>
    public static readonly int[][] Runs = [[0, 2], [4, 6], [1], [3, 5, 7]];
    public static readonly double[] RunBootstrap = [0, 0.7, 1.5, -0.4];

    public static double[] Observation(int i) => [0.5 * Math.Sin(1.3 * i + 0.2), 0.8 * Math.Cos(0.7 * i)];

    public static double Action(int i) => Action(i, 0);

    /// <summary>Component j of action i (the 2-action variant's second component is a phase-shifted copy).</summary>
    public static double Action(int i, int j) => 0.6 * Math.Sin(2.1 * i + 1 + 0.9 * j);

    public static double[] Actions(int i, int actions) => [.. Enumerable.Range(0, actions).Select(j => Action(i, j))];

    /// <summary>Layer sizes of the policy's mean network for <paramref name="actions"/> action components.</summary>
    public static int[] PolicySizesFor(int actions) => [ObservationSize, 3, actions];

    /// <summary>
    /// The rollout as a trainer would record it: log-probs from <paramref name="policy"/> at its current θ,
    /// plus <paramref name="logProbOffsets"/> (a behaviour policy other than θ); values as given.
    /// </summary>
    public static RolloutBuffer Build(GaussianPolicy policy, double[] values, double[]? logProbOffsets = null, double[]? lastValues = null)
    {
        int actions = policy.ActionSize;
        var rollout = new RolloutBuffer(Steps, EnvironmentCount, ObservationSize, actions);
        for (int i = 0; i < Count; i++)
        {
            double[] s = Observation(i);
            rollout.Observation(i)[0] = (float)s[0];
            rollout.Observation(i)[1] = (float)s[1];
            for (int j = 0; j < actions; j++) rollout.Action(i)[j] = (float)Action(i, j);
            float logProb = policy.LogProb(rollout.Observation(i), rollout.Action(i)) + (float)(logProbOffsets?[i] ?? 0);
            rollout.Record(i, logProb, (float)values[i], (float)Rewards[i], Terminated[i], Truncated[i], (float)BootstrapValues[i]);
        }
        rollout.LastValues[0] = (float)(lastValues ?? LastValues)[0];
        rollout.LastValues[1] = (float)(lastValues ?? LastValues)[1];
        return rollout;
    }

    /// <summary>θ as doubles (exactly the float values).</summary>
    public static double[] Theta(GaussianPolicy policy) => ReferenceNetworks.ToDouble(policy.Parameters);

    public static double LogProb(double[] theta, int i, int actions = ActionSize) =>
        ReferenceNetworks.LogProb(theta, PolicySizesFor(actions), Observation(i), Actions(i, actions));

    /// <summary>Row i = ∇θ log π_θ(aᵢ|sᵢ) by central differences of the double-precision reference network.</summary>
    public static Matrix<double> Scores(double[] theta, int actions = ActionSize)
    {
        var scores = Matrix<double>.Build.Dense(Count, theta.Length);
        for (int i = 0; i < Count; i++)
        {
            int step = i;
            double[] row = ReferenceNetworks.Gradient(t => LogProb(t, step, actions), theta);
            scores.SetRow(i, row);
        }
        return scores;
    }

    /// <summary>Σᵢ wᵢ ∇log π(aᵢ|sᵢ) · scale.</summary>
    public static double[] WeightedScore(Matrix<double> scores, double[] weights, double scale) =>
        (scores.TransposeThisAndMultiply(Vector<double>.Build.DenseOfArray(weights)) * scale).ToArray();

    /// <summary>Reward-to-go per run, continuing with <paramref name="bootstrap"/>[run] after the run's last step.</summary>
    public static double[] RewardToGo(double[] rewards, double gamma, double[] bootstrap)
    {
        var g = new double[Count];
        for (int r = 0; r < Runs.Length; r++)
        {
            double toGo = bootstrap[r];
            for (int k = Runs[r].Length - 1; k >= 0; k--)
            {
                toGo = rewards[Runs[r][k]] + gamma * toGo;
                g[Runs[r][k]] = toGo;
            }
        }
        return g;
    }

    /// <summary>GAE(γ, λ) per run: δ = r + γV(next) − V, next = the run's bootstrap after its last step.</summary>
    public static double[] Gae(double[] values, double gamma, double lambda, double[] bootstrap)
    {
        var adv = new double[Count];
        for (int r = 0; r < Runs.Length; r++)
        {
            int[] run = Runs[r];
            double carried = 0;
            for (int k = run.Length - 1; k >= 0; k--)
            {
                double next = k == run.Length - 1 ? bootstrap[r] : values[run[k + 1]];
                double delta = Rewards[run[k]] + gamma * next - values[run[k]];
                carried = delta + gamma * lambda * carried;
                adv[run[k]] = carried;
            }
        }
        return adv;
    }

    /// <summary>(x − mean)/(sample std + 1e-8), as torch's <c>(a − a.mean())/(a.std() + 1e-8)</c>.</summary>
    public static double[] Standardized(double[] x)
    {
        double mean = x.Average();
        double std = Math.Sqrt(x.Sum(v => (v - mean) * (v - mean)) / (x.Length - 1));
        return [.. x.Select(v => (v - mean) / (std + 1e-8))];
    }

    /// <summary>Asserts |actual − expected| ≤ relative · max(1, max|expected|) component by component.</summary>
    public static void AssertClose(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, double relative, string what)
    {
        Xunit.Assert.Equal(expected.Length, actual.Length);
        double scale = 1;
        foreach (double e in expected) scale = Math.Max(scale, Math.Abs(e));
        for (int j = 0; j < expected.Length; j++)
            if (!(Math.Abs(actual[j] - expected[j]) <= relative * scale))
                Xunit.Assert.Fail($"{what}[{j}]: expected {expected[j]:G9}, got {actual[j]:G9} (tolerance {relative * scale:G3})");
    }

    public static void AssertClose(ReadOnlySpan<double> expected, ReadOnlySpan<double> actual, double relative, string what)
    {
        var f = new float[actual.Length];
        for (int i = 0; i < f.Length; i++) f[i] = (float)actual[i];
        AssertClose(expected, f, relative, what);
    }

    /// <summary>
    /// Adam's first step from θ₀ with the gradient g the optimiser was given: m̂ = g, v̂ = g² after bias
    /// correction, so θ₁ = θ₀ − lr·g/(|g| + ε). Checks that the gradient was applied, once, with the set rate.
    /// </summary>
    public static void AssertAdamFirstStep(double[] theta0, GaussianPolicy policy, double learningRate, double epsilon = 1e-5)
    {
        ReadOnlySpan<float> g = policy.Gradients, theta1 = policy.Parameters;
        for (int j = 0; j < theta0.Length; j++)
        {
            double expected = theta0[j] - learningRate * g[j] / (Math.Abs(g[j]) + epsilon);
            if (!(Math.Abs(theta1[j] - expected) <= 1e-6 + 1e-6 * Math.Abs(expected)))
                Xunit.Assert.Fail($"θ₁[{j}]: expected {expected:G9} (Adam's first step), got {theta1[j]:G9}");
        }
    }
}
