namespace RobotPG.Controller.Learning;

/// <summary>
/// Bounded hand-over of learner events to a reader thread (telemetry publisher, the demo's display):
/// fixed arrays filled under a short lock, no allocation per event; when the reader falls behind the
/// oldest entries are overwritten and counted.
/// </summary>
public sealed class LearningEventQueue : ILearningObserver
{
    private readonly object _gate = new();
    private readonly LearnerUpdate[] _updates;
    private readonly LearnerRollback[] _rollbacks;
    private readonly (long Episode, double Return, int Length)[] _episodes;
    private readonly Queue<string> _warnings = new();
    private long _updateHead, _updateTail, _rollbackHead, _rollbackTail, _episodeHead, _episodeTail;

    public LearningEventQueue(int capacity = 256)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _updates = new LearnerUpdate[capacity];
        _rollbacks = new LearnerRollback[capacity];
        _episodes = new (long, double, int)[capacity];
    }

    /// <summary>Events overwritten before the reader took them.</summary>
    public long Overwritten { get; private set; }

    public void OnUpdate(in LearnerUpdate update)
    {
        lock (_gate) Put(_updates, ref _updateHead, ref _updateTail, update);
    }

    public void OnRollback(in LearnerRollback rollback)
    {
        lock (_gate) Put(_rollbacks, ref _rollbackHead, ref _rollbackTail, rollback);
    }

    public void OnEpisode(long episode, double episodeReturn, int length)
    {
        lock (_gate) Put(_episodes, ref _episodeHead, ref _episodeTail, (episode, episodeReturn, length));
    }

    public void OnWarning(string message)
    {
        lock (_gate) _warnings.Enqueue(message);
    }

    public bool TryTakeUpdate(out LearnerUpdate update)
    {
        lock (_gate) return Take(_updates, ref _updateHead, ref _updateTail, out update);
    }

    public bool TryTakeRollback(out LearnerRollback rollback)
    {
        lock (_gate) return Take(_rollbacks, ref _rollbackHead, ref _rollbackTail, out rollback);
    }

    public bool TryTakeEpisode(out (long Episode, double Return, int Length) episode)
    {
        lock (_gate) return Take(_episodes, ref _episodeHead, ref _episodeTail, out episode);
    }

    public bool TryTakeWarning(out string message)
    {
        lock (_gate) return _warnings.TryDequeue(out message!);
    }

    private void Put<T>(T[] ring, ref long head, ref long tail, in T item)
    {
        if (head - tail == ring.Length)
        {
            tail++;
            Overwritten++;
        }
        ring[head % ring.Length] = item;
        head++;
    }

    private static bool Take<T>(T[] ring, ref long head, ref long tail, out T item)
    {
        if (tail == head)
        {
            item = default!;
            return false;
        }
        item = ring[tail % ring.Length];
        tail++;
        return true;
    }
}
