using RobotPG.Hardware;

namespace RobotPG.Controller.Control;

/// <summary>
/// One line naming a fault the loop caught: its name as <c>robotpg-sim serve --fault</c> spells it (i2c-nack,
/// pca-brownout, gpio-write-fail, …), then the chip or pin and what failed, in the driver's words.
/// Called off the hot path (exit line, telemetry): it allocates.
/// </summary>
public static class FaultDescription
{
    public static string Name(Exception fault) => fault switch
    {
        BusFaultException bus => bus.FaultName,
        GpioWriteException => GpioWriteException.FaultName,
        _ => fault.GetType().Name,
    };

    /// <summary>"i2c-nack: PCA9685 at I2C bus 1 address 0x40: read-back of MODE1 failed: …"; null for no fault.</summary>
    public static string? Describe(Exception? fault)
    {
        if (fault is null) return null;
        string message = fault.Message;
        int newline = message.IndexOfAny(['\r', '\n']);
        return $"{Name(fault)}: {(newline < 0 ? message : message[..newline])}";
    }

    /// <summary>The detail of a safety event: the fault behind a bus or software trip, else just "motors off".</summary>
    public static string SafetyEventDetail(SafetyCause cause, Exception? lastFault) =>
        cause is SafetyCause.BusFault or SafetyCause.SoftwareFault && Describe(lastFault) is { } d ? $"motors off: {d}" : "motors off";
}
