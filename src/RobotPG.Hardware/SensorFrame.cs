namespace RobotPG.Hardware;

/// <summary>
/// One read of every sensor of the robot, in physical units. Allocated once at start-up and
/// refilled in place every control step (DESIGN.md, control step 1).
/// </summary>
public sealed class SensorFrame
{
    public SensorFrame(int encoderCount)
    {
        EncoderTicks = new long[encoderCount];
        EncoderVelocity = new float[encoderCount];
    }

    /// <summary>Specific force from the IMU, m/s², in the IMU's axes.</summary>
    public float AccelX, AccelY, AccelZ;

    /// <summary>Angular rate from the IMU with the start-up bias removed, rad/s.</summary>
    public float GyroX, GyroY, GyroZ;

    /// <summary>Die temperature of the IMU, °C.</summary>
    public float TemperatureC;

    /// <summary>Battery voltage from the battery monitor, volts; NaN on a robot without one.</summary>
    public float BatteryVolts = float.NaN;

    /// <summary>Quadrature counts per encoder since start (4 counts per encoder line).</summary>
    public long[] EncoderTicks { get; }

    /// <summary>Shaft velocity per encoder, rad/s, estimated from the counts.</summary>
    public float[] EncoderVelocity { get; }

    /// <summary><see cref="System.Diagnostics.Stopwatch"/> timestamp of the read.</summary>
    public long Timestamp;

    /// <summary>
    /// Increments each time the sensors delivered new data; a value that stops moving is how the
    /// safety supervisor detects a stale sensor.
    /// </summary>
    public long Sequence;
}

/// <summary>
/// The robot's sensors and motors as the control loop sees them. Built from config, backed by real
/// drivers on the Pi or by the simulator's bus; the loop never knows which.
/// </summary>
public interface IRobotIo : IDisposable
{
    /// <summary>Number of motors <see cref="Drive"/> expects commands for.</summary>
    int MotorCount { get; }

    /// <summary>Number of encoders reported in <see cref="SensorFrame.EncoderTicks"/>.</summary>
    int EncoderCount { get; }

    /// <summary>Reads every sensor into <paramref name="frame"/>. Throws on a bus fault.</summary>
    void Read(SensorFrame frame);

    /// <summary>Drives each motor with a normalised command in [−1, 1] (sign = direction, magnitude = duty).</summary>
    void Drive(ReadOnlySpan<float> commands);

    /// <summary>All motors off (coast). Must be safe to call at any time, repeatedly, and never throw.</summary>
    void StopMotors();
}
