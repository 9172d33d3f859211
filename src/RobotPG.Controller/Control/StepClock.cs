using System.Diagnostics;

namespace RobotPG.Controller.Control;

/// <summary>When the next control step may start.</summary>
public interface IStepClock
{
    /// <summary>Waits until the step due at <paramref name="deadline"/> (Stopwatch ticks) may start; returns the time it starts.</summary>
    long WaitUntil(long deadline);

    /// <summary>
    /// False when the last <see cref="WaitUntil"/> ended without a period having passed: a lockstep wait that ran past its
    /// limit with no tick from the simulator, whose robot time stood still. The loop then takes no step (see
    /// <see cref="ControlLoop.Run"/>). A wall clock's period always passes.
    /// </summary>
    bool PeriodPassed => true;
}

/// <summary>
/// Wall-clock pacing: sleep until about 1 ms before the deadline (a Linux sleep overshoots by
/// 60–100 µs and more under load), then spin on <see cref="Stopwatch"/> for the rest.
/// </summary>
public sealed class RealTimeClock : IStepClock
{
    private static readonly long SpinWindowTicks = Stopwatch.Frequency / 1000;

    public long WaitUntil(long deadline)
    {
        long now = Stopwatch.GetTimestamp();
        long remaining = deadline - now;
        if (remaining > SpinWindowTicks)
        {
            int sleepMs = (int)((remaining - SpinWindowTicks) * 1000 / Stopwatch.Frequency);
            if (sleepMs > 0)
                Thread.Sleep(sleepMs);
        }
        while ((now = Stopwatch.GetTimestamp()) < deadline)
            Thread.SpinWait(20);
        return now;
    }
}
