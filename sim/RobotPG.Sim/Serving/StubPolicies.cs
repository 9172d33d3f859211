using System.Buffers.Binary;
using RobotPG.Messaging;

namespace RobotPG.Sim.Serving;

/// <summary>Policies for <see cref="SimStubController"/>: deterministic bus traffic like a controller's.</summary>
public static class StubPolicies
{
    /// <summary>
    /// Balance-bot wiring (PCA9685 0x40 channels 0/1, IN pins 5/6 and 20/21, right motor mirrored,
    /// IMU 0x68 with x forward): wakes the chips on step 0, then drives both wheels toward the lean
    /// seen on accel x with a duty proportional to it. It depends on what it reads, so one wrong
    /// sensor byte changes every later action.
    /// </summary>
    public static void FollowLean(long step, SimSensorFrame sensors, SimActuatorFrame actuators)
    {
        if (step == 0)
        {
            actuators.TryAddI2cWrite(0x68, [0x6B, 0x01]);
            actuators.TryAddI2cWrite(0x40, [0x00, 0x30]); // sleep + auto-increment
            actuators.TryAddI2cWrite(0x40, [0xFE, 5]);    // ≈ 1 kHz
            actuators.TryAddI2cWrite(0x40, [0x00, 0x20]); // wake
        }
        var imu = sensors.ImageOf(0x68);
        int accelX = imu.Length >= 0x3D ? BinaryPrimitives.ReadInt16BigEndian(imu[0x3B..]) : 0;
        bool forward = accelX < 0; // leaning forward reads accel x < 0
        int off = Math.Min(4095, Math.Abs(accelX) / 2);
        Span<byte> led = [0x06, 0, 0, (byte)(off & 0xFF), (byte)(off >> 8), 0, 0, (byte)(off & 0xFF), (byte)(off >> 8)];
        actuators.TryAddI2cWrite(0x40, led);
        actuators.TrySetPinLevel(5, forward);
        actuators.TrySetPinLevel(6, !forward);
        actuators.TrySetPinLevel(20, !forward);
        actuators.TrySetPinLevel(21, forward);
    }
}
