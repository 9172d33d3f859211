using System.Buffers.Binary;

namespace RobotPG.Controller.SelfTest;

/// <summary>
/// The MPU-6050's register file (register map rev 4.2): WHO_AM_I 0x75 = 0x68, PWR_MGMT_1 0x6B
/// resets to 0x40 (asleep) and DEVICE_RESET (bit 7) clears itself, the 14 data registers from
/// ACCEL_XOUT_H 0x3B are read-only and hold whatever <see cref="SetSample"/> put there.
/// </summary>
public sealed class Mpu6050RegisterFake : RegisterFileI2cDevice
{
    private const int WhoAmI = 0x75, PowerManagement1 = 0x6B, AccelXOutH = 0x3B, DataLength = 14;

    public Mpu6050RegisterFake(int busId = 1, int address = 0x68)
        : base(busId, address, 128) => PowerOnReset();

    /// <summary>Raw big-endian words as the chip would sample them: accel XYZ, temperature, gyro XYZ.</summary>
    public void SetSample(short accelX, short accelY, short accelZ, short temperature, short gyroX, short gyroY, short gyroZ)
    {
        Span<byte> data = Registers.Slice(AccelXOutH, DataLength);
        BinaryPrimitives.WriteInt16BigEndian(data, accelX);
        BinaryPrimitives.WriteInt16BigEndian(data[2..], accelY);
        BinaryPrimitives.WriteInt16BigEndian(data[4..], accelZ);
        BinaryPrimitives.WriteInt16BigEndian(data[6..], temperature);
        BinaryPrimitives.WriteInt16BigEndian(data[8..], gyroX);
        BinaryPrimitives.WriteInt16BigEndian(data[10..], gyroY);
        BinaryPrimitives.WriteInt16BigEndian(data[12..], gyroZ);
    }

    /// <summary>Flips the temperature's lowest bit, as a live chip's die temperature flickers: the 14-byte
    /// burst changes, so the data-based freshness check sees new data, while accel and gyro stay put.</summary>
    public void FlickerTemperature() => Registers[AccelXOutH + 7] ^= 1;

    protected override void Store(int register, byte value)
    {
        if (register is >= AccelXOutH and < AccelXOutH + DataLength || register == WhoAmI) return; // read-only
        if (register == PowerManagement1 && (value & 0x80) != 0)
        {
            PowerOnReset();
            return;
        }
        base.Store(register, value);
    }

    private void PowerOnReset()
    {
        Span<byte> data = stackalloc byte[DataLength];
        Registers.Slice(AccelXOutH, DataLength).CopyTo(data);
        Registers.Clear();
        data.CopyTo(Registers.Slice(AccelXOutH, DataLength)); // a reset does not clear the last sample
        Registers[WhoAmI] = 0x68;
        Registers[PowerManagement1] = 0x40;
    }
}
