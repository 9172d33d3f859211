using RobotPG.Hardware;

namespace RobotPG.Controller.Hosting;

/// <summary>
/// A robot that stands upright and still and ignores its motors: fresh, constant sensor data every
/// read. For <c>robotpg selftest</c>, which measures the loop's own timing on a machine without the
/// robot (a CI runner, qemu, a Pi before wiring).
/// </summary>
public sealed class StandingRobotIo(int motorCount, int encoderCount) : IRobotIo
{
    private long _sequence;

    public int MotorCount { get; } = motorCount;

    public int EncoderCount { get; } = encoderCount;

    public void Read(SensorFrame frame)
    {
        frame.AccelX = 0;
        frame.AccelY = 0;
        frame.AccelZ = 9.80665f;
        frame.GyroX = frame.GyroY = frame.GyroZ = 0;
        frame.Timestamp = System.Diagnostics.Stopwatch.GetTimestamp();
        frame.Sequence = ++_sequence;
    }

    public void Drive(ReadOnlySpan<float> commands)
    {
    }

    public void StopMotors()
    {
    }

    public void Dispose()
    {
    }
}
