using RobotPG.Hardware;

namespace RobotPG.Controller.Tests.Control;

/// <summary>
/// An <see cref="IRobotIo"/> for loop tests: serves a scripted frame (a robot standing still at a
/// chosen pitch unless changed), counts calls, and throws on demand.
/// </summary>
internal sealed class FakeRobotIo : IRobotIo
{
    public const float G = 9.80665f;

    public FakeRobotIo(int motors = 2, int encoders = 2)
    {
        MotorCount = motors;
        EncoderCount = encoders;
        LastDrive = new float[motors];
        SetPitch(0);
    }

    public int MotorCount { get; }

    public int EncoderCount { get; }

    public float AccelX, AccelY, AccelZ, GyroX, GyroY, GyroZ;

    /// <summary>When false the sequence stops moving (a stale sensor).</summary>
    public bool Fresh = true;

    /// <summary>The next this-many reads throw.</summary>
    public int ReadFailures;

    /// <summary>The next this-many drives throw.</summary>
    public int DriveFailures;

    public int Reads, Drives, Stops;

    public float[] LastDrive { get; }

    /// <summary>The call sequence: 'R' read, 'D' drive, 'S' stop.</summary>
    public readonly List<char> Calls = new(1 << 16);

    public bool RecordCalls;

    private long _sequence;

    /// <summary>The next frame comes <paramref name="frames"/> frames late: the ones in between are never read.</summary>
    public void SkipFrames(int frames) => _sequence += frames;

    /// <summary>Standing still, pitched by <paramref name="radians"/> (+x forward, +z up): specific force (−g sin θ, 0, g cos θ).</summary>
    public void SetPitch(double radians)
    {
        AccelX = (float)(-G * Math.Sin(radians));
        AccelY = 0;
        AccelZ = (float)(G * Math.Cos(radians));
        GyroX = GyroY = GyroZ = 0;
    }

    public void Read(SensorFrame frame)
    {
        Reads++;
        if (RecordCalls) Calls.Add('R');
        if (ReadFailures > 0)
        {
            ReadFailures--;
            throw new IOException("NACK from 0x68");
        }
        frame.AccelX = AccelX; frame.AccelY = AccelY; frame.AccelZ = AccelZ;
        frame.GyroX = GyroX; frame.GyroY = GyroY; frame.GyroZ = GyroZ;
        if (Fresh)
            _sequence++;
        frame.Sequence = _sequence;
    }

    public void Drive(ReadOnlySpan<float> commands)
    {
        Drives++;
        if (RecordCalls) Calls.Add('D');
        if (DriveFailures > 0)
        {
            DriveFailures--;
            throw new IOException("NACK from 0x40");
        }
        commands.CopyTo(LastDrive);
    }

    public void StopMotors()
    {
        Stops++;
        if (RecordCalls) Calls.Add('S');
        Array.Clear(LastDrive);
    }

    public void Dispose()
    {
    }
}
