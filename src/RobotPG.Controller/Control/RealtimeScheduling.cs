using System.Runtime.InteropServices;

namespace RobotPG.Controller.Control;

/// <summary>
/// Puts the calling thread under Linux's SCHED_FIFO real-time policy so that builds, logging and
/// telemetry on the same core cannot delay a control step. Needs CAP_SYS_NICE (root) or an
/// RLIMIT_RTPRIO at least the priority asked for (the systemd unit's LimitRTPRIO=80); without
/// either the thread stays at normal priority.
/// </summary>
public static partial class RealtimeScheduling
{
    private const int SchedFifo = 1;

    /// <summary>Tries SCHED_FIFO at <paramref name="priority"/> (1–99) for the calling thread; false when not allowed or not Linux.</summary>
    public static bool TryEnableForCurrentThread(int priority)
    {
        if (!OperatingSystem.IsLinux())
            return false;
        var param = new SchedParam { Priority = priority };
        try
        {
            // pid 0 = the calling thread (Linux schedules threads, not processes).
            return SchedSetScheduler(0, SchedFifo, ref param) == 0;
        }
        catch (EntryPointNotFoundException)
        {
            return false;
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct SchedParam
    {
        public int Priority;
    }

    [LibraryImport("libc", EntryPoint = "sched_setscheduler")]
    private static partial int SchedSetScheduler(int pid, int policy, ref SchedParam param);
}
