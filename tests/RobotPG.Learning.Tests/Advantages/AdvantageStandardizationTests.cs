using MathNet.Numerics.Statistics;
using RobotPG.Learning.Advantages;
using Xunit;

namespace RobotPG.Learning.Tests.Advantages;

// Reference: MathNet's sample mean and sample (n − 1) standard deviation in double, then (a − mean)/(std + 1e-8).
public class AdvantageStandardizationTests
{
    private static double[] Reference(float[] a)
    {
        double[] x = Array.ConvertAll(a, v => (double)v);
        double mean = x.Mean(), std = x.StandardDeviation();
        return Array.ConvertAll(x, v => (v - mean) / (std + 1e-8));
    }

    [Fact]
    public void ABatchFarFromZeroIsCentredOnItsOwnMean()
    {
        // Mean 40.3, spread ~2: a formula that forgot the mean (or added it) would be off by ~20 per entry.
        float[] a = [41.5f, 38.25f, 40f, 43.75f, 39.5f, 38.8f];
        double[] expected = Reference(a);
        AdvantageStandardization.Standardize(a);
        for (int i = 0; i < a.Length; i++) Assert.Equal(expected[i], a[i], 1e-6);
    }

    [Fact]
    public void TheEpsilonKeepsANearlyConstantBatchFinite()
    {
        // Spread 7.07e-9 is below the 1e-8 guard: (0 − 5e-9)/(7.07e-9 + 1e-8) = −0.2929, not the ±0.707 of a
        // bare std nor the −1.707 of std − 1e-8.
        float[] a = [0f, 1e-8f];
        double[] expected = Reference(a);
        Assert.Equal(-0.29289, expected[0], 1e-4); // the reference itself, by hand: 5e-9 / (√2·5e-9 + 1e-8)
        AdvantageStandardization.Standardize(a);
        Assert.Equal(expected[0], a[0], 1e-6);
        Assert.Equal(expected[1], a[1], 1e-6);
    }
}
