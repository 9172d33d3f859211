using System.Text.Json.Serialization;

namespace RobotPG.Messaging;

// Telemetry is JSON for people and dashboards (mosquitto_sub, Grafana). Published off the hot path,
// at a few hertz at most. Each side may add its own types in its own JsonSerializerContext; these
// are the shared ones, serialized through MessagingJsonContext (source-generated, AOT-safe).

/// <summary>An episode ended. Topic <c>telemetry/episode</c>.</summary>
public sealed record EpisodeTelemetry(
    long Episode,
    long Steps,
    double Return,
    double DurationSeconds,
    string EndReason);

/// <summary>Control-loop timing over the last reporting window. Topic <c>telemetry/loop</c>.</summary>
public sealed record LoopTimingTelemetry(
    double RateHz,
    long Steps,
    double PeriodMeanMicroseconds,
    double PeriodP99Microseconds,
    double StepMaxMicroseconds,
    long Overruns);

/// <summary>The safety supervisor intervened. Topic <c>telemetry/safety</c>.</summary>
public sealed record SafetyEventTelemetry(
    string Kind,
    string Detail,
    double Value,
    long Step);

/// <summary>The learner finished (or rejected) an update. Topic <c>telemetry/learning</c>.</summary>
public sealed record LearningUpdateTelemetry(
    long Update,
    string Algorithm,
    bool Accepted,
    string? RejectReason,
    double MeanReturn,
    double PolicyLoss,
    double ValueLoss,
    double KlDivergence,
    double Entropy);

/// <summary>The simulator's status, about once a second. Topic <c>telemetry/sim</c>.</summary>
public sealed record SimStatusTelemetry(
    string RobotId,
    string Robot,
    string Clock,
    ulong Tick,
    double SimTime,
    bool Fallen,
    long Resets,
    long SensorFramesPublished,
    long ActuatorFramesAccepted,
    long ActuatorFramesMalformed,
    long ActuatorFramesOutOfOrder,
    long PublishDropped,
    double TicksPerSecond);

/// <summary>Payload of <c>cmd/reset</c> (an empty payload means "same seed stream").</summary>
public sealed record ResetCommand(ulong? Seed);

/// <summary>Payload of <c>cmd/randomize</c>: draw new physical parameters within ±<see cref="Scale"/> (relative).</summary>
public sealed record RandomizeCommand(ulong? Seed, double? Scale);

/// <summary>
/// Retained on <c>robotpg/{robotId}/status</c>: <see cref="State"/> is "online" while the controller runs,
/// "stopped" after a clean shutdown and "offline" when the broker lost it (the last will).
/// </summary>
public sealed record RobotStatus(
    string RobotId,
    string State,
    string? Policy,
    string? PolicyHash,
    string? Safety,
    bool? EmergencyStop,
    long? Step,
    long? CommandsAccepted,
    long? CommandsRefused,
    long? TimeUnixMs);

/// <summary>On <c>robotpg/{robotId}/reply</c>: what became of one command.</summary>
public sealed record CommandReply(
    string Verb,
    string Outcome,
    string? Reason,
    string? Nonce,
    string? KeyId,
    long? Step,
    string? Path = null,
    string? PolicyHash = null);

/// <summary>The JSON body of <c>cmd/save</c> and <c>cmd/load</c>: a file name in the robot's checkpoint directory.</summary>
public sealed record CheckpointCommand(string? Name);

/// <summary>On <c>telemetry/commands</c>: totals of received commands by outcome and reason.</summary>
public sealed record CommandTelemetry(
    long Accepted,
    long Refused,
    long Unsigned,
    long BadSignature,
    long UnknownKey,
    long Expired,
    long Replayed,
    long Malformed,
    long Other,
    string? LastRefusal);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(EpisodeTelemetry))]
[JsonSerializable(typeof(CheckpointCommand))]
[JsonSerializable(typeof(LoopTimingTelemetry))]
[JsonSerializable(typeof(SafetyEventTelemetry))]
[JsonSerializable(typeof(LearningUpdateTelemetry))]
[JsonSerializable(typeof(SimStatusTelemetry))]
[JsonSerializable(typeof(ResetCommand))]
[JsonSerializable(typeof(RandomizeCommand))]
[JsonSerializable(typeof(RobotStatus))]
[JsonSerializable(typeof(CommandReply))]
[JsonSerializable(typeof(CommandTelemetry))]
public sealed partial class MessagingJsonContext : JsonSerializerContext;
