using RobotPG.Numerics;

namespace RobotPG.Learning.Networks;

/// <summary>
/// Orthogonal weight initialisation as in PyTorch's <c>orthogonal_</c> (what CleanRL's layer_init
/// uses): the Q factor of a Gaussian matrix, signs fixed so that R has a positive diagonal, times a gain.
/// </summary>
public static class OrthogonalInitialization
{
    /// <summary>Fills the rows×cols row-major <paramref name="weights"/>. Allocates scratch: construction time only.</summary>
    public static void Fill(Span<float> weights, int rows, int cols, float gain, ref Prng prng)
    {
        if (rows <= 0 || cols <= 0 || weights.Length != rows * cols)
            throw new ArgumentException($"weights must hold {rows}x{cols} floats", nameof(weights));
        // Work on the tall orientation m×n (m ≥ n) so the columns can be orthonormal.
        bool transpose = rows < cols;
        int m = transpose ? cols : rows;
        int n = transpose ? rows : cols;
        var a = new double[m * n]; // a[i*n + j], row-major, m×n
        for (int i = 0; i < a.Length; i++) a[i] = prng.NextGaussian();

        // Modified Gram–Schmidt in double: Q with positive R diagonal, i.e. QR with sign(diag R) folded in.
        for (int j = 0; j < n; j++)
        {
            for (int k = 0; k < j; k++)
            {
                double proj = 0;
                for (int i = 0; i < m; i++) proj += a[i * n + k] * a[i * n + j];
                for (int i = 0; i < m; i++) a[i * n + j] -= proj * a[i * n + k];
            }
            double norm = 0;
            for (int i = 0; i < m; i++) norm += a[i * n + j] * a[i * n + j];
            norm = Math.Sqrt(norm);
            if (norm < 1e-12)
                throw new InvalidOperationException("degenerate Gaussian draw in orthogonal initialisation");
            for (int i = 0; i < m; i++) a[i * n + j] /= norm;
        }

        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                weights[r * cols + c] = (float)(gain * (transpose ? a[c * n + r] : a[r * n + c]));
    }
}
