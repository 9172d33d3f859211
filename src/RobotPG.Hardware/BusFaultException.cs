using System.Device.I2c;

namespace RobotPG.Hardware;

/// <summary>
/// A transfer to a chip failed (NACK, bus error, unplugged device) or the chip answered with
/// something that cannot be right. Names the chip, the bus, the address and the operation, so the
/// safety supervisor can log one line, retry, and stop the motors if it persists.
/// </summary>
public sealed class BusFaultException : IOException
{
    public BusFaultException(string device, I2cConnectionSettings settings, string operation, string reason, Exception? inner = null, string? faultName = null)
        : base($"{device} at I2C bus {settings.BusId} address 0x{settings.DeviceAddress:X2}: {operation} failed: {reason}", inner)
    {
        // The names robotpg-sim's --fault uses, so an exit line, a safety event and a rehearsal say the same thing.
        // The Linux I2C driver reports a missing acknowledge as an I/O error (EREMOTEIO/ENXIO).
        FaultName = faultName ?? inner switch
        {
            null => "chip-check",
            TimeoutException => "i2c-timeout",
            _ => "i2c-nack",
        };
        Device = device;
        BusId = settings.BusId;
        Address = settings.DeviceAddress;
        Operation = operation;
    }

    /// <summary>The chip, e.g. "MPU-6050".</summary>
    public string Device { get; }

    public int BusId { get; }

    public int Address { get; }

    /// <summary>What went wrong, in one word: "i2c-nack", "i2c-timeout", "pca-brownout", "chip-check" (a chip that answers wrongly).</summary>
    public string FaultName { get; }

    /// <summary>What the driver was doing, e.g. "burst read of 14 bytes from ACCEL_XOUT_H (0x3B)".</summary>
    public string Operation { get; }

    /// <summary>
    /// True for the failures a bus transfer raises (the Linux I2C driver throws <see cref="IOException"/>
    /// on a NACK; timeouts and a closed device, <see cref="ObjectDisposedException"/>, show up as the other two).
    /// </summary>
    internal static bool IsTransferFailure(Exception ex) =>
        ex is IOException or TimeoutException or InvalidOperationException && ex is not BusFaultException;
}
