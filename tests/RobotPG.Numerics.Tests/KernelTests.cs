using MathNet.Numerics.LinearAlgebra;
using RobotPG.Numerics;
using Xunit;

namespace RobotPG.Numerics.Tests;

/// <summary>
/// Every kernel against MathNet.Numerics in double precision. Tolerance: a float32 sum of n products
/// is within n·2⁻²⁴·Σ|terms| of the exact value (the standard recursive-summation bound), so each
/// check allows (n + 2)·2⁻²⁴·Σ|terms| plus 1e-7 for terms that cancel to ~0.
/// </summary>
public class KernelTests
{
    private const double Ulp = 1.0 / (1 << 24);
    private static readonly int[] Widths = [1, 3, 7, 17, 64, 65, 257];

    public static TheoryData<int> Lengths()
    {
        var data = new TheoryData<int>();
        foreach (int w in Widths) data.Add(w);
        return data;
    }

    public static TheoryData<int, int> Shapes()
    {
        var data = new TheoryData<int, int>();
        foreach (int r in Widths)
            foreach (int c in Widths)
                if (r * c <= 257 * 65) data.Add(r, c);
        return data;
    }

    private static float[] Random(int n, ref Prng prng, double scale = 1.0)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(scale * prng.NextGaussian());
        return a;
    }

    private static Vector<double> V(float[] a) => Vector<double>.Build.Dense(a.Length, i => a[i]);

    private static Matrix<double> M(float[] a, int rows, int cols) => Matrix<double>.Build.Dense(rows, cols, (r, c) => a[r * cols + c]);

    private static void Near(double expected, double actual, double absTerms, int n, string what)
    {
        double tol = (n + 2) * Ulp * absTerms + 1e-7;
        Assert.True(Math.Abs(expected - actual) <= tol, $"{what}: expected {expected}, got {actual}, tolerance {tol}");
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Dot_matches_double(int n)
    {
        var prng = new Prng((ulong)n);
        float[] x = Random(n, ref prng), y = Random(n, ref prng);
        double expected = V(x).DotProduct(V(y));
        double abs = V(x).PointwiseAbs().DotProduct(V(y).PointwiseAbs());
        Near(expected, Kernels.Dot(x, y), abs, n, "dot");
        Near(V(x).DotProduct(V(x)), Kernels.SumOfSquares(x), V(x).DotProduct(V(x)), n, "sum of squares");
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Axpy_and_scale_match_double(int n)
    {
        var prng = new Prng(100 + (ulong)n);
        float[] x = Random(n, ref prng), y = Random(n, ref prng);
        const float a = -0.37f;
        var expected = V(y) + a * V(x);
        Kernels.Axpy(a, x, y);
        for (int i = 0; i < n; i++) Near(expected[i], y[i], Math.Abs(expected[i]) + Math.Abs(a * x[i]), 2, $"axpy[{i}]");
        var scaled = 1.75 * V(y);
        Kernels.Scale(1.75f, y);
        for (int i = 0; i < n; i++) Near(scaled[i], y[i], Math.Abs(scaled[i]), 1, $"scale[{i}]");
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Gemv_matches_double(int rows, int cols)
    {
        var prng = new Prng((ulong)(rows * 1000 + cols));
        float[] w = Random(rows * cols, ref prng), x = Random(cols, ref prng), b = Random(rows, ref prng);
        var y = new float[rows];
        Kernels.Gemv(w, rows, cols, x, b, y);
        var expected = M(w, rows, cols) * V(x) + V(b);
        var abs = M(w, rows, cols).PointwiseAbs() * V(x).PointwiseAbs() + V(b).PointwiseAbs();
        for (int r = 0; r < rows; r++) Near(expected[r], y[r], abs[r], cols + 1, $"y[{r}]");

        // Without bias.
        Kernels.Gemv(w, rows, cols, x, ReadOnlySpan<float>.Empty, y);
        var noBias = M(w, rows, cols) * V(x);
        for (int r = 0; r < rows; r++) Near(noBias[r], y[r], abs[r], cols, $"y[{r}] (no bias)");
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void GemvTransposed_matches_double(int rows, int cols)
    {
        var prng = new Prng((ulong)(rows * 7919 + cols));
        float[] w = Random(rows * cols, ref prng), y = Random(rows, ref prng);
        float[] x = Random(cols, ref prng); // garbage that must be overwritten
        Kernels.GemvTransposed(w, rows, cols, y, x);
        var expected = M(w, rows, cols).TransposeThisAndMultiply(V(y));
        var abs = M(w, rows, cols).PointwiseAbs().TransposeThisAndMultiply(V(y).PointwiseAbs());
        for (int c = 0; c < cols; c++) Near(expected[c], x[c], abs[c], rows, $"x[{c}]");
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void AddOuter_matches_double(int rows, int cols)
    {
        var prng = new Prng((ulong)(rows * 31 + cols * 17));
        float[] w = Random(rows * cols, ref prng), d = Random(rows, ref prng), x = Random(cols, ref prng);
        var expected = M(w, rows, cols) + V(d).OuterProduct(V(x));
        var abs = M(w, rows, cols).PointwiseAbs() + V(d).PointwiseAbs().OuterProduct(V(x).PointwiseAbs());
        Kernels.AddOuter(w, rows, cols, d, x);
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) Near(expected[r, c], w[r * cols + c], abs[r, c], 2, $"W[{r},{c}]");
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(3, 7, 17)]
    [InlineData(7, 65, 3)]
    [InlineData(17, 64, 64)]
    [InlineData(64, 24, 65)]
    [InlineData(65, 257, 7)]
    [InlineData(5, 3, 257)]
    public void Linear_forward_and_backward_match_double(int batch, int inSize, int outSize)
    {
        var prng = new Prng((ulong)(batch * 100000 + inSize * 300 + outSize));
        float[] x = Random(batch * inSize, ref prng), w = Random(outSize * inSize, ref prng), b = Random(outSize, ref prng);
        var X = M(x, batch, inSize);
        var W = M(w, outSize, inSize);
        var absX = X.PointwiseAbs();
        var absW = W.PointwiseAbs();

        var y = new float[batch * outSize];
        Kernels.LinearForward(x, batch, w, outSize, inSize, b, y);
        var Y = X * W.Transpose();
        var absY = absX * absW.Transpose();
        for (int n = 0; n < batch; n++)
            for (int o = 0; o < outSize; o++)
                Near(Y[n, o] + b[o], y[n * outSize + o], absY[n, o] + Math.Abs(b[o]), inSize + 1, $"Y[{n},{o}]");

        float[] dy = Random(batch * outSize, ref prng);
        var dY = M(dy, batch, outSize);
        var absDY = dY.PointwiseAbs();

        var dx = Random(batch * inSize, ref prng); // overwritten
        Kernels.LinearBackwardInput(dy, batch, w, outSize, inSize, dx);
        var dX = dY * W;
        var absDX = absDY * absW;
        for (int n = 0; n < batch; n++)
            for (int i = 0; i < inSize; i++)
                Near(dX[n, i], dx[n * inSize + i], absDX[n, i], outSize, $"dX[{n},{i}]");

        float[] dw = Random(outSize * inSize, ref prng), db = Random(outSize, ref prng);
        var dW0 = M(dw, outSize, inSize);
        var db0 = V(db);
        Kernels.LinearBackwardParameters(dy, batch, x, outSize, inSize, dw, db);
        var dW = dW0 + dY.TransposeThisAndMultiply(X);
        var absDW = dW0.PointwiseAbs() + absDY.TransposeThisAndMultiply(absX);
        for (int o = 0; o < outSize; o++)
        {
            for (int i = 0; i < inSize; i++)
                Near(dW[o, i], dw[o * inSize + i], absDW[o, i], batch + 1, $"dW[{o},{i}]");
            double colSum = db0[o], colAbs = Math.Abs(db0[o]);
            for (int n = 0; n < batch; n++) { colSum += dY[n, o]; colAbs += Math.Abs(dY[n, o]); }
            Near(colSum, db[o], colAbs, batch + 1, $"db[{o}]");
        }
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Tanh_and_its_backward_match_double(int n)
    {
        var prng = new Prng(900 + (ulong)n);
        float[] z = Random(n, ref prng, scale: 3.0);
        if (n > 2) { z[0] = 1e-5f; z[1] = -20f; z[2] = 9f; }
        float[] y = (float[])z.Clone();
        Kernels.TanhInPlace(y);
        for (int i = 0; i < n; i++)
        {
            // The rational approximation is good to a few float ulps: 4e-7 absolute (ulp is 6e-8 near ±1).
            double expected = Math.Tanh(z[i]);
            Assert.True(Math.Abs(expected - y[i]) <= 4e-7, $"tanh({z[i]}) = {expected}, got {y[i]}");
            Assert.Equal(Kernels.Tanh(z[i]), y[i]);
        }
        float[] g = Random(n, ref prng);
        float[] g0 = (float[])g.Clone();
        Kernels.TanhBackward(y, g);
        for (int i = 0; i < n; i++)
        {
            double t = Math.Tanh(z[i]);
            double expected = g0[i] * (1 - t * t);
            Assert.True(Math.Abs(expected - g[i]) <= 1e-6 * Math.Abs(g0[i]) + 1e-7, $"tanh' at {z[i]}: expected {expected}, got {g[i]}");
        }
    }

    [Fact]
    public void Tanh_is_accurate_over_its_range()
    {
        double worst = 0;
        for (double x = -10; x <= 10; x += 0.00137)
            worst = Math.Max(worst, Math.Abs(Kernels.Tanh((float)x) - Math.Tanh((float)x)));
        Assert.True(worst <= 4e-7, $"worst tanh error {worst}");
    }

    [Fact]
    public void Kernels_reject_mismatched_shapes()
    {
        var w = new float[6];
        Assert.Throws<ArgumentException>(() => Kernels.Gemv(w, 2, 3, new float[2], ReadOnlySpan<float>.Empty, new float[2]));
        Assert.Throws<ArgumentException>(() => Kernels.Gemv(w, 3, 3, new float[3], ReadOnlySpan<float>.Empty, new float[3]));
        Assert.Throws<ArgumentException>(() => Kernels.Dot(new float[3], new float[4]));
    }

    [Fact]
    public void Kernels_allocate_nothing()
    {
        var prng = new Prng(5);
        float[] w = Random(64 * 65, ref prng), x = Random(65, ref prng), b = Random(64, ref prng), y = new float[64];
        float[] xb = Random(8 * 65, ref prng), yb = new float[8 * 64], dw = new float[64 * 65], dx = new float[8 * 65];
        void Run()
        {
            Kernels.Gemv(w, 64, 65, x, b, y);
            Kernels.TanhInPlace(y);
            Kernels.GemvTransposed(w, 64, 65, y, x);
            Kernels.AddOuter(dw, 64, 65, y, x);
            Kernels.LinearForward(xb, 8, w, 64, 65, b, yb);
            Kernels.LinearBackwardInput(yb, 8, w, 64, 65, dx);
            Kernels.LinearBackwardParameters(yb, 8, xb, 64, 65, dw, b);
            Kernels.TanhBackward(y, b);
        }
        Run();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++) Run();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
