using System.Collections.Concurrent;

namespace RobotPG.Controller.Control;

/// <summary>What an accepted operator command asks of the control loop.</summary>
public enum OperatorAction
{
    /// <summary>stop: motors off and held off (<see cref="SafetyCause.OperatorHold"/>).</summary>
    Hold,
    /// <summary>start: release an operator hold.</summary>
    Resume,
    /// <summary>clear-estop: release an e-stop.</summary>
    ClearEmergencyStop,
}

/// <summary>
/// Hand-over of verified operator commands from the command thread to the control loop, which applies
/// them at the start of a step (the safety supervisor's state belongs to the loop). Never blocks
/// either side; the loop's side allocates nothing. The e-stop itself does not wait for a step boundary:
/// it goes straight to <see cref="SafetySupervisor.RequestEmergencyStop"/>.
/// </summary>
public sealed class OperatorCommandQueue
{
    private const int Capacity = 64;
    private readonly ConcurrentQueue<OperatorAction> _queue = new();
    private long _applied;
    private long _lastAppliedStep = -1;

    /// <summary>Commands applied by the loop so far.</summary>
    public long Applied => Interlocked.Read(ref _applied);

    /// <summary>The step at whose start the last command was applied (−1: none yet).</summary>
    public long LastAppliedStep => Interlocked.Read(ref _lastAppliedStep);

    /// <summary>Command thread: false when the loop has fallen 64 commands behind (it is not running).</summary>
    public bool TryEnqueue(OperatorAction action)
    {
        if (_queue.Count >= Capacity) return false;
        _queue.Enqueue(action);
        return true;
    }

    /// <summary>Control thread, start of a step.</summary>
    internal void Apply(SafetySupervisor safety, long step)
    {
        while (_queue.TryDequeue(out var action))
        {
            switch (action)
            {
                case OperatorAction.Hold:
                    safety.Trip(SafetyCause.OperatorHold);
                    break;
                case OperatorAction.Resume:
                    if (safety.Tripped && safety.Cause == SafetyCause.OperatorHold) safety.Rearm();
                    break;
                case OperatorAction.ClearEmergencyStop:
                    safety.ClearEmergencyStop();
                    break;
            }
            Interlocked.Increment(ref _applied);
            Interlocked.Exchange(ref _lastAppliedStep, step);
        }
    }
}
