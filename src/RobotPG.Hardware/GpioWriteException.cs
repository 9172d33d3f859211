namespace RobotPG.Hardware;

/// <summary>
/// A write to an H-bridge's direction pin(s) failed (a dead GPIO line, a driver error). Names the pins so the
/// exit line and the safety event say which line failed; the driver's own words follow.
/// </summary>
public sealed class GpioWriteException(string pins, Exception inner)
    : IOException($"GPIO {pins}: write of a motor direction pin failed: {inner.Message}", inner)
{
    /// <summary>The name robotpg-sim's --fault uses for it.</summary>
    public const string FaultName = "gpio-write-fail";
}
