using RobotPG.Learning.Normalization;
using RobotPG.Numerics;
using Xunit;

namespace RobotPG.Learning.Tests.Normalization;

/// <summary>
/// Running statistics against the closed form over the pooled data: k instances each carry a prior
/// of weight 1e-4 at mean 0, variance 1, so with W = N + k·1e-4, mean = Σx / W and
/// var = (Σ(x − mean)² + k·1e-4·(1 + mean²)) / W. Computed in double from the raw samples.
/// </summary>
public class NormalizationTests
{
    private static float[] Samples(int rows, int cols, ulong seed)
    {
        var prng = new Prng(seed);
        var a = new float[rows * cols];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                a[i * cols + j] = (float)(100 * j + (j + 1) * 3 * prng.NextGaussian()); // offsets stress the update
        return a;
    }

    private static (double Mean, double Variance) Pooled(float[] data, int cols, int j, int priors)
    {
        int rows = data.Length / cols;
        double w = rows + priors * RunningMeanStd.InitialCount, sum = 0;
        for (int i = 0; i < rows; i++) sum += data[i * cols + j];
        double mean = sum / w, m2 = priors * RunningMeanStd.InitialCount * (1 + mean * mean);
        for (int i = 0; i < rows; i++) m2 += (data[i * cols + j] - mean) * (data[i * cols + j] - mean);
        return (mean, m2 / w);
    }

    [Fact]
    public void Batches_and_single_samples_give_the_pooled_statistics()
    {
        const int cols = 3;
        float[] data = Samples(1000, cols, 1);
        var batched = new RunningMeanStd(cols);
        batched.Update(data.AsSpan(0, 300 * cols), 300);
        batched.Update(data.AsSpan(300 * cols, 1 * cols), 1);
        batched.Update(data.AsSpan(301 * cols), 699);
        var single = new RunningMeanStd(cols);
        for (int i = 0; i < 1000; i++) single.Update(data.AsSpan(i * cols, cols));
        for (int j = 0; j < cols; j++)
        {
            var (mean, variance) = Pooled(data, cols, j, priors: 1);
            Assert.Equal(mean, batched.Mean[j], 1e-9 * (1 + Math.Abs(mean)));
            Assert.Equal(variance, batched.Variance[j], 1e-9 * variance);
            Assert.Equal(mean, single.Mean[j], 1e-9 * (1 + Math.Abs(mean)));
            Assert.Equal(variance, single.Variance[j], 1e-9 * variance);
        }
        Assert.Equal(1000 + RunningMeanStd.InitialCount, batched.Count, 1e-9);
    }

    [Fact]
    public void Merge_of_two_workers_equals_the_pooled_statistics()
    {
        const int cols = 2;
        float[] data = Samples(500, cols, 2);
        var first = new RunningMeanStd(cols);
        var second = new RunningMeanStd(cols);
        first.Update(data.AsSpan(0, 200 * cols), 200);
        second.Update(data.AsSpan(200 * cols), 300);
        first.Merge(second);
        for (int j = 0; j < cols; j++)
        {
            var (mean, variance) = Pooled(data, cols, j, priors: 2);
            Assert.Equal(mean, first.Mean[j], 1e-9 * (1 + Math.Abs(mean)));
            Assert.Equal(variance, first.Variance[j], 1e-9 * variance);
        }
    }

    [Fact]
    public void Normalize_standardises_and_clips()
    {
        var rms = new RunningMeanStd(2);
        rms.Restore([1.0, -2.0], [4.0, 0.25], 10);
        var output = new float[2];
        rms.Normalize([3f, -2.5f], output);
        Assert.Equal(2 / Math.Sqrt(4 + 1e-8), output[0], 1e-6);
        Assert.Equal(-0.5 / Math.Sqrt(0.25 + 1e-8), output[1], 1e-6);
        Assert.Throws<ArgumentException>(() => rms.Update(new float[3])); // a sample of the wrong size
        rms.Normalize([100f, -2f], output, clip: 10f);
        Assert.Equal(10f, output[0]);
        Assert.Equal(0f, output[1]);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++) rms.Normalize([3f, 1f], output, 10f);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Reward_scaler_follows_gymnasium_normalize_reward()
    {
        const double gamma = 0.9;
        var scaler = new RewardScaler(gamma);
        var prng = new Prng(3);
        var returns = new List<float>();
        double g = 0;
        for (int t = 0; t < 200; t++)
        {
            float r = (float)(1 + prng.NextGaussian());
            bool terminated = t % 37 == 36;
            g = g * gamma * (terminated ? 0 : 1) + r;
            returns.Add((float)g);
            var (_, variance) = Pooled(returns.ToArray(), 1, 0, priors: 1);
            float scaled = scaler.Scale(r, terminated);
            Assert.Equal(r / Math.Sqrt(variance + 1e-8), scaled, 1e-5 * (1 + Math.Abs(scaled)));
        }
        Assert.Equal(g, scaler.DiscountedReturn, 1e-4);
    }
}
