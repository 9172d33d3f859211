using System.Device.I2c;

namespace RobotPG.Hardware;

/// <summary>
/// A transfer to a chip failed (NACK, bus error, unplugged device) or the chip answered with
/// something that cannot be right. Names the chip, the bus, the address and the operation, so the
/// safety supervisor can log one line, retry, and stop the motors if it persists.
/// </summary>
public sealed class BusFaultException : IOException
{
    public BusFaultException(string device, I2cConnectionSettings settings, string operation, string reason, Exception? inner = null)
        : base($"{device} at I2C bus {settings.BusId} address 0x{settings.DeviceAddress:X2}: {operation} failed: {reason}", inner)
    {
        Device = device;
        BusId = settings.BusId;
        Address = settings.DeviceAddress;
        Operation = operation;
    }

    /// <summary>The chip, e.g. "MPU-6050".</summary>
    public string Device { get; }

    public int BusId { get; }

    public int Address { get; }

    /// <summary>What the driver was doing, e.g. "burst read of 14 bytes from ACCEL_XOUT_H (0x3B)".</summary>
    public string Operation { get; }

    /// <summary>
    /// True for the failures a bus transfer raises (the Linux I2C driver throws <see cref="IOException"/>
    /// on a NACK; timeouts and a closed device, <see cref="ObjectDisposedException"/>, show up as the other two).
    /// </summary>
    internal static bool IsTransferFailure(Exception ex) =>
        ex is IOException or TimeoutException or InvalidOperationException && ex is not BusFaultException;
}
