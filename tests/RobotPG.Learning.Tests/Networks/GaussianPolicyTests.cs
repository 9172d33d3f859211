using RobotPG.Learning.Networks;
using RobotPG.Numerics;
using Xunit;
using static RobotPG.Learning.Tests.Networks.ReferenceNetworks;

namespace RobotPG.Learning.Tests.Networks;

/// <summary>
/// The float32 policy against a double re-implementation: values to float rounding, gradients
/// against central differences (h = 1e-6 in double, truncation error ~1e-12). Gradient tolerance:
/// 2e-5·(1 + |g|) per component — float32 carries ~7 digits and a gradient entry sums a few dozen
/// rounded products (observed errors are ~1e-6), while a wrong term (a missing factor, a wrong
/// sign, a dropped layer) is off by O(|g|).
/// </summary>
public class GaussianPolicyTests
{
    private const int Obs = 3, Act = 2, Batch = 7;
    private static readonly int[] Hidden = [5, 4];
    private static readonly int[] Sizes = [Obs, 5, 4, Act];

    /// <summary>A policy with θ drawn at a scale that makes every nonlinearity matter.</summary>
    internal static GaussianPolicy MakePolicy(ulong seed, int maxBatch = 16)
    {
        var policy = new GaussianPolicy(Obs, Act, Hidden, maxBatch, seed);
        var prng = new Prng(seed + 1000);
        Span<float> theta = policy.Parameters;
        for (int i = 0; i < theta.Length; i++) theta[i] = (float)(0.6 * prng.NextGaussian());
        policy.LogStd[0] = 0.3f;
        policy.LogStd[1] = -0.4f;
        return policy;
    }

    internal static float[] RandomRows(int rows, int cols, ulong seed, double scale = 1.0)
    {
        var prng = new Prng(seed);
        var a = new float[rows * cols];
        for (int i = 0; i < a.Length; i++) a[i] = (float)(scale * prng.NextGaussian());
        return a;
    }

    private static double[] Row(float[] a, int row, int cols) => ToDouble(a.AsSpan(row * cols, cols));

    private static void AssertGradient(double[] expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        Assert.Contains(expected, g => Math.Abs(g) > 1e-2); // a vanishing gradient would prove nothing
        for (int k = 0; k < expected.Length; k++)
            Assert.True(Math.Abs(expected[k] - actual[k]) <= 2e-5 * (1 + Math.Abs(expected[k])),
                $"{what}[{k}]: finite difference {expected[k]}, analytic {actual[k]}");
    }

    [Fact]
    public void Mean_and_log_prob_match_the_double_reference()
    {
        var policy = MakePolicy(1);
        float[] obs = RandomRows(Batch, Obs, 2), actions = RandomRows(Batch, Act, 3);
        double[] theta = ToDouble(policy.Parameters);
        var mean = new float[Act];
        var batchMeans = new float[Batch * Act];
        var logProbs = new float[Batch];
        policy.MeanBatch(obs, Batch, batchMeans);
        policy.LogProbBatch(obs, actions, Batch, logProbs);
        for (int i = 0; i < Batch; i++)
        {
            double[] mu = PolicyMean(theta, Sizes, Row(obs, i, Obs));
            policy.Mean(obs.AsSpan(i * Obs, Obs), mean);
            for (int j = 0; j < Act; j++)
            {
                Assert.True(Math.Abs(mu[j] - mean[j]) <= 1e-5 * (1 + Math.Abs(mu[j])), $"μ[{i},{j}] {mu[j]} vs {mean[j]}");
                Assert.True(Math.Abs(mu[j] - batchMeans[i * Act + j]) <= 1e-5 * (1 + Math.Abs(mu[j])), $"batch μ[{i},{j}]");
            }
            double lp = LogProb(theta, Sizes, Row(obs, i, Obs), Row(actions, i, Act));
            Assert.True(Math.Abs(lp - logProbs[i]) <= 1e-5 * (1 + Math.Abs(lp)), $"log π[{i}] {lp} vs {logProbs[i]}");
            float single = policy.LogProb(obs.AsSpan(i * Obs, Obs), actions.AsSpan(i * Act, Act));
            Assert.True(Math.Abs(lp - single) <= 1e-5 * (1 + Math.Abs(lp)), $"single log π[{i}]");
        }
    }

    [Fact]
    public void Log_prob_gradient_matches_finite_differences()
    {
        var policy = MakePolicy(4);
        float[] obs = RandomRows(Batch, Obs, 5), actions = RandomRows(Batch, Act, 6);
        float[] weights = RandomRows(Batch, 1, 7);
        var logProbs = new float[Batch];
        policy.ZeroGradients();
        policy.LogProbBatch(obs, actions, Batch, logProbs);
        policy.AccumulateLogProbGradient(weights, Batch);

        double Objective(double[] t)
        {
            double s = 0;
            for (int i = 0; i < Batch; i++) s += weights[i] * LogProb(t, Sizes, Row(obs, i, Obs), Row(actions, i, Act));
            return s;
        }
        AssertGradient(Gradient(Objective, ToDouble(policy.Parameters)), policy.Gradients, "∇Σw log π");
    }

    [Fact]
    public void Log_prob_gradient_accumulates()
    {
        var policy = MakePolicy(8);
        float[] obs = RandomRows(Batch, Obs, 9), actions = RandomRows(Batch, Act, 10), weights = RandomRows(Batch, 1, 11);
        var logProbs = new float[Batch];
        policy.ZeroGradients();
        policy.LogProbBatch(obs, actions, Batch, logProbs);
        policy.AccumulateLogProbGradient(weights, Batch);
        float[] once = policy.Gradients.ToArray();
        policy.AccumulateLogProbGradient(weights, Batch);
        for (int k = 0; k < once.Length; k++) Assert.Equal(2 * once[k], policy.Gradients[k], 1e-5f * (1 + Math.Abs(once[k])));
        Assert.Contains(once, g => Math.Abs(g) > 1e-3f);
    }

    [Fact]
    public void Entropy_and_its_gradient_match_the_reference()
    {
        var policy = MakePolicy(12);
        double[] theta = ToDouble(policy.Parameters);
        Assert.Equal(Entropy(theta, Sizes), policy.Entropy(), 1e-5);
        policy.ZeroGradients();
        policy.AccumulateEntropyGradient(0.25f);
        double[] fd = Gradient(t => 0.25 * Entropy(t, Sizes), theta);
        AssertGradient(fd, policy.Gradients, "∇H");
        Assert.Equal(0.25f, policy.Gradients[policy.MeanParameterCount], 1e-6f);
    }

    [Fact]
    public void Kl_and_its_gradient_match_the_reference()
    {
        var oldPolicy = MakePolicy(13);
        var policy = MakePolicy(14);
        float[] obs = RandomRows(Batch, Obs, 15);
        double[] oldTheta = ToDouble(oldPolicy.Parameters);
        int m = policy.MeanParameterCount;

        double MeanKl(double[] t)
        {
            double s = 0;
            for (int i = 0; i < Batch; i++)
            {
                double[] o = Row(obs, i, Obs);
                s += Kl(PolicyMean(oldTheta, Sizes, o), oldTheta.AsSpan(m, Act), PolicyMean(t, Sizes, o), t.AsSpan(m, Act));
            }
            return s / Batch;
        }

        double[] theta = ToDouble(policy.Parameters);
        float kl = policy.KlDivergence(oldPolicy, obs, Batch);
        double expected = MeanKl(theta);
        Assert.True(expected > 0.01, "the two policies must differ for this test to mean anything");
        Assert.True(Math.Abs(expected - kl) <= 1e-5 * (1 + expected), $"KL {expected} vs {kl}");

        policy.ZeroGradients();
        policy.AccumulateKlGradient(1.5f);
        double[] fd = Gradient(t => 1.5 * MeanKl(t), theta);
        AssertGradient(fd, policy.Gradients, "∇KL");

        // The same through saved means and log σ.
        var oldMeans = new float[Batch * Act];
        oldPolicy.MeanBatch(obs, Batch, oldMeans);
        Assert.Equal(kl, policy.KlDivergence(oldMeans, oldPolicy.LogStd, obs, Batch), 1e-6f);
    }

    [Fact]
    public void Kl_to_itself_is_zero_with_zero_gradient()
    {
        var policy = MakePolicy(16);
        var copy = MakePolicy(99);
        copy.CopyFrom(policy);
        float[] obs = RandomRows(Batch, Obs, 17);
        Assert.Equal(0f, policy.KlDivergence(copy, obs, Batch), 1e-6f);
        policy.ZeroGradients();
        policy.AccumulateKlGradient(1f);
        foreach (float g in policy.Gradients) Assert.Equal(0f, g, 1e-6f);
    }

    [Fact]
    public void Fisher_vector_product_matches_the_explicit_fisher_matrix()
    {
        var policy = MakePolicy(18);
        float[] obs = RandomRows(Batch, Obs, 19);
        double[] theta = ToDouble(policy.Parameters);
        int p = policy.ParameterCount, m = policy.MeanParameterCount;

        // F = E_s E_a[∇log π ∇log πᵀ]. For a Gaussian with state-independent σ the inner expectation is
        // exact in closed form: the score is (Jᵀ(a−μ)/σ², ((a−μ)²/σ² − 1)), whose second moments give
        // Jᵀ diag(1/σ²) J on the mean block, 2 on each log σ, 0 across (odd Gaussian moments).
        // J = ∂μ/∂θ per state comes from central differences of the double reference.
        var fisher = new double[p, p];
        for (int i = 0; i < Batch; i++)
        {
            double[] o = Row(obs, i, Obs);
            var jac = new double[Act, m];
            for (int k = 0; k < m; k++)
            {
                double saved = theta[k];
                theta[k] = saved + 1e-6;
                double[] plus = PolicyMean(theta, Sizes, o);
                theta[k] = saved - 1e-6;
                double[] minus = PolicyMean(theta, Sizes, o);
                theta[k] = saved;
                for (int j = 0; j < Act; j++) jac[j, k] = (plus[j] - minus[j]) / 2e-6;
            }
            for (int j = 0; j < Act; j++)
            {
                double invVar = Math.Exp(-2 * theta[m + j]);
                for (int a = 0; a < m; a++)
                    for (int b = 0; b < m; b++)
                        fisher[a, b] += jac[j, a] * invVar * jac[j, b] / Batch;
            }
        }
        for (int j = 0; j < Act; j++) fisher[m + j, m + j] = 2;

        float[] v = RandomRows(p, 1, 20);
        var result = new float[p];
        const float damping = 0.1f;
        policy.FisherVectorProduct(obs, Batch, v, result, damping);
        for (int a = 0; a < p; a++)
        {
            double expected = damping * v[a], scale = Math.Abs(expected);
            for (int b = 0; b < p; b++)
            {
                expected += fisher[a, b] * v[b];
                scale += Math.Abs(fisher[a, b] * v[b]);
            }
            Assert.True(Math.Abs(expected - result[a]) <= 2e-5 * (1 + scale), $"(F+λI)v [{a}]: expected {expected}, got {result[a]}");
        }

        // The prepared form (one forward pass, many products, as conjugate gradient uses it) agrees exactly.
        policy.PrepareFisher(obs, Batch);
        var again = new float[p];
        policy.FisherVectorProduct(v, again, damping);
        policy.FisherVectorProduct(v, again, damping);
        Assert.Equal(result, again);
    }

    [Fact]
    public void Sample_draws_from_the_policy_and_returns_its_log_prob()
    {
        var policy = MakePolicy(21);
        float[] obs = RandomRows(1, Obs, 22);
        var mean = new float[Act];
        policy.Mean(obs, mean);
        var prng = new Prng(23);
        var action = new float[Act];
        const int n = 20000;
        var sum = new double[Act];
        var sumSq = new double[Act];
        for (int s = 0; s < n; s++)
        {
            float lp = policy.Sample(obs, action, ref prng);
            if (s < 50) Assert.Equal(policy.LogProb(obs, action), lp, 1e-4f);
            for (int j = 0; j < Act; j++) { sum[j] += action[j]; sumSq[j] += action[j] * action[j]; }
        }
        for (int j = 0; j < Act; j++)
        {
            double sigma = Math.Exp(policy.LogStd[j]);
            double mu = sum[j] / n, sd = Math.Sqrt(sumSq[j] / n - mu * mu);
            // Standard errors: σ/√n for the mean, σ/√(2n) for the std; allow 5 of them.
            Assert.True(Math.Abs(mu - mean[j]) <= 5 * sigma / Math.Sqrt(n), $"sample mean {mu} vs μ {mean[j]}");
            Assert.True(Math.Abs(sd - sigma) <= 5 * sigma / Math.Sqrt(2.0 * n), $"sample std {sd} vs σ {sigma}");
        }
    }

    [Fact]
    public void Initialisation_is_orthogonal_with_small_head_and_unit_std()
    {
        var policy = new GaussianPolicy(24, 4, [64, 64], 8, 42);
        Mlp net = policy.MeanNetwork;
        foreach (float ls in policy.LogStd) Assert.Equal(0f, ls);
        for (int l = 0; l < net.LayerCount; l++)
        {
            foreach (float b in net.Biases(l)) Assert.Equal(0f, b);
            int rows = net.LayerSize(l + 1), cols = net.LayerSize(l);
            double gain = l == net.LayerCount - 1 ? 0.01 : Math.Sqrt(2);
            var w = MathNet.Numerics.LinearAlgebra.Matrix<double>.Build.Dense(rows, cols, (r, c) => net.Weights(l)[r * cols + c]);
            // Orthonormal rows when wide, orthonormal columns when tall, scaled by the gain.
            var gram = rows <= cols ? w * w.Transpose() : w.Transpose() * w;
            int k = Math.Min(rows, cols);
            for (int a = 0; a < k; a++)
                for (int b = 0; b < k; b++)
                    Assert.True(Math.Abs(gram[a, b] - (a == b ? gain * gain : 0)) <= 1e-5 * gain * gain, $"layer {l} gram[{a},{b}] = {gram[a, b]}");
        }
        // Seeded: the same seed gives the same θ, another seed another θ.
        var same = new GaussianPolicy(24, 4, [64, 64], 8, 42);
        var other = new GaussianPolicy(24, 4, [64, 64], 8, 43);
        Assert.True(policy.Parameters.SequenceEqual(same.Parameters));
        Assert.False(policy.Parameters.SequenceEqual(other.Parameters));
    }

    [Fact]
    public void Gradient_calls_require_their_batch()
    {
        var policy = MakePolicy(24);
        float[] obs = RandomRows(Batch, Obs, 25), actions = RandomRows(Batch, Act, 26);
        var logProbs = new float[Batch];
        Assert.Throws<InvalidOperationException>(() => policy.AccumulateLogProbGradient(new float[Batch], Batch));
        policy.LogProbBatch(obs, actions, Batch, logProbs);
        Assert.Throws<InvalidOperationException>(() => policy.AccumulateLogProbGradient(new float[Batch], Batch - 1));
        policy.MeanBatch(obs, Batch, new float[Batch * Act]);
        Assert.Throws<InvalidOperationException>(() => policy.AccumulateLogProbGradient(new float[Batch], Batch));
        Assert.Throws<ArgumentOutOfRangeException>(() => policy.MeanBatch(new float[17 * Obs], 17, new float[17 * Act]));
    }
}
