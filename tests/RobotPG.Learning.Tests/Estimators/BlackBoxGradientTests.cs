using MathNet.Numerics.LinearAlgebra;
using RobotPG.Learning.Estimators;
using RobotPG.Numerics;
using Xunit;

namespace RobotPG.Learning.Tests.Estimators;

/// <summary>Note 002's finite-difference and regression gradients, and the least squares beneath the latter.</summary>
public class BlackBoxGradientTests
{
    /// <summary>U(θ) = −½ (θ − c)ᵀ H (θ − c) + k: ∇U = −H (θ − c), exact closed form.</summary>
    private sealed class Quadratic(double[] h, double[] c) : IPolicyUtility
    {
        public int Calls;

        public double Evaluate(ReadOnlySpan<double> theta)
        {
            Calls++;
            int n = c.Length;
            double value = 3.0;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++) value -= 0.5 * (theta[i] - c[i]) * h[i * n + j] * (theta[j] - c[j]);
            return value;
        }

        public double[] Gradient(double[] theta)
        {
            int n = c.Length;
            double[] g = new double[n];
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++) g[i] -= h[i * n + j] * (theta[j] - c[j]);
            return g;
        }
    }

    private static readonly double[] H = [2.0, 0.5, 0.0, 0.5, 1.0, 0.2, 0.0, 0.2, 3.0];
    private static readonly double[] Center = [1.0, -2.0, 0.5];
    private static readonly double[] Theta = [0.3, 0.1, -0.4];

    [Fact]
    public void ForwardDifferencesMatchTheGradientToOrderDelta()
    {
        var utility = new Quadratic(H, Center);
        double[] exact = utility.Gradient(Theta);
        foreach (double delta in new[] { 1e-2, 1e-4 })
        {
            var fd = new FiniteDifferenceGradient(3, delta);
            double[] g = new double[3];
            utility.Calls = 0;
            double u = fd.Estimate(ref utility, Theta, g);
            Assert.Equal(4, utility.Calls); // U(θ) and one per parameter
            Assert.Equal(utility.Evaluate(Theta), u, 12);
            // Forward differences of a quadratic err by exactly −½ δ H_jj.
            for (int j = 0; j < 3; j++) Assert.Equal(exact[j] - 0.5 * delta * H[j * 3 + j], g[j], 6);
        }
    }

    [Fact]
    public void RegressionGradientEqualsPseudoinverseSolution()
    {
        var utility = new Quadratic(H, Center);
        var regression = new RegressionGradient(3, 12, 0.01);
        var rng = new Prng(4);
        double[] g = new double[3];
        regression.Estimate(ref utility, Theta, ref rng, g);

        // Reference: MathNet's pseudoinverse of the same ΔΘ times the same ΔU.
        var dTheta = Matrix<double>.Build.DenseOfRowMajor(12, 3, regression.Perturbations.ToArray());
        var dU = Vector<double>.Build.DenseOfArray(regression.UtilityChanges.ToArray());
        var reference = dTheta.PseudoInverse() * dU;
        for (int j = 0; j < 3; j++) Assert.Equal(reference[j], g[j], 9);
        // And it is close to ∇U: the quadratic term of ΔU is O(σ²) against O(σ) for the linear one.
        double[] exact = utility.Gradient(Theta);
        for (int j = 0; j < 3; j++) Assert.Equal(exact[j], g[j], 1);
    }

    [Theory]
    [InlineData(5, 5)]
    [InlineData(40, 7)]
    [InlineData(200, 21)]
    public void HouseholderLeastSquaresMatchesMathNetPseudoinverse(int rows, int columns)
    {
        var rng = new Prng((ulong)(rows * 31 + columns));
        double[] a = new double[rows * columns], b = new double[rows], x = new double[columns];
        for (int i = 0; i < a.Length; i++) a[i] = rng.NextGaussian();
        for (int i = 0; i < rows; i++) b[i] = rng.NextGaussian();
        var solver = new HouseholderLeastSquares(rows, columns);
        Assert.True(solver.Solve(a, b, x));
        var reference = Matrix<double>.Build.DenseOfRowMajor(rows, columns, a).PseudoInverse() * Vector<double>.Build.DenseOfArray(b);
        for (int j = 0; j < columns; j++) Assert.Equal(reference[j], x[j], 9);
        long before = GC.GetAllocatedBytesForCurrentThread();
        solver.Solve(a, b, x);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void HouseholderRefusesRankDeficientMatrix()
    {
        // Second column = 2 × first.
        double[] a = [1, 2, 2, 4, 3, 6], x = new double[2];
        Assert.False(new HouseholderLeastSquares(3, 2).Solve(a, [1, 2, 3], x));
        Assert.Throws<ArgumentException>(() => new HouseholderLeastSquares(2, 3));
        Assert.Throws<ArgumentException>(() => new RegressionGradient(4, 3, 0.1));
    }
}
