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

    [Fact]
    public void RegressionWithAsManyPerturbationsAsParametersSolvesTheSquareSystem()
    {
        // m = n is the smallest allowed: ΔΘ is square and ∇U = ΔΘ⁻¹ΔU exactly.
        var utility = new Quadratic(H, Center);
        var regression = new RegressionGradient(3, 3, 0.01);
        var rng = new Prng(11);
        double[] g = new double[3];
        double u = regression.Estimate(ref utility, Theta, ref rng, g);
        Assert.Equal(utility.Evaluate(Theta), u, 12);
        var dTheta = Matrix<double>.Build.DenseOfRowMajor(3, 3, regression.Perturbations.ToArray());
        var reference = dTheta.Solve(Vector<double>.Build.DenseOfArray(regression.UtilityChanges.ToArray()));
        for (int j = 0; j < 3; j++) Assert.Equal(reference[j], g[j], 8);
    }

    [Fact]
    public void RegressionReportsNaNAndAZeroGradientWhenThePerturbationsVanish()
    {
        // σ = 1e-300: every ΔΘ entry squares to 0 in double, so ΔΘ is numerically rank 0 and no gradient exists.
        var utility = new Quadratic(H, Center);
        var regression = new RegressionGradient(3, 4, 1e-300);
        var rng = new Prng(2);
        double[] g = [9, 9, 9];
        Assert.True(double.IsNaN(regression.Estimate(ref utility, Theta, ref rng, g)));
        Assert.Equal([0.0, 0.0, 0.0], g);
    }

    [Fact]
    public void HouseholderRefusesAColumnDependenceBelowItsRelativeTolerance()
    {
        // A 200×2 matrix [1, 1 + εe] (e ⟂ 1, ‖e‖ = 1): the second column's part off the first is ε. Full column rank
        // is judged against max|A|·max(m, n)·1e-13 = 2e-11: ε = 1e-11 is rank deficient, ε = 1e-6 solves.
        const int m = 200;
        double[] e = new double[m];
        for (int i = 0; i < m; i++) e[i] = (i % 2 == 0 ? 1 : -1) / Math.Sqrt(m);
        double[] b = new double[m];
        for (int i = 0; i < m; i++) b[i] = i % 3;
        var solver = new HouseholderLeastSquares(m, 2);
        bool Solve(double epsilon, double[] x)
        {
            double[] a = new double[2 * m];
            for (int i = 0; i < m; i++)
            {
                a[2 * i] = 1;
                a[2 * i + 1] = 1 + epsilon * e[i];
            }
            return solver.Solve(a, b, x);
        }
        double[] x = [3, 4];
        Assert.False(Solve(1e-11, x));
        Assert.Equal([3.0, 4.0], x); // untouched
        Assert.True(Solve(1e-6, x));
        // Least squares on [1, 1 + εe]: x₁ = (eᵀb)/ε, x₀ = mean(b) − x₁ (the columns are 1 and εe after elimination).
        double eb = 0, mean = 0;
        for (int i = 0; i < m; i++) { eb += e[i] * b[i]; mean += b[i] / m; }
        Assert.Equal(eb / 1e-6, x[1], Math.Abs(eb / 1e-6) * 1e-6);
        Assert.Equal(mean - eb / 1e-6, x[0], Math.Abs(eb / 1e-6) * 1e-6);
    }

    [Fact]
    public void HouseholderRefusesTheZeroMatrix()
    {
        double[] x = [3, 4];
        Assert.False(new HouseholderLeastSquares(3, 2).Solve(new double[6], [1, 2, 3], x));
        Assert.Equal([3.0, 4.0], x);
    }

    [Fact]
    public void HouseholderSolvesColumnsThatAreAlreadyMultiplesOfTheFirstUnitVector()
    {
        // Upper triangular A: each column below the diagonal is already a positive multiple of e₁, where a reflection
        // onto +‖x‖e₁ would be the zero vector (0/0); the sign is chosen opposite to the diagonal entry.
        double[] a = [2, 1, 0, 3, 0, 0], x = new double[2];
        Assert.True(new HouseholderLeastSquares(3, 2).Solve(a, [1, 2, 5], x));
        Assert.Equal(1.0 / 6, x[0], 14); // [2 1; 0 3] x = (1, 2); the third row's 5 is the residual
        Assert.Equal(2.0 / 3, x[1], 14);
    }

    [Fact]
    public void RefusesBadSettingsAndSpansOfTheWrongLength()
    {
        Assert.Equal("parameterCount", Assert.Throws<ArgumentOutOfRangeException>(() => new FiniteDifferenceGradient(0, 0.1)).ParamName);
        foreach (double delta in new[] { 0.0, -0.1, double.PositiveInfinity, double.NaN })
            Rejects.With<ArgumentOutOfRangeException>(() => new FiniteDifferenceGradient(2, delta), "δ must be positive and finite");
        var fd = new FiniteDifferenceGradient(2, 0.1);
        void Differences(double[] theta, double[] gradient)
        {
            var utility = new Quadratic([1, 0, 0, 1], [0, 0]);
            fd.Estimate(ref utility, theta, gradient);
        }
        Rejects.With<ArgumentException>(() => Differences(new double[3], new double[2]), "over 2 parameters got θ of 3 and ∇ of 2");
        Rejects.With<ArgumentException>(() => Differences(new double[2], new double[1]), "over 2 parameters got θ of 2 and ∇ of 1");

        Assert.Equal("parameterCount", Assert.Throws<ArgumentOutOfRangeException>(() => new RegressionGradient(0, 3, 0.1)).ParamName);
        Rejects.With<ArgumentException>(() => new RegressionGradient(4, 3, 0.1), "(m = 3 < n = 4)");
        foreach (double sigma in new[] { 0.0, -0.1, double.PositiveInfinity, double.NaN })
            Rejects.With<ArgumentOutOfRangeException>(() => new RegressionGradient(2, 3, sigma), "must be positive and finite");
        var regression = new RegressionGradient(2, 3, 0.1);
        void Regress(double[] theta, double[] gradient)
        {
            var utility = new Quadratic([1, 0, 0, 1], [0, 0]);
            var rng = new Prng(1);
            regression.Estimate(ref utility, theta, ref rng, gradient);
        }
        Rejects.With<ArgumentException>(() => Regress(new double[3], new double[2]), "over 2 parameters got θ of 3 and ∇ of 2");
        Rejects.With<ArgumentException>(() => Regress(new double[2], new double[1]), "over 2 parameters got θ of 2 and ∇ of 1");

        Assert.Equal("columns", Assert.Throws<ArgumentOutOfRangeException>(() => new HouseholderLeastSquares(3, 0)).ParamName);
        Rejects.With<ArgumentException>(() => new HouseholderLeastSquares(2, 3), "at least as many rows as columns (got 2×3)");
        var householder = new HouseholderLeastSquares(3, 2);
        Rejects.With<ArgumentException>(() => householder.Solve(new double[5], new double[3], new double[2]), "3×2 got A of 5, b of 3, x of 2");
        Rejects.With<ArgumentException>(() => householder.Solve(new double[6], new double[2], new double[2]), "3×2 got A of 6, b of 2, x of 2");
        Rejects.With<ArgumentException>(() => householder.Solve(new double[6], new double[3], new double[3]), "3×2 got A of 6, b of 3, x of 3");
    }
}
