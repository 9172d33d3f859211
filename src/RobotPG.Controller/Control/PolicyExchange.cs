namespace RobotPG.Controller.Control;

/// <summary>
/// Front/back hand-over of policies between a learner and the control loop without a lock on the
/// loop's side: the learner <see cref="Publish"/>es a new policy; the loop picks it up at the start
/// of its next step (<see cref="AcquireForStep"/>) and hands back the one it stopped using, which the
/// learner may then <see cref="TakeReleased"/> and overwrite. A policy object is never written while
/// the loop can still read it.
/// </summary>
public sealed class PolicyExchange
{
    /// <summary>Swaps remembered for <see cref="TryGetSwap"/>; a reader more than this many swaps behind loses the oldest.</summary>
    public const int SwapHistory = 16;

    private readonly long[] _swapSteps = new long[SwapHistory];
    private readonly ulong[] _swapVersions = new ulong[SwapHistory];
    private ControlPolicy _current;
    private ControlPolicy? _pending;
    private ControlPolicy? _released;
    private long _swaps;

    public PolicyExchange(ControlPolicy initial) => _current = initial;

    /// <summary>The policy of the step in progress (control thread).</summary>
    public ControlPolicy Current => _current;

    /// <summary>Policies taken over by the loop so far.</summary>
    public long Swaps => Interlocked.Read(ref _swaps);

    /// <summary>Learner side: offers <paramref name="next"/>; a policy offered earlier and not yet taken is returned to the caller.</summary>
    public ControlPolicy? Publish(ControlPolicy next) => Interlocked.Exchange(ref _pending, next);

    /// <summary>Learner side: the policy the loop stopped using, or null if none since the last call.</summary>
    public ControlPolicy? TakeReleased() => Interlocked.Exchange(ref _released, null);

    /// <summary>
    /// Control thread, at the start of step <paramref name="step"/>: switches to a published policy if there is
    /// one, and records from which step it runs (and its <see cref="ControlPolicy.Version"/>) before anything of
    /// that step is logged, so a reader that has seen a step's record also sees the swap that made it.
    /// </summary>
    public ControlPolicy AcquireForStep(long step = 0)
    {
        var next = Interlocked.Exchange(ref _pending, null);
        if (next is not null)
        {
            Volatile.Write(ref _released, _current);
            _current = next;
            int slot = (int)(_swaps % SwapHistory);
            _swapSteps[slot] = step;
            _swapVersions[slot] = next.Version;
            Interlocked.Increment(ref _swaps); // publishes the slot
        }
        return _current;
    }

    /// <summary>
    /// Any thread: the step from which swap number <paramref name="index"/> (0-based, below <see cref="Swaps"/>)
    /// ran its policy, and that policy's version. False when the swap is not made yet or has left the history.
    /// </summary>
    public bool TryGetSwap(long index, out long step, out ulong version)
    {
        step = 0;
        version = 0;
        if (index < 0 || index >= Interlocked.Read(ref _swaps)) return false;
        int slot = (int)(index % SwapHistory);
        step = Volatile.Read(ref _swapSteps[slot]);
        version = Volatile.Read(ref _swapVersions[slot]);
        // The slot is reused SwapHistory swaps later: if that happened meanwhile, the pair may be torn.
        return Interlocked.Read(ref _swaps) - index <= SwapHistory;
    }
}
