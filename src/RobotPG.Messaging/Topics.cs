namespace RobotPG.Messaging;

/// <summary>
/// The MQTT topic tree of one robot. Build the strings once at start-up and keep them: the hot path
/// publishes to the same string instances. <see cref="Table"/> is the contract; the README's topic
/// table is checked against it.
/// </summary>
public sealed class Topics
{
    public const string Root = "robotpg";

    public Topics(string robotId)
    {
        string? problem = ValidateRobotId(robotId);
        if (problem is not null) throw new ArgumentException(problem, nameof(robotId));
        RobotId = robotId;
        Prefix = $"{Root}/{robotId}/";
        Sensors = Prefix + "sim/sensors";
        Actuators = Prefix + "sim/actuators";
        Truth = Prefix + "sim/truth";
        TelemetryAll = Prefix + "telemetry/#";
        CommandAll = Prefix + "cmd/#";
        Status = Prefix + "status";
        Reply = Prefix + "reply";
        Rollout = Prefix + "rollout";
        CommandReset = Command(CommandNames.Reset);
        CommandRandomize = Command(CommandNames.Randomize);
        Rollout = Prefix + "rollout";
    }

    /// <summary>Robot → fleet learners, binary <see cref="RolloutBatch"/>, QoS 1.</summary>
    public string Rollout { get; }

    /// <summary>The shared subscription through which fleet learners split every robot's rollouts.</summary>
    public const string LearnerGroup = "learners";

    /// <summary><c>$share/{group}/robotpg/+/rollout</c>: the broker hands each batch to one learner of the group.</summary>
    public static string SharedRolloutFilter(string group = LearnerGroup) => $"$share/{group}/{Root}/+/rollout";

    /// <summary><c>robotpg/fleet/{fleet}/policy</c>: the fleet's current policy, signed, retained, QoS 1.</summary>
    public static string FleetPolicy(string fleet)
    {
        if (ValidateRobotId(fleet) is string problem) throw new ArgumentException(problem.Replace("robot id", "fleet name", StringComparison.Ordinal), nameof(fleet));
        return $"{Root}/fleet/{fleet}/policy";
    }

    public string RobotId { get; }

    /// <summary><c>robotpg/{robotId}/</c></summary>
    public string Prefix { get; }

    /// <summary>Sim → controller, binary <see cref="SimSensorFrame"/>.</summary>
    public string Sensors { get; }

    /// <summary>Controller → sim, binary <see cref="SimActuatorFrame"/>.</summary>
    public string Actuators { get; }

    /// <summary>Sim → tests and plots, binary <see cref="GroundTruthFrame"/>.</summary>
    public string Truth { get; }

    /// <summary>Retained JSON <see cref="RobotStatus"/>; the broker sets it offline through the last will.</summary>
    public string Status { get; }

    /// <summary>JSON <see cref="CommandReply"/> for every command received, QoS 1.</summary>
    public string Reply { get; }


    /// <summary>Subscription filter for every telemetry topic of the robot.</summary>
    public string TelemetryAll { get; }

    /// <summary>Subscription filter for every command topic of the robot.</summary>
    public string CommandAll { get; }

    public string CommandReset { get; }

    public string CommandRandomize { get; }

    /// <summary><c>robotpg/{robotId}/telemetry/{kind}</c>, JSON.</summary>
    public string Telemetry(string kind) => Prefix + "telemetry/" + kind;

    /// <summary><c>robotpg/{robotId}/cmd/{name}</c>, JSON.</summary>
    public string Command(string name) => Prefix + "cmd/" + name;


    /// <summary>One row of the topic contract: the topic with <c>{robotId}</c>/<c>{kind}</c>/<c>{verb}</c> placeholders.</summary>
    public readonly record struct Entry(string Topic, string Direction, string Payload, int Qos, bool Retained);

    /// <summary>Every topic RobotPG uses (the README's topic table holds the same rows).</summary>
    public static IReadOnlyList<Entry> Table { get; } =
    [
        new("robotpg/{robotId}/status", "robot → all", "JSON status: online/offline (last will), policy, safety", 1, true),
        new("robotpg/{robotId}/telemetry/{kind}", "robot, fleet learner → people", "JSON, kinds: " + string.Join(", ", TelemetryKinds.All), 0, false),
        new("robotpg/{robotId}/cmd/{verb}", "operator → robot", "signed JSON command, verbs: " + string.Join(", ", CommandNames.Operator), 1, false),
        new("robotpg/{robotId}/reply", "robot → operator", "JSON outcome of each command", 1, false),
        new("robotpg/{robotId}/sim/sensors", "sim → robot", "binary sensor frame, every physics tick", 0, false),
        new("robotpg/{robotId}/sim/actuators", "robot → sim", "binary actuator frame, every control step", 0, false),
        new("robotpg/{robotId}/sim/truth", "sim → tests, plots", "binary ground truth, every tick", 0, false),
        new("robotpg/{robotId}/rollout", "robot → fleet learner", "rollout batches", 1, false),
        new("robotpg/fleet/{fleet}/policy", "fleet learner → robots", "signed checkpoint envelope", 1, true),
    ];

    /// <summary>Null when the id can be a single topic level; else why not.</summary>
    public static string? ValidateRobotId(string? robotId)
    {
        if (string.IsNullOrEmpty(robotId)) return "robot id is empty";
        if (robotId.Length > 64) return $"robot id '{robotId}' is longer than 64 characters";
        foreach (char c in robotId)
        {
            bool ok = c is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9' or '-' or '_' or '.';
            if (!ok) return $"robot id '{robotId}' may only hold letters, digits, '-', '_' and '.' (it is one MQTT topic level)";
        }
        return null;
    }

    /// <summary>The filter part of a shared subscription <c>$share/{group}/{filter}</c>; any other filter unchanged.</summary>
    public static ReadOnlySpan<char> WithoutShare(string filter)
    {
        if (!filter.StartsWith("$share/", StringComparison.Ordinal)) return filter;
        int slash = filter.IndexOf('/', 7);
        return slash < 0 ? ReadOnlySpan<char>.Empty : filter.AsSpan(slash + 1);
    }

    /// <summary>MQTT topic filter matching with '+' (one level) and '#' (the rest, including the parent level).</summary>
    public static bool Matches(ReadOnlySpan<char> filter, ReadOnlySpan<char> topic)
    {
        while (true)
        {
            int fEnd = filter.IndexOf('/');
            var fLevel = fEnd < 0 ? filter : filter[..fEnd];
            if (fLevel is "#") return true;
            int tEnd = topic.IndexOf('/');
            var tLevel = tEnd < 0 ? topic : topic[..tEnd];
            if (!(fLevel is "+") && !fLevel.SequenceEqual(tLevel)) return false;
            if (fEnd < 0 && tEnd < 0) return true;
            if (fEnd < 0) return false;
            if (tEnd < 0) return filter[(fEnd + 1)..] is "#";
            filter = filter[(fEnd + 1)..];
            topic = topic[(tEnd + 1)..];
        }
    }
}

/// <summary>Command names under <c>robotpg/{robotId}/cmd/</c>.</summary>
public static class CommandNames
{
    public const string Reset = "reset";
    public const string Randomize = "randomize";
    public const string Start = "start";
    public const string Stop = "stop";
    public const string Save = "save";
    public const string Load = "load";
    public const string EmergencyStop = "estop";
    public const string ClearEmergencyStop = "clear-estop";
    public const string Policy = "policy";
    /// <summary>Puts the best policy the robot's own learner has kept (by its evaluation returns) back on the robot.</summary>
    public const string Best = "best";

    /// <summary>The verbs a robot's controller obeys (reset and randomize are the simulator's).</summary>
    public static readonly string[] Operator = [Start, Stop, EmergencyStop, ClearEmergencyStop, Save, Load, Policy, Best];
}

/// <summary>Telemetry kinds under <c>robotpg/{robotId}/telemetry/</c>.</summary>
public static class TelemetryKinds
{
    public const string Episode = "episode";
    public const string LoopTiming = "loop";
    public const string Safety = "safety";
    public const string Learning = "learning";
    public const string Sim = "sim";
    public const string Controller = "controller";
    public const string Rollback = "rollback";
    public const string LearningEpisode = "learning-episode";
    public const string Commands = "commands";
    /// <summary>A fleet learner's progress, under its own learner id in place of a robot id.</summary>
    public const string FleetLearner = "fleet-learner";

    public static readonly string[] All = [Controller, Episode, Safety, Learning, LearningEpisode, Rollback, Commands, Sim, FleetLearner];
}
