using RobotPG.Numerics;

namespace RobotPG.Sim.Devices;

/// <summary>Which way a frame travels between simulator and controller.</summary>
public enum SimLinkDirection
{
    /// <summary>Sensor frames, simulator → controller.</summary>
    Sensors,

    /// <summary>Actuator frames, controller → simulator.</summary>
    Actuators,
}

/// <summary>
/// The MQTT link between the simulator and the controller with its injected faults (<c>--fault mqtt-drop:p=P</c>,
/// <c>mqtt-dup</c>, <c>mqtt-reorder</c>, <c>mqtt-delay:MS</c>): every frame either way goes in through
/// <see cref="Send"/> and comes out of <see cref="Pump"/> when it is due — lost, twice, after the next frame of its
/// direction, or late. Time is the caller's, in milliseconds (the server's Stopwatch; a test's own count), and the
/// random draws are seeded, so a run is reproducible. Also models an outage (a broker restart: nothing gets through).
/// One thread at a time (the caller locks). Allocates a copy per frame in flight: simulator side only.
/// </summary>
public sealed class SimLink
{
    private readonly SimFault[] _faults;
    private readonly List<(long Due, long Order, SimLinkDirection Direction, byte[] Bytes)> _inFlight = [];
    private readonly byte[]?[] _held = new byte[2][];
    private Prng _random;
    private long _order;
    private long _outageFrom = long.MaxValue, _outageUntil = long.MinValue;

    public SimLink(IEnumerable<SimFault> faults, ulong seed)
    {
        _faults = [.. faults.Where(f => f.IsLinkFault && f.Kind != SimFaultKind.BrokerRestart)];
        _random = new Prng(seed ^ 0x11CC_FA17_0000_0002UL);
    }

    /// <summary>True when some fault acts on the frames (otherwise callers may bypass the link).</summary>
    public bool HasFaults => _faults.Length > 0;

    public long Dropped { get; private set; }

    public long Duplicated { get; private set; }

    public long Reordered { get; private set; }

    public long Delayed { get; private set; }

    /// <summary>Frames lost in an outage.</summary>
    public long LostInOutage { get; private set; }

    /// <summary>Frames waiting in the link (late or held back).</summary>
    public int InFlight => _inFlight.Count + (_held[0] is null ? 0 : 1) + (_held[1] is null ? 0 : 1);

    /// <summary>Nothing gets through from <paramref name="fromMs"/> until <paramref name="untilMs"/>; what is in flight is lost.</summary>
    public void Outage(long fromMs, long untilMs)
    {
        _outageFrom = fromMs;
        _outageUntil = untilMs;
    }

    /// <summary>
    /// A frame enters the link at <paramref name="nowMs"/>; <paramref name="actuatorFrames"/> (actuator frames the
    /// simulator has applied so far) decides which faults are on (their <c>@N</c>).
    /// </summary>
    public void Send(SimLinkDirection direction, ReadOnlySpan<byte> frame, long nowMs, long actuatorFrames)
    {
        if (nowMs >= _outageFrom && nowMs < _outageUntil)
        {
            LostInOutage++;
            return;
        }
        bool duplicate = false, holdBack = false;
        long delay = 0;
        foreach (var fault in _faults)
        {
            if (actuatorFrames < fault.FromFrame) continue;
            switch (fault.Kind)
            {
                case SimFaultKind.MqttDrop when _random.NextDouble() < fault.Probability:
                    Dropped++;
                    return;
                case SimFaultKind.MqttDuplicate:
                    duplicate |= _random.NextDouble() < fault.Probability;
                    break;
                case SimFaultKind.MqttReorder:
                    holdBack |= _random.NextDouble() < fault.Probability;
                    break;
                case SimFaultKind.MqttDelay:
                    delay += fault.DelayMs;
                    break;
            }
        }
        if (delay > 0) Delayed++;
        byte[] bytes = frame.ToArray();
        int d = (int)direction;
        if (holdBack && _held[d] is null)
        {
            // Overtaken by the next frame of this direction (in lockstep: the simulator's republish, the controller's re-answer).
            _held[d] = bytes;
            Reordered++;
            return;
        }
        Enqueue(nowMs + delay, direction, bytes);
        if (duplicate)
        {
            Duplicated++;
            Enqueue(nowMs + delay, direction, bytes);
        }
        if (_held[d] is { } held)
        {
            _held[d] = null;
            Enqueue(nowMs + delay, direction, held);
        }
    }

    /// <summary>Hands every frame of <paramref name="direction"/> due at <paramref name="nowMs"/> to <paramref name="deliver"/>, oldest first.</summary>
    public int Pump(SimLinkDirection direction, long nowMs, Action<byte[]> deliver)
    {
        int delivered = 0;
        while (true)
        {
            int next = -1;
            for (int i = 0; i < _inFlight.Count; i++)
            {
                var f = _inFlight[i];
                if (f.Direction != direction || f.Due > nowMs) continue;
                if (next < 0 || f.Due < _inFlight[next].Due || (f.Due == _inFlight[next].Due && f.Order < _inFlight[next].Order)) next = i;
            }
            if (next < 0) return delivered;
            var frame = _inFlight[next];
            _inFlight.RemoveAt(next);
            if (frame.Due >= _outageFrom && frame.Due < _outageUntil)
            {
                LostInOutage++;
                continue;
            }
            deliver(frame.Bytes);
            delivered++;
        }
    }

    private void Enqueue(long due, SimLinkDirection direction, byte[] bytes) => _inFlight.Add((due, _order++, direction, bytes));
}
