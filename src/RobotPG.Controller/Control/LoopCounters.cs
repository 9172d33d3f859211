namespace RobotPG.Controller.Control;

/// <summary>
/// Counters the loop bumps and the telemetry thread reads: episodes, returns, faults, overruns.
/// Written by the control thread only; 64-bit reads and writes are atomic, so readers see whole values.
/// </summary>
public sealed class LoopCounters
{
    private long _episodes;
    private double _lastEpisodeReturn;
    private long _lastEpisodeLength;
    private double _episodeReturn;
    private long _episodeLength;
    private long _overruns;
    private long _busFaults;
    private long _softwareFaults;
    private long _logDrops;
    private long _missedPeriods;

    public long Episodes => Interlocked.Read(ref _episodes);

    public double LastEpisodeReturn => Volatile.Read(ref _lastEpisodeReturn);

    public long LastEpisodeLength => Interlocked.Read(ref _lastEpisodeLength);

    /// <summary>Return of the episode in progress so far.</summary>
    public double EpisodeReturn => Volatile.Read(ref _episodeReturn);

    public long EpisodeLength => Interlocked.Read(ref _episodeLength);

    /// <summary>Steps that ended after the next deadline.</summary>
    public long Overruns => Interlocked.Read(ref _overruns);

    /// <summary>
    /// Sensor periods the loop did not answer on time: a step that read the same frame as the step before, plus the
    /// frames skipped when the sequence jumped by more than one. The loop's own clock of "no period missed".
    /// </summary>
    public long MissedPeriods => Interlocked.Read(ref _missedPeriods);

    /// <summary>Failed bus transfers (each retry counts).</summary>
    public long BusFaults => Interlocked.Read(ref _busFaults);

    /// <summary>Exceptions from the task or the policy.</summary>
    public long SoftwareFaults => Interlocked.Read(ref _softwareFaults);

    /// <summary>Transitions the log ring refused (writer behind).</summary>
    public long LogDrops => Interlocked.Read(ref _logDrops);

    internal void EndEpisode(double episodeReturn, long length)
    {
        Volatile.Write(ref _lastEpisodeReturn, episodeReturn);
        Volatile.Write(ref _lastEpisodeLength, length);
        Interlocked.Increment(ref _episodes);
    }

    internal void SetEpisodeInProgress(double episodeReturn, long length)
    {
        Volatile.Write(ref _episodeReturn, episodeReturn);
        Volatile.Write(ref _episodeLength, length);
    }

    internal void AddOverrun() => Interlocked.Increment(ref _overruns);

    internal void AddMissedPeriods(long periods) => Interlocked.Add(ref _missedPeriods, periods);

    internal void AddBusFault() => Interlocked.Increment(ref _busFaults);

    internal void AddSoftwareFault() => Interlocked.Increment(ref _softwareFaults);

    internal void AddLogDrop() => Interlocked.Increment(ref _logDrops);
}
