using System.Numerics;

namespace RobotPG.Learning.Estimators;

/// <summary>
/// A symmetric positive-definite linear map y = A x that conjugate gradient can query without ever
/// forming A (for TRPO and the natural gradient, A is the Fisher matrix and <see cref="Apply"/> is the
/// exact Fisher-vector product). An interface instead of a delegate: a struct implementation passed by
/// <c>ref</c> to the generic solver is called directly, with no allocation and no boxing.
/// </summary>
public interface ILinearOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>result = A x.</summary>
    void Apply(ReadOnlySpan<T> x, Span<T> result);
}

/// <summary>Outcome of one <see cref="ConjugateGradient{T}.Solve{TOperator}"/> call.</summary>
public readonly record struct ConjugateGradientResult(int Iterations, double ResidualNorm, double RightHandSideNorm)
{
    /// <summary>‖b − (A + λI) x‖ / ‖b‖ as tracked by the CG recursion.</summary>
    public double RelativeResidual => RightHandSideNorm > 0 ? ResidualNorm / RightHandSideNorm : 0;
}

/// <summary>
/// Conjugate gradient for (A + λI) x = b with A symmetric positive definite — note 001 (TRPO section:
/// "Can solve for this step approximately using conjugate gradient method") and note 004 (natural
/// gradient needs F⁻¹g). Only matrix-vector products with A are needed, so the Fisher matrix is never
/// built. The damping λ (TRPO default 0.1) keeps the system well conditioned when F is near singular.
/// Work vectors are allocated once for the dimension; <see cref="Solve{TOperator}"/> allocates nothing.
/// Dot products accumulate in double so the float instantiation keeps its residual honest.
/// </summary>
public sealed class ConjugateGradient<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T[] _residual;
    private readonly T[] _direction;
    private readonly T[] _product;

    public ConjugateGradient(int dimension)
    {
        if (dimension <= 0)
            throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "conjugate gradient needs a positive dimension");
        Dimension = dimension;
        _residual = new T[dimension];
        _direction = new T[dimension];
        _product = new T[dimension];
    }

    public int Dimension { get; }

    /// <summary>
    /// Solves (A + damping·I) x = b starting from x = 0, for at most <paramref name="maxIterations"/>
    /// iterations or until ‖r‖ ≤ <paramref name="relativeTolerance"/>·‖b‖.
    /// </summary>
    public ConjugateGradientResult Solve<TOperator>(ref TOperator matrix, ReadOnlySpan<T> b, Span<T> x,
        int maxIterations, double damping = 0, double relativeTolerance = 1e-10)
        where TOperator : ILinearOperator<T>, allows ref struct
    {
        int n = Dimension;
        if (b.Length != n || x.Length != n)
            throw new ArgumentException($"conjugate gradient of dimension {n} got b of length {b.Length} and x of length {x.Length}");
        if (maxIterations <= 0)
            throw new ArgumentOutOfRangeException(nameof(maxIterations), maxIterations, "must be positive");
        if (damping < 0)
            throw new ArgumentOutOfRangeException(nameof(damping), damping, "damping must be non-negative");

        Span<T> r = _residual, p = _direction, ap = _product;
        x.Clear();
        b.CopyTo(r);
        b.CopyTo(p);
        double rr = Dot(r, r);
        double bNorm = Math.Sqrt(rr);
        double stop = relativeTolerance * bNorm;
        T lambda = T.CreateTruncating(damping);
        int iteration = 0;
        while (iteration < maxIterations && Math.Sqrt(rr) > stop)
        {
            matrix.Apply(p, ap);
            if (damping != 0)
                for (int i = 0; i < n; i++) ap[i] += lambda * p[i];
            double pap = Dot(p, ap);
            if (!(pap > 0))
                break; // A + λI is not positive definite along p (or p vanished): stop with the best x so far.
            T alpha = T.CreateTruncating(rr / pap);
            for (int i = 0; i < n; i++)
            {
                x[i] += alpha * p[i];
                r[i] -= alpha * ap[i];
            }
            double rrNew = Dot(r, r);
            T beta = T.CreateTruncating(rrNew / rr);
            for (int i = 0; i < n; i++) p[i] = r[i] + beta * p[i];
            rr = rrNew;
            iteration++;
        }
        return new ConjugateGradientResult(iteration, Math.Sqrt(rr), bNorm);
    }

    private static double Dot(ReadOnlySpan<T> a, ReadOnlySpan<T> b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++) sum += double.CreateTruncating(a[i]) * double.CreateTruncating(b[i]);
        return sum;
    }
}
