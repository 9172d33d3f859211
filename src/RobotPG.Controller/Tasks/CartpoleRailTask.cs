using RobotPG.Controller.Configuration;
using RobotPG.Hardware;

namespace RobotPG.Controller.Tasks;

/// <summary>
/// A cart on a rail with a pole on an encoder (Gymnasium CartPole's observation in physical units):
/// cart position x (m) and velocity (m/s) from the motor encoder, pole angle θ (rad, 0 = upright as
/// at start-up) and its rate from the pole encoder. Reward 1 per step alive; terminated when |θ| or
/// |x| passes its done limit.
/// </summary>
public sealed class CartpoleRailTask : IControlTask
{
    private readonly int _cart;
    private readonly int _pole;
    private readonly double _metersPerCount;
    private readonly double _metersPerRadian;
    private readonly double _poleRadiansPerCount;
    private readonly float _doneTiltRad;
    private readonly float _doneRail;

    public CartpoleRailTask(TaskConfig task, IReadOnlyList<EncoderConfig> encoders)
    {
        _cart = IndexOf(encoders, task.CartEncoder);
        _pole = IndexOf(encoders, task.PoleEncoder);
        double metersPerRevolution = task.CartMetersPerRevolution ?? throw new ArgumentException("cartpole-rail needs task.cartMetersPerRevolution", nameof(task));
        _metersPerCount = metersPerRevolution / encoders[_cart].CountsPerRevolution;
        _metersPerRadian = metersPerRevolution / (2 * Math.PI);
        _poleRadiansPerCount = 2 * Math.PI / encoders[_pole].CountsPerRevolution;
        _doneTiltRad = (float)(task.DoneTiltDeg * Math.PI / 180);
        _doneRail = (float)(task.DoneRailM ?? throw new ArgumentException("cartpole-rail needs task.doneRailM", nameof(task)));
    }

    public int ObservationSize => 4;

    public int ActionSize => 1;

    /// <summary>Positions are encoder counts since start-up: the cart starts at the rail's centre, the pole upright.</summary>
    public void BeginEpisode(SensorFrame frame)
    {
    }

    public TaskOutcome Evaluate(SensorFrame frame, float dt, Span<float> observation)
    {
        float x = (float)(frame.EncoderTicks[_cart] * _metersPerCount);
        float theta = (float)(frame.EncoderTicks[_pole] * _poleRadiansPerCount);
        observation[0] = x;
        observation[1] = (float)(frame.EncoderVelocity[_cart] * _metersPerRadian);
        observation[2] = theta;
        observation[3] = frame.EncoderVelocity[_pole];
        bool terminated = MathF.Abs(theta) > _doneTiltRad || MathF.Abs(x) > _doneRail;
        return new TaskOutcome(1f, terminated, theta);
    }

    private static int IndexOf(IReadOnlyList<EncoderConfig> encoders, string? name)
    {
        for (int i = 0; i < encoders.Count; i++)
        {
            if (encoders[i].Name == name)
                return i;
        }
        throw new ArgumentException($"no encoder is named \"{name}\"", nameof(encoders));
    }
}
