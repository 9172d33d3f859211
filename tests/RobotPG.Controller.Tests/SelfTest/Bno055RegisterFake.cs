using System.Buffers.Binary;
using RobotPG.Controller.SelfTest;

namespace RobotPG.Controller.Tests.SelfTest;

/// <summary>
/// The BNO055's page-0 register file (datasheet BST-BNO055-DS000 §4.2/§4.3): CHIP_ID 0x00 = 0xA0, ACC_ID 0xFB,
/// MAG_ID 0x32, GYR_ID 0x0F, the identity and data registers read-only, UNIT_SEL 0x3B powering on at 0x80,
/// OPR_MODE 0x3D at 0x00 (CONFIG); data little-endian: ACC_DATA from 0x08 (1 m/s² = 100 LSB), GYR_DATA from
/// 0x14 (1 °/s = 16 LSB), TEMP 0x34 (signed °C). The pointer auto-increments.
/// </summary>
internal sealed class Bno055RegisterFake : RegisterFileI2cDevice
{
    public const int UnitSel = 0x3B, OprMode = 0x3D, Temp = 0x34;
    private const int AccData = 0x08, GyrData = 0x14;

    public Bno055RegisterFake(int busId = 1, int address = 0x28, byte chipId = 0xA0)
        : base(busId, address, 128)
    {
        Registers[0x00] = chipId;
        Registers[0x01] = 0xFB;
        Registers[0x02] = 0x32;
        Registers[0x03] = 0x0F;
        Registers[0x04] = 0x11;
        Registers[0x05] = 0x03;
        Registers[0x06] = 0x15;
        Registers[UnitSel] = 0x80;
    }

    /// <summary>Raw words as the chip would output them: accelerometer XYZ, gyro XYZ, temperature.</summary>
    public void SetSample(short accelX, short accelY, short accelZ, short gyroX, short gyroY, short gyroZ, sbyte temperature = 25)
    {
        BinaryPrimitives.WriteInt16LittleEndian(Registers[AccData..], accelX);
        BinaryPrimitives.WriteInt16LittleEndian(Registers[(AccData + 2)..], accelY);
        BinaryPrimitives.WriteInt16LittleEndian(Registers[(AccData + 4)..], accelZ);
        BinaryPrimitives.WriteInt16LittleEndian(Registers[GyrData..], gyroX);
        BinaryPrimitives.WriteInt16LittleEndian(Registers[(GyrData + 2)..], gyroY);
        BinaryPrimitives.WriteInt16LittleEndian(Registers[(GyrData + 4)..], gyroZ);
        Registers[Temp] = (byte)temperature;
    }

    /// <summary>Flips the gyro Z word's lowest bit (1/16 °/s), as a live chip's output jitters, so the
    /// freshness check sees new data.</summary>
    public void JitterGyro() => Registers[GyrData + 4] ^= 1;

    protected override void Store(int register, byte value)
    {
        if (register is <= 0x06 or (>= 0x08 and <= 0x3A)) return; // identity and data registers are read-only
        base.Store(register, value);
    }
}
