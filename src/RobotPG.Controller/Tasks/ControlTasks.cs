using RobotPG.Controller.Configuration;

namespace RobotPG.Controller.Tasks;

/// <summary>Builds the task a config names.</summary>
public static class ControlTasks
{
    public static IControlTask Create(RobotConfig config) => config.Task.Kind switch
    {
        TaskKind.BalanceBot => new BalanceBotTask(config.Task, config.Imu ?? throw new ArgumentException("balance-bot needs an IMU", nameof(config)), config.Encoders),
        TaskKind.CartpoleRail => new CartpoleRailTask(config.Task, config.Encoders),
        _ => throw new ArgumentOutOfRangeException(nameof(config), config.Task.Kind, "unknown task"),
    };
}
