using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace RobotPG.Numerics;

/// <summary>
/// Allocation-free float32 kernels over spans. Matrices are row-major: a rows×cols matrix W holds
/// row r at W[r*cols .. r*cols+cols). Each kernel runs 8-wide where Vector256 is accelerated (x64
/// AVX2), then 4-wide where Vector128 is (arm64 AdvSimd, and x64 for the remainder), then scalar,
/// so any length works.
/// </summary>
public static class Kernels
{
    /// <summary>Σ x[i]·y[i].</summary>
    public static float Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        if (x.Length != y.Length) ThrowLength(nameof(y));
        return DotUnchecked(ref MemoryMarshal.GetReference(x), ref MemoryMarshal.GetReference(y), x.Length);
    }

    /// <summary>y += a·x.</summary>
    public static void Axpy(float a, ReadOnlySpan<float> x, Span<float> y)
    {
        if (x.Length != y.Length) ThrowLength(nameof(y));
        AxpyUnchecked(a, ref MemoryMarshal.GetReference(x), ref MemoryMarshal.GetReference(y), x.Length);
    }

    /// <summary>x *= a.</summary>
    public static void Scale(float a, Span<float> x)
    {
        ref float px = ref MemoryMarshal.GetReference(x);
        int n = x.Length, i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var va = Vector256.Create(a);
            for (; i <= n - 8; i += 8)
                (Vector256.LoadUnsafe(ref px, (nuint)i) * va).StoreUnsafe(ref px, (nuint)i);
        }
        if (Vector128.IsHardwareAccelerated)
        {
            var va = Vector128.Create(a);
            for (; i <= n - 4; i += 4)
                (Vector128.LoadUnsafe(ref px, (nuint)i) * va).StoreUnsafe(ref px, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref px, i) *= a;
    }

    /// <summary>Σ x[i]² (squared Euclidean norm).</summary>
    public static float SumOfSquares(ReadOnlySpan<float> x)
    {
        ref float px = ref MemoryMarshal.GetReference(x);
        return DotUnchecked(ref px, ref px, x.Length);
    }

    /// <summary>y = W·x + b for a rows×cols W; <paramref name="bias"/> may be empty (no bias).</summary>
    public static void Gemv(ReadOnlySpan<float> w, int rows, int cols, ReadOnlySpan<float> x, ReadOnlySpan<float> bias, Span<float> y)
    {
        CheckMatrix(w, rows, cols);
        if (x.Length != cols) ThrowLength(nameof(x));
        if (y.Length != rows) ThrowLength(nameof(y));
        if (!bias.IsEmpty && bias.Length != rows) ThrowLength(nameof(bias));
        GemvUnchecked(ref MemoryMarshal.GetReference(w), rows, cols, ref MemoryMarshal.GetReference(x),
            bias, ref MemoryMarshal.GetReference(y));
    }

    /// <summary>x = Wᵀ·y for a rows×cols W (the backward pass of <see cref="Gemv"/>): x is overwritten.</summary>
    public static void GemvTransposed(ReadOnlySpan<float> w, int rows, int cols, ReadOnlySpan<float> y, Span<float> x)
    {
        CheckMatrix(w, rows, cols);
        if (y.Length != rows) ThrowLength(nameof(y));
        if (x.Length != cols) ThrowLength(nameof(x));
        CombineRows(ref MemoryMarshal.GetReference(x), cols, accumulate: false,
            ref MemoryMarshal.GetReference(y), 1, ref MemoryMarshal.GetReference(w), cols, rows);
    }

    /// <summary>W += d·xᵀ for a rows×cols W, d of length rows and x of length cols (rank-1 update).</summary>
    public static void AddOuter(Span<float> w, int rows, int cols, ReadOnlySpan<float> d, ReadOnlySpan<float> x)
    {
        CheckMatrix(w, rows, cols);
        if (d.Length != rows) ThrowLength(nameof(d));
        if (x.Length != cols) ThrowLength(nameof(x));
        ref float pw = ref MemoryMarshal.GetReference(w);
        ref float px = ref MemoryMarshal.GetReference(x);
        for (int r = 0; r < rows; r++)
            AxpyUnchecked(d[r], ref px, ref Unsafe.Add(ref pw, r * cols), cols);
    }

    /// <summary>
    /// Batched dense layer: Y = X·Wᵀ + b, X is batch×inSize, W is outSize×inSize, Y is batch×outSize;
    /// <paramref name="bias"/> may be empty.
    /// </summary>
    public static void LinearForward(ReadOnlySpan<float> x, int batch, ReadOnlySpan<float> w, int outSize, int inSize,
        ReadOnlySpan<float> bias, Span<float> y)
    {
        CheckMatrix(w, outSize, inSize);
        if (batch < 0 || x.Length < batch * inSize) ThrowLength(nameof(x));
        if (y.Length < batch * outSize) ThrowLength(nameof(y));
        if (!bias.IsEmpty && bias.Length != outSize) ThrowLength(nameof(bias));
        ref float pw = ref MemoryMarshal.GetReference(w);
        ref float px = ref MemoryMarshal.GetReference(x);
        ref float py = ref MemoryMarshal.GetReference(y);
        for (int n = 0; n < batch; n++)
            GemvUnchecked(ref pw, outSize, inSize, ref Unsafe.Add(ref px, n * inSize), bias, ref Unsafe.Add(ref py, n * outSize));
    }

    /// <summary>Backward of <see cref="LinearForward"/> to its input: dX = dY·W (batch×inSize), overwritten.</summary>
    public static void LinearBackwardInput(ReadOnlySpan<float> dy, int batch, ReadOnlySpan<float> w, int outSize, int inSize, Span<float> dx)
    {
        CheckMatrix(w, outSize, inSize);
        if (batch < 0 || dy.Length < batch * outSize) ThrowLength(nameof(dy));
        if (dx.Length < batch * inSize) ThrowLength(nameof(dx));
        ref float pw = ref MemoryMarshal.GetReference(w);
        ref float pdy = ref MemoryMarshal.GetReference(dy);
        ref float pdx = ref MemoryMarshal.GetReference(dx);
        for (int n = 0; n < batch; n++)
            CombineRows(ref Unsafe.Add(ref pdx, n * inSize), inSize, accumulate: false,
                ref Unsafe.Add(ref pdy, n * outSize), 1, ref pw, inSize, outSize);
    }

    /// <summary>
    /// Backward of <see cref="LinearForward"/> to its parameters, accumulated: dW += dYᵀ·X
    /// (outSize×inSize) and db += Σ over rows of dY (db may be empty).
    /// </summary>
    public static void LinearBackwardParameters(ReadOnlySpan<float> dy, int batch, ReadOnlySpan<float> x, int outSize, int inSize,
        Span<float> dw, Span<float> db)
    {
        CheckMatrix(dw, outSize, inSize);
        if (batch < 0 || dy.Length < batch * outSize) ThrowLength(nameof(dy));
        if (x.Length < batch * inSize) ThrowLength(nameof(x));
        if (!db.IsEmpty && db.Length != outSize) ThrowLength(nameof(db));
        ref float pdy = ref MemoryMarshal.GetReference(dy);
        ref float px = ref MemoryMarshal.GetReference(x);
        ref float pdw = ref MemoryMarshal.GetReference(dw);
        for (int r = 0; r < outSize; r++)
            CombineRows(ref Unsafe.Add(ref pdw, r * inSize), inSize, accumulate: true,
                ref Unsafe.Add(ref pdy, r), outSize, ref px, inSize, batch);
        if (!db.IsEmpty)
        {
            ref float pdb = ref MemoryMarshal.GetReference(db);
            for (int n = 0; n < batch; n++)
                AxpyUnchecked(1f, ref Unsafe.Add(ref pdy, n * outSize), ref pdb, outSize);
        }
    }

    /// <summary>x = tanh(x) elementwise.</summary>
    public static void TanhInPlace(Span<float> x)
    {
        ref float px = ref MemoryMarshal.GetReference(x);
        int n = x.Length, i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i <= n - 8; i += 8)
                Tanh(Vector256.LoadUnsafe(ref px, (nuint)i)).StoreUnsafe(ref px, (nuint)i);
        if (Vector128.IsHardwareAccelerated)
            for (; i <= n - 4; i += 4)
                Tanh(Vector128.LoadUnsafe(ref px, (nuint)i)).StoreUnsafe(ref px, (nuint)i);
        for (; i < n; i++)
            Unsafe.Add(ref px, i) = Tanh(Unsafe.Add(ref px, i));
    }

    /// <summary>
    /// Backprop through tanh given its output y = tanh(z): gradient *= 1 − y² (the derivative written
    /// in terms of the output, so the pre-activation need not be kept).
    /// </summary>
    public static void TanhBackward(ReadOnlySpan<float> y, Span<float> gradient)
    {
        if (y.Length != gradient.Length) ThrowLength(nameof(gradient));
        ref float py = ref MemoryMarshal.GetReference(y);
        ref float pg = ref MemoryMarshal.GetReference(gradient);
        int n = y.Length, i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= n - 8; i += 8)
            {
                var v = Vector256.LoadUnsafe(ref py, (nuint)i);
                (Vector256.LoadUnsafe(ref pg, (nuint)i) * (Vector256<float>.One - v * v)).StoreUnsafe(ref pg, (nuint)i);
            }
        }
        if (Vector128.IsHardwareAccelerated)
        {
            for (; i <= n - 4; i += 4)
            {
                var v = Vector128.LoadUnsafe(ref py, (nuint)i);
                (Vector128.LoadUnsafe(ref pg, (nuint)i) * (Vector128<float>.One - v * v)).StoreUnsafe(ref pg, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            float v = Unsafe.Add(ref py, i);
            Unsafe.Add(ref pg, i) *= 1f - v * v;
        }
    }

    // tanh as the odd rational approximation of Eigen's generic_fast_tanh_float (max error a few
    // float ulps on the clamped range, where tanh is ±1 in float beyond it). Only multiply, add and
    // one divide, so the 8-wide, 4-wide and scalar forms give the same values.
    private const float TanhClamp = 7.90531110763549805f;
    private const float TanhTiny = 0.0004f;
    private const float A1 = 4.89352455891786e-03f, A3 = 6.37261928875436e-04f, A5 = 1.48572235717979e-05f,
        A7 = 5.12229709037114e-08f, A9 = -8.60467152213735e-11f, A11 = 2.00018790482477e-13f, A13 = -2.76076847742355e-16f;
    private const float B0 = 4.89352518554385e-03f, B2 = 2.26843463243900e-03f, B4 = 1.18534705686654e-04f, B6 = 1.19825839466702e-06f;

    /// <summary>tanh of one value, identical to what <see cref="TanhInPlace"/> computes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Tanh(float x)
    {
        float c = Math.Clamp(x, -TanhClamp, TanhClamp);
        float x2 = c * c;
        float p = x2 * A13 + A11;
        p = p * x2 + A9;
        p = p * x2 + A7;
        p = p * x2 + A5;
        p = p * x2 + A3;
        p = p * x2 + A1;
        p *= c;
        float q = x2 * B6 + B4;
        q = q * x2 + B2;
        q = q * x2 + B0;
        return MathF.Abs(x) < TanhTiny ? x : p / q;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Tanh(Vector256<float> x)
    {
        var c = Vector256.Min(Vector256.Max(x, Vector256.Create(-TanhClamp)), Vector256.Create(TanhClamp));
        var x2 = c * c;
        var p = x2 * Vector256.Create(A13) + Vector256.Create(A11);
        p = p * x2 + Vector256.Create(A9);
        p = p * x2 + Vector256.Create(A7);
        p = p * x2 + Vector256.Create(A5);
        p = p * x2 + Vector256.Create(A3);
        p = p * x2 + Vector256.Create(A1);
        p *= c;
        var q = x2 * Vector256.Create(B6) + Vector256.Create(B4);
        q = q * x2 + Vector256.Create(B2);
        q = q * x2 + Vector256.Create(B0);
        var tiny = Vector256.LessThan(Vector256.Abs(x), Vector256.Create(TanhTiny));
        return Vector256.ConditionalSelect(tiny, x, p / q);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Tanh(Vector128<float> x)
    {
        var c = Vector128.Min(Vector128.Max(x, Vector128.Create(-TanhClamp)), Vector128.Create(TanhClamp));
        var x2 = c * c;
        var p = x2 * Vector128.Create(A13) + Vector128.Create(A11);
        p = p * x2 + Vector128.Create(A9);
        p = p * x2 + Vector128.Create(A7);
        p = p * x2 + Vector128.Create(A5);
        p = p * x2 + Vector128.Create(A3);
        p = p * x2 + Vector128.Create(A1);
        p *= c;
        var q = x2 * Vector128.Create(B6) + Vector128.Create(B4);
        q = q * x2 + Vector128.Create(B2);
        q = q * x2 + Vector128.Create(B0);
        var tiny = Vector128.LessThan(Vector128.Abs(x), Vector128.Create(TanhTiny));
        return Vector128.ConditionalSelect(tiny, x, p / q);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float DotUnchecked(ref float px, ref float py, int n)
    {
        int i = 0;
        float sum = 0f;
        if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            var acc0 = Vector256<float>.Zero;
            var acc1 = Vector256<float>.Zero;
            for (; i <= n - 16; i += 16)
            {
                acc0 = Vector256.MultiplyAddEstimate(Vector256.LoadUnsafe(ref px, (nuint)i), Vector256.LoadUnsafe(ref py, (nuint)i), acc0);
                acc1 = Vector256.MultiplyAddEstimate(Vector256.LoadUnsafe(ref px, (nuint)(i + 8)), Vector256.LoadUnsafe(ref py, (nuint)(i + 8)), acc1);
            }
            for (; i <= n - 8; i += 8)
                acc0 = Vector256.MultiplyAddEstimate(Vector256.LoadUnsafe(ref px, (nuint)i), Vector256.LoadUnsafe(ref py, (nuint)i), acc0);
            sum = Vector256.Sum(acc0 + acc1);
        }
        if (Vector128.IsHardwareAccelerated && i <= n - 4)
        {
            var acc = Vector128<float>.Zero;
            for (; i <= n - 4; i += 4)
                acc = Vector128.MultiplyAddEstimate(Vector128.LoadUnsafe(ref px, (nuint)i), Vector128.LoadUnsafe(ref py, (nuint)i), acc);
            sum += Vector128.Sum(acc);
        }
        for (; i < n; i++) sum += Unsafe.Add(ref px, i) * Unsafe.Add(ref py, i);
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AxpyUnchecked(float a, ref float px, ref float py, int n)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var va = Vector256.Create(a);
            for (; i <= n - 8; i += 8)
                Vector256.MultiplyAddEstimate(va, Vector256.LoadUnsafe(ref px, (nuint)i), Vector256.LoadUnsafe(ref py, (nuint)i))
                    .StoreUnsafe(ref py, (nuint)i);
        }
        if (Vector128.IsHardwareAccelerated)
        {
            var va = Vector128.Create(a);
            for (; i <= n - 4; i += 4)
                Vector128.MultiplyAddEstimate(va, Vector128.LoadUnsafe(ref px, (nuint)i), Vector128.LoadUnsafe(ref py, (nuint)i))
                    .StoreUnsafe(ref py, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref py, i) += a * Unsafe.Add(ref px, i);
    }

    private static void GemvUnchecked(ref float pw, int rows, int cols, ref float px, ReadOnlySpan<float> bias, ref float py)
    {
        int r = 0;
        // Four rows at a time share each load of x.
        for (; r <= rows - 4; r += 4)
        {
            ref float w0 = ref Unsafe.Add(ref pw, r * cols);
            ref float w1 = ref Unsafe.Add(ref w0, cols);
            ref float w2 = ref Unsafe.Add(ref w1, cols);
            ref float w3 = ref Unsafe.Add(ref w2, cols);
            float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;
            int j = 0;
            if (Vector256.IsHardwareAccelerated && cols >= 8)
            {
                var a0 = Vector256<float>.Zero;
                var a1 = Vector256<float>.Zero;
                var a2 = Vector256<float>.Zero;
                var a3 = Vector256<float>.Zero;
                for (; j <= cols - 8; j += 8)
                {
                    var xv = Vector256.LoadUnsafe(ref px, (nuint)j);
                    a0 = Vector256.MultiplyAddEstimate(Vector256.LoadUnsafe(ref w0, (nuint)j), xv, a0);
                    a1 = Vector256.MultiplyAddEstimate(Vector256.LoadUnsafe(ref w1, (nuint)j), xv, a1);
                    a2 = Vector256.MultiplyAddEstimate(Vector256.LoadUnsafe(ref w2, (nuint)j), xv, a2);
                    a3 = Vector256.MultiplyAddEstimate(Vector256.LoadUnsafe(ref w3, (nuint)j), xv, a3);
                }
                s0 = Vector256.Sum(a0);
                s1 = Vector256.Sum(a1);
                s2 = Vector256.Sum(a2);
                s3 = Vector256.Sum(a3);
            }
            if (Vector128.IsHardwareAccelerated && j <= cols - 4)
            {
                var a0 = Vector128<float>.Zero;
                var a1 = Vector128<float>.Zero;
                var a2 = Vector128<float>.Zero;
                var a3 = Vector128<float>.Zero;
                for (; j <= cols - 4; j += 4)
                {
                    var xv = Vector128.LoadUnsafe(ref px, (nuint)j);
                    a0 = Vector128.MultiplyAddEstimate(Vector128.LoadUnsafe(ref w0, (nuint)j), xv, a0);
                    a1 = Vector128.MultiplyAddEstimate(Vector128.LoadUnsafe(ref w1, (nuint)j), xv, a1);
                    a2 = Vector128.MultiplyAddEstimate(Vector128.LoadUnsafe(ref w2, (nuint)j), xv, a2);
                    a3 = Vector128.MultiplyAddEstimate(Vector128.LoadUnsafe(ref w3, (nuint)j), xv, a3);
                }
                s0 += Vector128.Sum(a0);
                s1 += Vector128.Sum(a1);
                s2 += Vector128.Sum(a2);
                s3 += Vector128.Sum(a3);
            }
            for (; j < cols; j++)
            {
                float xj = Unsafe.Add(ref px, j);
                s0 += Unsafe.Add(ref w0, j) * xj;
                s1 += Unsafe.Add(ref w1, j) * xj;
                s2 += Unsafe.Add(ref w2, j) * xj;
                s3 += Unsafe.Add(ref w3, j) * xj;
            }
            if (!bias.IsEmpty)
            {
                s0 += bias[r];
                s1 += bias[r + 1];
                s2 += bias[r + 2];
                s3 += bias[r + 3];
            }
            Unsafe.Add(ref py, r) = s0;
            Unsafe.Add(ref py, r + 1) = s1;
            Unsafe.Add(ref py, r + 2) = s2;
            Unsafe.Add(ref py, r + 3) = s3;
        }
        for (; r < rows; r++)
        {
            float s = DotUnchecked(ref Unsafe.Add(ref pw, r * cols), ref px, cols);
            Unsafe.Add(ref py, r) = bias.IsEmpty ? s : s + bias[r];
        }
    }

    /// <summary>
    /// out[j] (+)= Σₖ coef[k·coefStride]·m[k·mStride + j] for j &lt; length, k &lt; count: a weighted sum of
    /// matrix rows. The output is held in registers 32 floats at a time while k runs, so each step
    /// costs one load per multiply-add and nothing is stored until the end (the shape of both
    /// backward products, dX = dY·W and dW += dYᵀ·X, and of Wᵀy).
    /// </summary>
    private static void CombineRows(ref float output, int length, bool accumulate, ref float coef, int coefStride,
        ref float m, int mStride, int count)
    {
        int j = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; j <= length - 32; j += 32)
            {
                ref float o = ref Unsafe.Add(ref output, j);
                Vector256<float> a0, a1, a2, a3;
                if (accumulate)
                {
                    a0 = Vector256.LoadUnsafe(ref o);
                    a1 = Vector256.LoadUnsafe(ref o, 8);
                    a2 = Vector256.LoadUnsafe(ref o, 16);
                    a3 = Vector256.LoadUnsafe(ref o, 24);
                }
                else
                {
                    a0 = a1 = a2 = a3 = Vector256<float>.Zero;
                }
                for (int k = 0; k < count; k++)
                {
                    var c = Vector256.Create(Unsafe.Add(ref coef, k * coefStride));
                    ref float row = ref Unsafe.Add(ref m, k * mStride + j);
                    a0 = Vector256.MultiplyAddEstimate(c, Vector256.LoadUnsafe(ref row), a0);
                    a1 = Vector256.MultiplyAddEstimate(c, Vector256.LoadUnsafe(ref row, 8), a1);
                    a2 = Vector256.MultiplyAddEstimate(c, Vector256.LoadUnsafe(ref row, 16), a2);
                    a3 = Vector256.MultiplyAddEstimate(c, Vector256.LoadUnsafe(ref row, 24), a3);
                }
                a0.StoreUnsafe(ref o);
                a1.StoreUnsafe(ref o, 8);
                a2.StoreUnsafe(ref o, 16);
                a3.StoreUnsafe(ref o, 24);
            }
            for (; j <= length - 8; j += 8)
            {
                ref float o = ref Unsafe.Add(ref output, j);
                var a0 = accumulate ? Vector256.LoadUnsafe(ref o) : Vector256<float>.Zero;
                for (int k = 0; k < count; k++)
                    a0 = Vector256.MultiplyAddEstimate(Vector256.Create(Unsafe.Add(ref coef, k * coefStride)),
                        Vector256.LoadUnsafe(ref Unsafe.Add(ref m, k * mStride + j)), a0);
                a0.StoreUnsafe(ref o);
            }
        }
        if (Vector128.IsHardwareAccelerated)
        {
            // arm64 AdvSimd lands here for the bulk: 16 floats in four registers.
            for (; j <= length - 16; j += 16)
            {
                ref float o = ref Unsafe.Add(ref output, j);
                Vector128<float> a0, a1, a2, a3;
                if (accumulate)
                {
                    a0 = Vector128.LoadUnsafe(ref o);
                    a1 = Vector128.LoadUnsafe(ref o, 4);
                    a2 = Vector128.LoadUnsafe(ref o, 8);
                    a3 = Vector128.LoadUnsafe(ref o, 12);
                }
                else
                {
                    a0 = a1 = a2 = a3 = Vector128<float>.Zero;
                }
                for (int k = 0; k < count; k++)
                {
                    var c = Vector128.Create(Unsafe.Add(ref coef, k * coefStride));
                    ref float row = ref Unsafe.Add(ref m, k * mStride + j);
                    a0 = Vector128.MultiplyAddEstimate(c, Vector128.LoadUnsafe(ref row), a0);
                    a1 = Vector128.MultiplyAddEstimate(c, Vector128.LoadUnsafe(ref row, 4), a1);
                    a2 = Vector128.MultiplyAddEstimate(c, Vector128.LoadUnsafe(ref row, 8), a2);
                    a3 = Vector128.MultiplyAddEstimate(c, Vector128.LoadUnsafe(ref row, 12), a3);
                }
                a0.StoreUnsafe(ref o);
                a1.StoreUnsafe(ref o, 4);
                a2.StoreUnsafe(ref o, 8);
                a3.StoreUnsafe(ref o, 12);
            }
            for (; j <= length - 4; j += 4)
            {
                ref float o = ref Unsafe.Add(ref output, j);
                var a0 = accumulate ? Vector128.LoadUnsafe(ref o) : Vector128<float>.Zero;
                for (int k = 0; k < count; k++)
                    a0 = Vector128.MultiplyAddEstimate(Vector128.Create(Unsafe.Add(ref coef, k * coefStride)),
                        Vector128.LoadUnsafe(ref Unsafe.Add(ref m, k * mStride + j)), a0);
                a0.StoreUnsafe(ref o);
            }
        }
        for (; j < length; j++)
        {
            float sum = accumulate ? Unsafe.Add(ref output, j) : 0f;
            for (int k = 0; k < count; k++)
                sum += Unsafe.Add(ref coef, k * coefStride) * Unsafe.Add(ref m, k * mStride + j);
            Unsafe.Add(ref output, j) = sum;
        }
    }

    private static void CheckMatrix(ReadOnlySpan<float> w, int rows, int cols)
    {
        if (rows <= 0) throw new ArgumentOutOfRangeException(nameof(rows), rows, "must be positive");
        if (cols <= 0) throw new ArgumentOutOfRangeException(nameof(cols), cols, "must be positive");
        if (w.Length != rows * cols)
            throw new ArgumentException($"matrix span holds {w.Length} floats, a {rows}x{cols} matrix needs {rows * cols}", nameof(w));
    }

    private static void ThrowLength(string name) =>
        throw new ArgumentException("span length does not match the shapes given", name);
}
