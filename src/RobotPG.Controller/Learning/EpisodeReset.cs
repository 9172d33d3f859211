using RobotPG.Controller.Configuration;
using RobotPG.Controller.Tasks;
using RobotPG.Hardware;

namespace RobotPG.Controller.Learning;

/// <summary>
/// What the loop does between episodes on a learning robot (issue 7 §2): after a termination the
/// motors stay off until <see cref="ReadyForNextEpisode"/> says the robot is back; then the loop
/// clears a tilt trip and begins the next episode. Called on the control thread only; must not allocate.
/// </summary>
public interface IEpisodeReset
{
    /// <summary>An episode just ended; motors are off from this step on.</summary>
    void EpisodeEnded();

    /// <summary>Each step while waiting: true once the robot in <paramref name="frame"/> may start an episode.</summary>
    bool ReadyForNextEpisode(SensorFrame frame);
}

/// <summary>
/// The reset condition of a balancing robot: upright (the accelerometer's pitch — the filtered one
/// lags a robot that was just stood up — within <see cref="UprightRad"/>) and still (|ω| below
/// <see cref="StillRadPerS"/>) for <see cref="HoldSteps"/> consecutive steps. On hardware a person
/// stands the robot up; for a simulated robot <see cref="EpisodeEnded"/> also requests a reset, taken by
/// <see cref="TryTakeResetRequest"/> (the sim bus puts it in its next actuator frame; an in-process trainer resets
/// its environment), and requests one again every <see cref="RetrySteps"/> steps of waiting — a real-time
/// simulator's robot, reset between two frames, may have fallen again before one is read.
/// </summary>
public sealed class UprightResetCondition : IEpisodeReset
{
    private readonly ImuAxis _forward;
    private readonly ImuAxis _up;
    private int _held;
    private int _waited;

    public UprightResetCondition(ImuMounting mounting, double uprightDeg, double stillRadPerS, int holdSteps, int retrySteps = int.MaxValue)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(retrySteps, 1);
        RetrySteps = retrySteps;
        ArgumentNullException.ThrowIfNull(mounting);
        ArgumentOutOfRangeException.ThrowIfNegative(holdSteps);
        _forward = mounting.Forward;
        _up = mounting.Up;
        UprightRad = (float)(uprightDeg * Math.PI / 180);
        StillRadPerS = (float)stillRadPerS;
        HoldSteps = holdSteps;
    }

    public float UprightRad { get; }

    public float StillRadPerS { get; }

    public int HoldSteps { get; }

    public int RetrySteps { get; }

    // Reset requests not yet taken: made and, in every user, taken on the control thread (lock-free all the same).
    private int _resetRequests;

    /// <summary>Takes one waiting reset request; false when there is none (on hardware nobody takes them). Never blocks.</summary>
    public bool TryTakeResetRequest()
    {
        int waiting;
        do
        {
            waiting = Volatile.Read(ref _resetRequests);
            if (waiting == 0) return false;
        }
        while (Interlocked.CompareExchange(ref _resetRequests, waiting - 1, waiting) != waiting);
        return true;
    }

    /// <summary>Episodes ended so far.</summary>
    public long Resets => Interlocked.Read(ref _resets);
    private long _resets;

    public void EpisodeEnded()
    {
        _held = 0;
        _waited = 0;
        Interlocked.Increment(ref _resets);
        Interlocked.Increment(ref _resetRequests);
    }

    public bool ReadyForNextEpisode(SensorFrame frame)
    {
        float forward = BalanceBotTask.Component(frame.AccelX, frame.AccelY, frame.AccelZ, _forward);
        float up = BalanceBotTask.Component(frame.AccelX, frame.AccelY, frame.AccelZ, _up);
        float pitch = MathF.Atan2(-forward, up);
        float rate = MathF.Sqrt(frame.GyroX * frame.GyroX + frame.GyroY * frame.GyroY + frame.GyroZ * frame.GyroZ);
        bool ok = up > 0 && MathF.Abs(pitch) <= UprightRad && rate <= StillRadPerS;
        _held = ok ? _held + 1 : 0;
        if (ok && _held > HoldSteps) return true;
        if (++_waited % RetrySteps == 0) Interlocked.Increment(ref _resetRequests);
        return false;
    }
}
