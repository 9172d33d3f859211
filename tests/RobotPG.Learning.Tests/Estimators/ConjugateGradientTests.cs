using MathNet.Numerics.LinearAlgebra;
using RobotPG.Learning.Estimators;
using RobotPG.Numerics;
using Xunit;

namespace RobotPG.Learning.Tests.Estimators;

public class ConjugateGradientTests
{
    private struct DenseOperator<T>(T[] matrix, int n) : ILinearOperator<T> where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        public int Calls;

        public void Apply(ReadOnlySpan<T> x, Span<T> result)
        {
            Calls++;
            for (int i = 0; i < n; i++)
            {
                T sum = T.Zero;
                for (int j = 0; j < n; j++) sum += matrix[i * n + j] * x[j];
                result[i] = sum;
            }
        }
    }

    /// <summary>A = Qᵀ diag(λ) Q with λ spread over [1, condition]: a random SPD matrix of known conditioning.</summary>
    private static Matrix<double> RandomSpd(int n, double condition, ref Prng rng)
    {
        var g = Matrix<double>.Build.Dense(n, n);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) g[i, j] = rng.NextGaussian();
        var q = g.QR().Q;
        var d = Matrix<double>.Build.Diagonal(n, n, i => n == 1 ? 1 : 1 + (condition - 1) * i / (n - 1));
        return q.Transpose() * d * q;
    }

    [Theory]
    [InlineData(1, 1.0)]
    [InlineData(7, 50.0)]
    [InlineData(33, 1000.0)]
    [InlineData(100, 1e4)]
    public void DoubleSolvesRandomSpdToOneInAMillionRelativeResidual(int n, double condition)
    {
        var rng = new Prng((ulong)n);
        Matrix<double> a = RandomSpd(n, condition, ref rng);
        var b = Vector<double>.Build.Dense(n, _ => rng.NextGaussian());
        var op = new DenseOperator<double>(a.ToRowMajorArray(), n);
        var cg = new ConjugateGradient<double>(n);
        double[] x = new double[n];
        // CG converges in at most n steps in exact arithmetic; rounding needs a few more on ill-conditioned systems.
        ConjugateGradientResult result = cg.Solve(ref op, b.ToArray(), x, maxIterations: 3 * n, relativeTolerance: 1e-9);

        double trueResidual = (b - a * Vector<double>.Build.DenseOfArray(x)).L2Norm() / b.L2Norm();
        Assert.True(trueResidual <= 1e-6, $"relative residual {trueResidual:E2}");
        var reference = a.Solve(b);
        Assert.True((reference - Vector<double>.Build.DenseOfArray(x)).L2Norm() / reference.L2Norm() <= 1e-6 * condition);
        Assert.True(result.Iterations <= 3 * n);
    }

    [Fact]
    public void FloatSolvesWellConditionedSystemToFloatPrecision()
    {
        // float32 rounding of x alone leaves a relative residual of about κ·6e-8, so κ = 10 allows 1e-6.
        const int n = 40;
        var rng = new Prng(5);
        Matrix<double> a = RandomSpd(n, 10, ref rng);
        var b = Vector<double>.Build.Dense(n, _ => rng.NextGaussian());
        var op = new DenseOperator<float>(Array.ConvertAll(a.ToRowMajorArray(), v => (float)v), n);
        var cg = new ConjugateGradient<float>(n);
        float[] x = new float[n];
        cg.Solve(ref op, Array.ConvertAll(b.ToArray(), v => (float)v), x, maxIterations: 2 * n, relativeTolerance: 1e-8);
        var xd = Vector<double>.Build.Dense(n, i => x[i]);
        double residual = (b - a * xd).L2Norm() / b.L2Norm();
        Assert.True(residual <= 1e-6, $"relative residual {residual:E2}");
    }

    [Fact]
    public void DampingSolvesShiftedSystem()
    {
        const int n = 12;
        const double damping = 0.1;
        var rng = new Prng(9);
        Matrix<double> a = RandomSpd(n, 100, ref rng);
        var b = Vector<double>.Build.Dense(n, _ => rng.NextGaussian());
        var op = new DenseOperator<double>(a.ToRowMajorArray(), n);
        double[] x = new double[n];
        new ConjugateGradient<double>(n).Solve(ref op, b.ToArray(), x, maxIterations: 3 * n, damping: damping, relativeTolerance: 1e-12);
        var reference = (a + damping * Matrix<double>.Build.DenseIdentity(n)).Solve(b);
        Assert.True((reference - Vector<double>.Build.DenseOfArray(x)).L2Norm() / reference.L2Norm() < 1e-8);
    }

    [Fact]
    public void TenIterationsUseTenProductsAndSolveAllocationFree()
    {
        const int n = 50;
        var rng = new Prng(3);
        Matrix<double> a = RandomSpd(n, 1e3, ref rng);
        double[] b = Vector<double>.Build.Dense(n, _ => rng.NextGaussian()).ToArray();
        var op = new DenseOperator<double>(a.ToRowMajorArray(), n);
        var cg = new ConjugateGradient<double>(n);
        double[] x = new double[n];
        cg.Solve(ref op, b, x, maxIterations: 10);
        op.Calls = 0;
        long before = GC.GetAllocatedBytesForCurrentThread();
        ConjugateGradientResult result = cg.Solve(ref op, b, x, maxIterations: 10);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.Equal(10, result.Iterations);
        Assert.Equal(10, op.Calls);
    }
}
