namespace RobotPG.Controller.Learning;

/// <summary>
/// Lockstep only: where the control loop must wait for the on-device learner, so that an update takes no
/// robot time (as in the in-process trainer) and the learner thread's speed changes nothing the robot does. The learner
/// publishes, after each pump, <see cref="LastStep"/>: the last loop step that may run before its batch can be
/// full (each in-episode record adds at most one transition, so the batch cannot fill before the record of that
/// step). The loop does not start a later step until the learner has taken the records up to it and moved the
/// gate on — after the update and its policy swap when the batch did fill. While the learner evaluates a new
/// policy, its verdict (accept, or roll back) comes at an episode's end, so the loop also waits after each episode
/// end until the learner has taken it; it never waits for a verdict that needs more steps. A learner that stops
/// (shut down, or learning stopped after repeated faults) <see cref="Release"/>s the gate for good. Lock-free:
/// the loop reads three volatile longs per step.
/// </summary>
public sealed class LearnerGate
{
    /// <summary>The value of <see cref="LastStep"/> that holds nothing.</summary>
    public const long Open = long.MaxValue;

    private long _lastStep;
    private long _holdAtEpisodeEnds;
    private long _takenStep = -1;
    private long _loopWaitsAt;
    private volatile bool _released;

    /// <param name="batchSteps">The learner's batch: before any record is taken the batch cannot be full before step <paramref name="batchSteps"/>.</param>
    public LearnerGate(int batchSteps)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSteps, 1);
        _lastStep = batchSteps - 1L;
    }

    /// <summary>The last loop step that may run before the learner moves the gate on.</summary>
    public long LastStep => _released ? Open : Volatile.Read(ref _lastStep);

    /// <summary>True while the learner evaluates a policy: the loop waits after each episode end until the learner took it.</summary>
    public bool HoldsAtEpisodeEnds => !_released && Volatile.Read(ref _holdAtEpisodeEnds) != 0;

    /// <summary>The loop step of the newest record the learner has taken and acted on (−1: none yet).</summary>
    public long TakenStep => Volatile.Read(ref _takenStep);

    /// <summary>True once the learner stopped: the gate holds nothing any more.</summary>
    public bool Released => _released;

    /// <summary>
    /// Loop side: may step <paramref name="step"/> start, <paramref name="lastEpisodeEndStep"/> being the step of the
    /// newest episode-ending record the loop handed to the learner (−1: none)? Reads the gate first, then the rest,
    /// in the reverse of the order the learner writes them.
    /// </summary>
    public bool MayStart(long step, long lastEpisodeEndStep)
    {
        if (step > LastStep) return false;
        return !HoldsAtEpisodeEnds || TakenStep >= lastEpisodeEndStep;
    }

    /// <summary>Loop side, when held: the step it waits to start (every step before it is done and its record in the ring).</summary>
    public void LoopWaitsAt(long step) => Volatile.Write(ref _loopWaitsAt, step);

    /// <summary>Learner side, before it drains the ring: the step the loop waits at (0: not known to wait).</summary>
    public long LoopWaitingAt => Volatile.Read(ref _loopWaitsAt);

    /// <summary>Learner side, after a pump: publishes its position. The gate itself is written last (the loop reads it first).</summary>
    public void Set(long lastStep, bool holdAtEpisodeEnds, long takenStep)
    {
        Volatile.Write(ref _holdAtEpisodeEnds, holdAtEpisodeEnds ? 1 : 0);
        Volatile.Write(ref _takenStep, takenStep);
        Volatile.Write(ref _lastStep, lastStep);
    }

    /// <summary>The learner stopped: nothing is held from now on (a later <see cref="Set"/> changes nothing).</summary>
    public void Release() => _released = true;
}
