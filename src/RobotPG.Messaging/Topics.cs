namespace RobotPG.Messaging;

/// <summary>
/// The MQTT topic tree of one robot (DESIGN.md, Contracts). Build the strings once at start-up and
/// keep them: the hot path publishes to the same string instances.
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
        Sensors = Prefix + "sensors";
        Actuators = Prefix + "actuators";
        Truth = Prefix + "truth";
        TelemetryAll = Prefix + "telemetry/#";
        CommandAll = Prefix + "cmd/#";
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
}

/// <summary>Telemetry kinds under <c>robotpg/{robotId}/telemetry/</c>.</summary>
public static class TelemetryKinds
{
    public const string Episode = "episode";
    public const string LoopTiming = "loop";
    public const string Safety = "safety";
    public const string Learning = "learning";
    public const string Sim = "sim";
}
