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

    /// <summary>
    /// Reference for CG's k-th iterate, independent of its recursion: x_k minimises ‖x − x*‖_A over the Krylov
    /// space K_k = span{b, Ab, …, A^{k−1}b}, i.e. x_k = Q (QᵀAQ)⁻¹ Qᵀb with Q an orthonormal basis of K_k.
    /// </summary>
    private static Vector<double> KrylovIterate(Matrix<double> a, Vector<double> b, int k)
    {
        var krylov = Matrix<double>.Build.Dense(b.Count, k);
        Vector<double> column = b;
        for (int j = 0; j < k; j++)
        {
            krylov.SetColumn(j, column);
            column = a * column;
        }
        Matrix<double> q = krylov.QR(MathNet.Numerics.LinearAlgebra.Factorization.QRMethod.Thin).Q;
        return q * (q.Transpose() * a * q).Solve(q.Transpose() * b);
    }

    [Fact]
    public void IteratesAndResidualsFollowTheKrylovMinimisersAndStopAtTheRelativeTolerance()
    {
        const int n = 5;
        var rng = new Prng(21);
        Matrix<double> a = RandomSpd(n, 20, ref rng);
        // ‖b‖ far from 1, so the tolerance must be relative to it.
        Vector<double> b = Vector<double>.Build.Dense(n, _ => rng.NextGaussian());
        b *= 1000 / b.L2Norm();
        var op = new DenseOperator<double>(a.ToRowMajorArray(), n);
        var cg = new ConjugateGradient<double>(n);
        double[] x = new double[n];
        double[] relativeResidual = new double[n + 1];
        relativeResidual[0] = 1;
        for (int k = 1; k <= n; k++)
        {
            x.AsSpan().Fill(7); // a stale x from a previous solve: CG starts from 0 regardless
            ConjugateGradientResult result = cg.Solve(ref op, b.ToArray(), x, maxIterations: k, relativeTolerance: 0);
            Vector<double> reference = k < n ? KrylovIterate(a, b, k) : a.Solve(b);
            Assert.True((reference - Vector<double>.Build.DenseOfArray(x)).L2Norm() <= 1e-9 * reference.L2Norm(), $"iterate {k}");
            double residual = (b - a * reference).L2Norm();
            Assert.Equal(k, result.Iterations);
            Assert.Equal(1000, result.RightHandSideNorm, 9);
            if (k < n)
            {
                Assert.Equal(residual, result.ResidualNorm, residual * 1e-6);
                Assert.Equal(residual / 1000, result.RelativeResidual, residual * 1e-9);
            }
            else
                Assert.True(result.RelativeResidual < 1e-10); // exact after n steps, up to rounding
            relativeResidual[k] = residual / 1000;
        }
        // A tolerance between the 2nd and 3rd relative residuals stops after exactly 3 iterations.
        double tolerance = Math.Sqrt(relativeResidual[2] * relativeResidual[3]);
        Assert.True(relativeResidual[3] < tolerance && tolerance < relativeResidual[2]);
        ConjugateGradientResult stopped = cg.Solve(ref op, b.ToArray(), x, maxIterations: 50, relativeTolerance: tolerance);
        Assert.Equal(3, stopped.Iterations);
        Assert.True((KrylovIterate(a, b, 3) - Vector<double>.Build.DenseOfArray(x)).L2Norm() <= 1e-9 * 1000);
    }

    [Fact]
    public void AToleranceOfOneAcceptsXEqualsZeroWithoutAProduct()
    {
        // ‖b − A·0‖ = ‖b‖ ≤ 1·‖b‖: the stopping rule is ≤, so nothing is computed.
        var op = new DenseOperator<double>([2, 0, 0, 3], 2);
        double[] x = [5, 5];
        ConjugateGradientResult result = new ConjugateGradient<double>(2).Solve(ref op, [1.0, 0.0], x, maxIterations: 10, relativeTolerance: 1);
        Assert.Equal(new ConjugateGradientResult(0, 1, 1), result);
        Assert.Equal([0.0, 0.0], x);
        Assert.Equal(0, op.Calls);
    }

    [Fact]
    public void AZeroRightHandSideGivesXZeroAndARelativeResidualOfZero()
    {
        var op = new DenseOperator<double>([2, 0, 0, 3], 2);
        double[] x = [5, 5];
        ConjugateGradientResult result = new ConjugateGradient<double>(2).Solve(ref op, [0.0, 0.0], x, maxIterations: 10);
        Assert.Equal(0, result.Iterations);
        Assert.Equal([0.0, 0.0], x);
        Assert.Equal(0.0, result.RelativeResidual); // 0/0 is reported as converged, not NaN
        Assert.Equal(0.25, new ConjugateGradientResult(3, 2.0, 8.0).RelativeResidual);
    }

    [Fact]
    public void StopsWithTheBestXSoFarWhereTheMatrixIsNotPositiveDefinite()
    {
        // A = diag(1, 0) is only semi-definite; along b = e₂ the curvature pᵀAp is exactly 0: no step is defined.
        var op = new DenseOperator<double>([1, 0, 0, 0], 2);
        double[] x = [5, 5];
        ConjugateGradientResult result = new ConjugateGradient<double>(2).Solve(ref op, [0.0, 1.0], x, maxIterations: 10);
        Assert.Equal(new ConjugateGradientResult(0, 1, 1), result);
        Assert.Equal([0.0, 0.0], x);
        // Negative curvature (A = diag(1, −3), b = (1, 1): pᵀAp = −2) stops the same way.
        var indefinite = new DenseOperator<double>([1, 0, 0, -3], 2);
        result = new ConjugateGradient<double>(2).Solve(ref indefinite, [1.0, 1.0], x, maxIterations: 10);
        Assert.Equal(0, result.Iterations);
        Assert.Equal([0.0, 0.0], x);
    }

    [Fact]
    public void RefusesBadDimensionsIterationCountsAndDamping()
    {
        Rejects.With<ArgumentOutOfRangeException>(() => new ConjugateGradient<double>(0), "conjugate gradient needs a positive dimension");
        Rejects.With<ArgumentOutOfRangeException>(() => new ConjugateGradient<double>(-1), "conjugate gradient needs a positive dimension");
        var cg = new ConjugateGradient<double>(2);
        ConjugateGradientResult Solve(double[] b, double[] x, int iterations = 5, double damping = 0)
        {
            var op = new DenseOperator<double>([1, 0, 0, 1], 2);
            return cg.Solve(ref op, b, x, iterations, damping);
        }
        Rejects.With<ArgumentException>(() => Solve(new double[3], new double[2]), "dimension 2 got b of length 3 and x of length 2");
        Rejects.With<ArgumentException>(() => Solve(new double[2], new double[1]), "dimension 2 got b of length 2 and x of length 1");
        Rejects.With<ArgumentOutOfRangeException>(() => Solve([1, 1], new double[2], iterations: 0), "must be positive");
        Rejects.With<ArgumentOutOfRangeException>(() => Solve([1, 1], new double[2], damping: -0.1), "damping must be non-negative");
    }
}
