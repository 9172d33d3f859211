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

    /// <summary>Control thread, at the start of a step: switches to a published policy if there is one.</summary>
    public ControlPolicy AcquireForStep()
    {
        var next = Interlocked.Exchange(ref _pending, null);
        if (next is not null)
        {
            Volatile.Write(ref _released, _current);
            _current = next;
            Interlocked.Increment(ref _swaps);
        }
        return _current;
    }
}
