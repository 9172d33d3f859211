using RobotPG.Controller.Learning;
using RobotPG.Hardware;

namespace RobotPG.Sim.Environments;

/// <summary>
/// The in-process simulator's episode reset for a robot the learner has no reset rule for (no IMU:
/// the cart-pole): when an episode ends the robot is put back at once, and the next episode starts
/// on the first frame read after it. Runs on the stepping thread; allocates nothing.
/// </summary>
public sealed class SimulatorReset(Action reset) : IEpisodeReset
{
    private bool _pending;

    public long Resets { get; private set; }

    public void EpisodeEnded() => _pending = true;

    public bool ReadyForNextEpisode(SensorFrame frame)
    {
        if (!_pending) return true;
        // This step's frame was read before the reset: the next one is the first of the new episode.
        reset();
        Resets++;
        _pending = false;
        return false;
    }
}
