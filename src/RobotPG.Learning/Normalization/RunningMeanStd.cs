namespace RobotPG.Learning.Normalization;

/// <summary>
/// Running per-component mean and (population) variance, as Gymnasium's RunningMeanStd: starts at
/// mean 0, variance 1, count 1e-4, and merges batch moments by Chan et al.'s parallel formula, in
/// double. <see cref="Normalize"/> uses float copies of mean and 1/√(var + ε) refreshed on every
/// update, so the control step pays one multiply-add per component and allocates nothing.
/// </summary>
public sealed class RunningMeanStd
{
    /// <summary>Gymnasium's initial pseudo-count: the prior (0, 1) weighs as 1e-4 samples.</summary>
    public const double InitialCount = 1e-4;

    private readonly double[] _mean;
    private readonly double[] _variance;
    private readonly double[] _batchMean;
    private readonly double[] _batchM2;
    private readonly float[] _meanF;
    private readonly float[] _invStdF;
    private double _count;

    public RunningMeanStd(int size, double epsilon = 1e-8)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        if (!(epsilon >= 0)) throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "must be ≥ 0");
        Epsilon = epsilon;
        _mean = new double[size];
        _variance = new double[size];
        _batchMean = new double[size];
        _batchM2 = new double[size];
        _meanF = new float[size];
        _invStdF = new float[size];
        Reset();
    }

    public int Size => _mean.Length;

    /// <summary>Added to the variance before the square root in <see cref="Normalize"/> (Gymnasium: 1e-8).</summary>
    public double Epsilon { get; }

    public double Count => _count;
    public ReadOnlySpan<double> Mean => _mean;
    public ReadOnlySpan<double> Variance => _variance;

    public void Reset()
    {
        _mean.AsSpan().Clear();
        _variance.AsSpan().Fill(1.0);
        _count = InitialCount;
        Refresh();
    }

    /// <summary>Adds one sample.</summary>
    public void Update(ReadOnlySpan<float> sample)
    {
        if (sample.Length != Size) throw new ArgumentException($"sample has {sample.Length} values, expected {Size}", nameof(sample));
        Update(sample, 1);
    }

    /// <summary>Adds <paramref name="count"/> samples, the rows of <paramref name="batch"/> (count×Size).</summary>
    public void Update(ReadOnlySpan<float> batch, int count)
    {
        int n = Size;
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "must be ≥ 1");
        if (batch.Length < count * n) throw new ArgumentException($"batch holds fewer than {count} rows of {n}", nameof(batch));
        // Two passes over the batch: its mean, then its sum of squared deviations (stable in double).
        _batchMean.AsSpan().Clear();
        _batchM2.AsSpan().Clear();
        for (int i = 0; i < count; i++)
            for (int j = 0; j < n; j++) _batchMean[j] += batch[i * n + j];
        for (int j = 0; j < n; j++) _batchMean[j] /= count;
        for (int i = 0; i < count; i++)
            for (int j = 0; j < n; j++)
            {
                double d = batch[i * n + j] - _batchMean[j];
                _batchM2[j] += d * d;
            }
        for (int j = 0; j < n; j++) _batchM2[j] /= count;
        Combine(_batchMean, _batchM2, count);
    }

    /// <summary>Folds in the statistics of another instance (e.g. a parallel worker's).</summary>
    public void Merge(RunningMeanStd other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.Size != Size) throw new ArgumentException($"sizes differ: {other.Size} vs {Size}", nameof(other));
        other._mean.AsSpan().CopyTo(_batchMean);
        other._variance.AsSpan().CopyTo(_batchM2);
        Combine(_batchMean, _batchM2, other._count);
    }

    /// <summary>
    /// output = clamp((x − mean)/√(var + ε), −clip, clip). <paramref name="output"/> may be the same span as the input.
    /// </summary>
    public void Normalize(ReadOnlySpan<float> observation, Span<float> output, float clip = float.PositiveInfinity)
    {
        if (observation.Length != Size) throw new ArgumentException($"observation has {observation.Length} values, expected {Size}", nameof(observation));
        if (output.Length != Size) throw new ArgumentException($"output has {output.Length} values, expected {Size}", nameof(output));
        for (int j = 0; j < observation.Length; j++)
            output[j] = Math.Clamp((observation[j] - _meanF[j]) * _invStdF[j], -clip, clip);
    }

    /// <summary>Sets the statistics (checkpoint restore).</summary>
    public void Restore(ReadOnlySpan<double> mean, ReadOnlySpan<double> variance, double count)
    {
        if (mean.Length != Size) throw new ArgumentException($"mean must hold {Size} values", nameof(mean));
        if (variance.Length != Size) throw new ArgumentException($"variance must hold {Size} values", nameof(variance));
        if (!(count > 0) || double.IsInfinity(count)) throw new ArgumentOutOfRangeException(nameof(count), count, "must be positive and finite");
        mean.CopyTo(_mean);
        variance.CopyTo(_variance);
        _count = count;
        Refresh();
    }

    public void CopyFrom(RunningMeanStd other)
    {
        ArgumentNullException.ThrowIfNull(other);
        Restore(other._mean, other._variance, other._count);
    }

    // Chan et al.: combine (mean, var, count) with a batch's (mean, var, count).
    private void Combine(double[] batchMean, double[] batchVariance, double batchCount)
    {
        double total = _count + batchCount;
        for (int j = 0; j < Size; j++)
        {
            double delta = batchMean[j] - _mean[j];
            double m2 = _variance[j] * _count + batchVariance[j] * batchCount + delta * delta * _count * batchCount / total;
            _mean[j] += delta * batchCount / total;
            _variance[j] = m2 / total;
        }
        _count = total;
        Refresh();
    }

    private void Refresh()
    {
        for (int j = 0; j < Size; j++)
        {
            _meanF[j] = (float)_mean[j];
            _invStdF[j] = (float)(1.0 / Math.Sqrt(_variance[j] + Epsilon));
        }
    }
}
