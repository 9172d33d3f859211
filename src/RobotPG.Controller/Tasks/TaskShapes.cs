using RobotPG.Controller.Configuration;

namespace RobotPG.Controller.Tasks;

/// <summary>Observation sizes and names of the robot tasks, known before any task is built (config checks, log headers, exports).</summary>
public static class TaskShapes
{
    private static readonly string[] BalanceBotObservations = ["pitch_rad", "pitch_rate_rad_per_s", "wheel_angle_rad", "wheel_velocity_rad_per_s"];
    private static readonly string[] CartpoleRailObservations = ["cart_position_m", "cart_velocity_m_per_s", "pole_angle_rad", "pole_rate_rad_per_s"];

    /// <summary>balance-bot: pitch, pitch rate, mean wheel angle, mean wheel velocity; cartpole-rail: x, ẋ, θ, θ̇.</summary>
    public static int ObservationSize(TaskKind kind) => kind switch
    {
        TaskKind.BalanceBot or TaskKind.CartpoleRail => 4,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown task"),
    };

    /// <summary>The task's name as in configs and log headers.</summary>
    public static string Name(TaskKind kind) => kind switch
    {
        TaskKind.BalanceBot => "balance-bot",
        TaskKind.CartpoleRail => "cartpole-rail",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown task"),
    };

    /// <summary>
    /// Column names of the observation (snake case, unit in the name) for the task named <paramref name="task"/>;
    /// obs0.. when the task is unknown (logs written before the header named it) or the size does not match.
    /// </summary>
    public static string[] ObservationNames(string task, int size)
    {
        string[]? names = task switch
        {
            "balance-bot" => BalanceBotObservations,
            "cartpole-rail" => CartpoleRailObservations,
            _ => null,
        };
        return names is not null && names.Length == size ? names : Numbered("obs", size);
    }

    /// <summary>Column names of the action: the duty of each motor, in the config's motor order.</summary>
    public static string[] ActionNames(int size)
    {
        var names = new string[size];
        for (int j = 0; j < size; j++)
            names[j] = $"motor{j}_duty";
        return names;
    }

    private static string[] Numbered(string prefix, int size)
    {
        var names = new string[size];
        for (int i = 0; i < size; i++)
            names[i] = prefix + i;
        return names;
    }
}
