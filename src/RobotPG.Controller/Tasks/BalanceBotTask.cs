using RobotPG.Controller.Configuration;
using RobotPG.Hardware;

namespace RobotPG.Controller.Tasks;

/// <summary>
/// The two-wheeled balancing robot. Observation: body pitch (rad, + leaning forward) from a
/// complementary filter of accelerometer and gyro, pitch rate (rad/s), mean wheel angle since the
/// episode began (rad) and mean wheel velocity (rad/s). Reward 1 − (θ/θ_done)² − 0.01·φ² per step
/// (upright and near the start position); terminal past the done tilt.
/// </summary>
public sealed class BalanceBotTask : IControlTask
{
    private readonly float _alpha;
    private readonly float _doneTiltRad;
    private readonly ImuAxis _forward;
    private readonly ImuAxis _up;
    private readonly ImuAxis _lateral;
    private readonly float _lateralSign;
    private readonly double[] _radiansPerCount;
    private readonly long[] _startTicks;
    private float _pitch;
    private bool _filterStarted;

    public BalanceBotTask(TaskConfig task, ImuConfig imu, IReadOnlyList<EncoderConfig> encoders)
    {
        _alpha = (float)(task.ComplementaryAlpha ?? throw new ArgumentException("balance-bot needs task.complementaryAlpha", nameof(task)));
        _doneTiltRad = (float)(task.DoneTiltDeg * Math.PI / 180);
        _forward = imu.Mounting.Forward;
        _up = imu.Mounting.Up;
        // Pitch (top moving forward) turns about up × forward (x forward, z up → +y, left).
        (_lateral, _lateralSign) = Cross(_up, _forward);
        _radiansPerCount = new double[encoders.Count];
        for (int i = 0; i < encoders.Count; i++)
            _radiansPerCount[i] = 2 * Math.PI / encoders[i].CountsPerRevolution;
        _startTicks = new long[encoders.Count];
        ActionSize = 2;
    }

    public int ObservationSize => 4;

    public int ActionSize { get; }

    /// <summary>Current filtered pitch, rad.</summary>
    public float Pitch => _pitch;

    public void BeginEpisode(SensorFrame frame)
    {
        for (int i = 0; i < _startTicks.Length; i++)
            _startTicks[i] = frame.EncoderTicks[i];
        // A robot just stood up (or reset by the simulator) is still: start the filter from the
        // accelerometer rather than from the lagging estimate of its fall.
        _filterStarted = false;
    }

    public TaskOutcome Evaluate(SensorFrame frame, float dt, Span<float> observation)
    {
        float rate = _lateralSign * Component(frame.GyroX, frame.GyroY, frame.GyroZ, _lateral);
        if (_filterStarted)
        {
            _pitch = _alpha * (_pitch + rate * dt) + (1 - _alpha) * AccelPitch(frame);
        }
        else
        {
            // The first frame has nothing to integrate from: start at the accelerometer's pitch.
            _pitch = AccelPitch(frame);
            _filterStarted = true;
        }

        double angle = 0, velocity = 0;
        int n = _startTicks.Length;
        for (int i = 0; i < n; i++)
        {
            angle += (frame.EncoderTicks[i] - _startTicks[i]) * _radiansPerCount[i];
            velocity += frame.EncoderVelocity[i];
        }
        float wheelAngle = n > 0 ? (float)(angle / n) : 0f;
        float wheelVelocity = n > 0 ? (float)(velocity / n) : 0f;

        observation[0] = _pitch;
        observation[1] = rate;
        observation[2] = wheelAngle;
        observation[3] = wheelVelocity;

        bool terminated = MathF.Abs(_pitch) > _doneTiltRad;
        float tilt = _pitch / _doneTiltRad;
        float reward = terminated ? 0f : 1f - tilt * tilt - 0.01f * wheelAngle * wheelAngle;
        return new TaskOutcome(reward, terminated, _pitch);
    }

    /// <summary>Pitch from gravity alone: the specific force of a body pitched by θ reads −g·sin θ forward and g·cos θ up.</summary>
    private float AccelPitch(SensorFrame f)
    {
        float forward = Component(f.AccelX, f.AccelY, f.AccelZ, _forward);
        float up = Component(f.AccelX, f.AccelY, f.AccelZ, _up);
        return MathF.Atan2(-forward, up);
    }

    /// <summary>The reading of a vector (x, y, z in IMU axes) along a signed mounting axis.</summary>
    internal static float Component(float x, float y, float z, ImuAxis axis) => axis switch
    {
        ImuAxis.PlusX => x,
        ImuAxis.MinusX => -x,
        ImuAxis.PlusY => y,
        ImuAxis.MinusY => -y,
        ImuAxis.PlusZ => z,
        _ => -z,
    };

    /// <summary>a × b for signed unit axes, as a signed axis (a and b perpendicular).</summary>
    internal static (ImuAxis Axis, float Sign) Cross(ImuAxis a, ImuAxis b)
    {
        int ia = (int)a / 2, ib = (int)b / 2;
        float sa = (int)a % 2 == 0 ? 1 : -1, sb = (int)b % 2 == 0 ? 1 : -1;
        int ic = 3 - ia - ib;
        // e_i × e_j = +e_k for (i, j, k) a cyclic order of (x, y, z), −e_k otherwise.
        float cyclic = (ib - ia + 3) % 3 == 1 ? 1 : -1;
        return ((ImuAxis)(2 * ic), sa * sb * cyclic);
    }
}
