using System.Buffers.Binary;
using RobotPG.Messaging;

namespace RobotPG.Sim.Tests.Serving;

/// <summary>
/// A controller stub's policy that depends on what it reads (so a wrong sensor byte changes the
/// actions): wakes the chips on step 0, then drives both wheels toward the lean seen on accel x.
/// </summary>
internal static class BalancingStubPolicy
{
    public static void Act(long step, SimSensorFrame sensors, SimActuatorFrame actuators)
    {
        if (step == 0)
        {
            actuators.TryAddI2cWrite(0x68, [0x6B, 0x01]);
            actuators.TryAddI2cWrite(0x40, [0x00, 0x30]);
            actuators.TryAddI2cWrite(0x40, [0xFE, 5]);
            actuators.TryAddI2cWrite(0x40, [0x00, 0x20]);
        }
        var imu = sensors.ImageOf(0x68);
        int accelX = imu.Length >= 0x3D ? BinaryPrimitives.ReadInt16BigEndian(imu[0x3B..]) : 0;
        // Leaning forward reads accel x < 0: drive forward, duty proportional to the lean.
        bool forward = accelX < 0;
        int off = Math.Min(4095, Math.Abs(accelX) / 2);
        Span<byte> led = [0x06, 0, 0, (byte)(off & 0xFF), (byte)(off >> 8), 0, 0, (byte)(off & 0xFF), (byte)(off >> 8)];
        actuators.TryAddI2cWrite(0x40, led);
        actuators.TrySetPinLevel(5, forward);
        actuators.TrySetPinLevel(6, !forward);
        actuators.TrySetPinLevel(20, !forward); // right motor mirrored
        actuators.TrySetPinLevel(21, forward);
    }
}
