using RobotPG.Controller.Configuration;

namespace RobotPG.Controller.Tasks;

/// <summary>Observation sizes of the robot tasks, known before any task is built (config checks, log headers).</summary>
public static class TaskShapes
{
    /// <summary>balance-bot: pitch, pitch rate, mean wheel angle, mean wheel velocity; cartpole-rail: x, ẋ, θ, θ̇.</summary>
    public static int ObservationSize(TaskKind kind) => kind switch
    {
        TaskKind.BalanceBot or TaskKind.CartpoleRail => 4,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown task"),
    };
}
