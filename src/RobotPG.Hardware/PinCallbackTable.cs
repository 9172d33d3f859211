using System.Device.Gpio;

namespace RobotPG.Hardware;

/// <summary>
/// The value-changed callbacks registered on each pin of an in-memory GPIO driver, filtered by
/// rising/falling edge. Registration copies the pin's array under a lock so that raising an edge
/// reads it lock-free and allocates nothing. Callers check pin numbers against their own header.
/// </summary>
public sealed class PinCallbackTable
{
    private readonly Subscription[][] _subscriptions;
    private readonly object _gate = new();

    private readonly record struct Subscription(PinEventTypes Events, PinChangeEventHandler Handler);

    public PinCallbackTable(int pinCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(pinCount);
        _subscriptions = new Subscription[pinCount][];
        for (int pin = 0; pin < pinCount; pin++) _subscriptions[pin] = [];
    }

    /// <summary>Number of callbacks invoked so far.</summary>
    public long InvocationCount { get; private set; }

    /// <summary>Whether any callback is registered on the pin (so the caller can skip building edge arguments).</summary>
    public bool HasCallbacks(int pin) => Volatile.Read(ref _subscriptions[pin]).Length != 0;

    public void Add(int pin, PinEventTypes eventTypes, PinChangeEventHandler callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        lock (_gate)
        {
            var old = _subscriptions[pin];
            var next = new Subscription[old.Length + 1];
            old.CopyTo(next, 0);
            next[^1] = new Subscription(eventTypes, callback);
            Volatile.Write(ref _subscriptions[pin], next);
        }
    }

    public void Remove(int pin, PinChangeEventHandler callback)
    {
        lock (_gate)
        {
            var old = _subscriptions[pin];
            int index = -1;
            for (int i = 0; i < old.Length; i++)
            {
                if (old[i].Handler != callback) continue;
                index = i;
                break;
            }
            if (index < 0) return;
            var next = new Subscription[old.Length - 1];
            Array.Copy(old, 0, next, 0, index);
            Array.Copy(old, index + 1, next, index, old.Length - index - 1);
            Volatile.Write(ref _subscriptions[pin], next);
        }
    }

    /// <summary>Drops every callback on the pin (the pin was closed).</summary>
    public void Clear(int pin)
    {
        lock (_gate) Volatile.Write(ref _subscriptions[pin], []);
    }

    /// <summary>Invokes, on this thread, the pin's callbacks that asked for <paramref name="edge"/>.</summary>
    public void Raise(object sender, int pin, PinEventTypes edge, PinValueChangedEventArgs args)
    {
        foreach (var s in Volatile.Read(ref _subscriptions[pin]))
        {
            if ((s.Events & edge) == 0) continue;
            InvocationCount++;
            s.Handler(sender, args);
        }
    }

    /// <summary>
    /// Blocks until the pin sees one of <paramref name="eventTypes"/> or the token is cancelled
    /// (reported as timed out), with a callback registered only for the wait.
    /// </summary>
    public WaitForEventResult WaitForEvent(int pin, PinEventTypes eventTypes, CancellationToken cancellationToken)
    {
        var edge = new TaskCompletionSource<PinEventTypes>(TaskCreationOptions.RunContinuationsAsynchronously);
        PinChangeEventHandler handler = (_, args) => edge.TrySetResult(args.ChangeType);
        Add(pin, eventTypes, handler);
        try
        {
            edge.Task.Wait(cancellationToken);
            return new WaitForEventResult { EventTypes = edge.Task.Result, TimedOut = false };
        }
        catch (OperationCanceledException)
        {
            return new WaitForEventResult { EventTypes = PinEventTypes.None, TimedOut = true };
        }
        finally
        {
            Remove(pin, handler);
        }
    }
}
