using RobotPG.Hardware;

namespace RobotPG.Controller.Tasks;

/// <summary>What a task reports for one step besides the observation.</summary>
/// <param name="Reward">Reward of the step.</param>
/// <param name="Terminated">The robot is in a terminal state (fell, left the rail).</param>
/// <param name="TiltRad">Signed tilt from upright (body pitch or pole angle), rad, for the safety supervisor.</param>
public readonly record struct TaskOutcome(float Reward, bool Terminated, float TiltRad);

/// <summary>
/// A robot's task on the control thread (DESIGN.md control step 2): turns each sensor frame into an
/// observation, a reward and whether the state is terminal. Evaluated every step, in an episode or
/// not (filters keep running); the loop decides when episodes begin and end. Allocates nothing per step.
/// </summary>
public interface IControlTask
{
    int ObservationSize { get; }

    int ActionSize { get; }

    /// <summary>An episode starts at <paramref name="frame"/> (positions are measured from here).</summary>
    void BeginEpisode(SensorFrame frame);

    /// <summary>Writes the observation for <paramref name="frame"/>, <paramref name="dt"/> seconds after the previous one.</summary>
    TaskOutcome Evaluate(SensorFrame frame, float dt, Span<float> observation);
}
