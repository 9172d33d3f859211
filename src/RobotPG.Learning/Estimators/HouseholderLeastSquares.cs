namespace RobotPG.Learning.Estimators;

/// <summary>
/// Least squares min ‖A x − b‖₂ for a full-column-rank m×n matrix (m ≥ n) by Householder QR, in double,
/// allocation-free after construction. For full column rank the solution equals A⁺b, the pseudoinverse
/// solution note 002 asks for. QR instead of the normal equations AᵀA x = Aᵀb: the normal equations
/// square the condition number (κ(AᵀA) = κ(A)²), Householder QR is backward stable, and for the
/// handful of parameters of a linear policy its 2mn² flops are negligible next to the roll-outs.
/// </summary>
public sealed class HouseholderLeastSquares
{
    private readonly double[] _a;
    private readonly double[] _b;

    public HouseholderLeastSquares(int rows, int columns)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(columns);
        if (rows < columns)
            throw new ArgumentException($"least squares needs at least as many rows as columns (got {rows}×{columns}); use m ≥ n perturbations");
        Rows = rows;
        Columns = columns;
        _a = new double[rows * columns];
        _b = new double[rows];
    }

    public int Rows { get; }
    public int Columns { get; }

    /// <summary>
    /// Solves min ‖A x − b‖ with A row-major (Rows × Columns); A and b are left unchanged.
    /// Returns false (x untouched) when A is numerically rank deficient: some column's part independent of the
    /// columns before it has norm ≤ max|Aᵢⱼ|·max(m, n)·1e-13.
    /// </summary>
    public bool Solve(ReadOnlySpan<double> a, ReadOnlySpan<double> b, Span<double> x)
    {
        int m = Rows, n = Columns;
        if (a.Length != m * n || b.Length != m || x.Length != n)
            throw new ArgumentException($"least squares {m}×{n} got A of {a.Length}, b of {b.Length}, x of {x.Length}");
        a.CopyTo(_a);
        b.CopyTo(_b);
        double scale = 0;
        for (int i = 0; i < _a.Length; i++) scale = Math.Max(scale, Math.Abs(_a[i]));
        double rankTolerance = scale * Math.Max(m, n) * 1e-13;

        for (int k = 0; k < n; k++)
        {
            // Householder vector v for column k below the diagonal, stored in place; R's diagonal is −sign·‖col‖.
            double norm = 0;
            for (int i = k; i < m; i++) norm += _a[i * n + k] * _a[i * n + k];
            norm = Math.Sqrt(norm);
            if (norm <= rankTolerance) return false;
            double alpha = _a[k * n + k] > 0 ? -norm : norm;
            _a[k * n + k] -= alpha; // v = x − α e₁
            double vv = 0;
            for (int i = k; i < m; i++) vv += _a[i * n + k] * _a[i * n + k];
            // Apply H = I − 2vvᵀ/(vᵀv) to the remaining columns and to b.
            for (int j = k + 1; j < n; j++)
            {
                double dot = 0;
                for (int i = k; i < m; i++) dot += _a[i * n + k] * _a[i * n + j];
                double f = 2 * dot / vv;
                for (int i = k; i < m; i++) _a[i * n + j] -= f * _a[i * n + k];
            }
            double db = 0;
            for (int i = k; i < m; i++) db += _a[i * n + k] * _b[i];
            double fb = 2 * db / vv;
            for (int i = k; i < m; i++) _b[i] -= fb * _a[i * n + k];
            _a[k * n + k] = alpha; // R's diagonal (the rest of column k below is no longer needed)
        }
        // Back substitution R x = (Qᵀb)[0..n).
        for (int k = n - 1; k >= 0; k--)
        {
            double sum = _b[k];
            for (int j = k + 1; j < n; j++) sum -= _a[k * n + j] * x[j];
            x[k] = sum / _a[k * n + k];
        }
        return true;
    }
}
