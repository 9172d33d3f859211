namespace RobotPG.Controller.Control;

/// <summary>
/// Counts of durations in 1 µs buckets up to a cap (the last bucket takes everything above), plus
/// the exact maximum. Recorded by one thread without allocation; read by others for percentiles
/// (a read racing a write may be off by one sample, which percentiles tolerate).
/// </summary>
public sealed class LatencyHistogram
{
    private readonly long[] _counts;
    private long _total;
    private long _maxTicks;

    public LatencyHistogram(int maxMicroseconds = 20_000) => _counts = new long[maxMicroseconds + 1];

    public long Count => Volatile.Read(ref _total);

    /// <summary>Largest recorded value, µs.</summary>
    public double MaxMicroseconds => Volatile.Read(ref _maxTicks) * 1e6 / System.Diagnostics.Stopwatch.Frequency;

    /// <summary>Records a duration given in <see cref="System.Diagnostics.Stopwatch"/> ticks (negative counts as 0).</summary>
    public void Record(long ticks)
    {
        if (ticks < 0)
            ticks = 0;
        long us = ticks * 1_000_000 / System.Diagnostics.Stopwatch.Frequency;
        int bucket = us >= _counts.Length ? _counts.Length - 1 : (int)us;
        _counts[bucket]++;
        if (ticks > _maxTicks)
            Volatile.Write(ref _maxTicks, ticks);
        Volatile.Write(ref _total, _total + 1);
    }

    /// <summary>The <paramref name="quantile"/> (0–1) in µs, as the upper edge of its bucket; 0 when empty.</summary>
    public double Percentile(double quantile)
    {
        long total = Count;
        if (total == 0)
            return 0;
        long rank = (long)Math.Ceiling(quantile * total);
        if (rank < 1)
            rank = 1;
        long seen = 0;
        for (int i = 0; i < _counts.Length; i++)
        {
            seen += Volatile.Read(ref _counts[i]);
            if (seen >= rank)
                return i + 1;
        }
        return _counts.Length;
    }

    public void Clear()
    {
        Array.Clear(_counts);
        Volatile.Write(ref _total, 0);
        Volatile.Write(ref _maxTicks, 0);
    }
}
