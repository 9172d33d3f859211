using System.Text.Json.Serialization;

namespace RobotPG.Controller.Telemetry;

/// <summary>
/// Loop timing since start: lateness of step starts against their deadlines, step durations, and (lockstep only; 0 in
/// real time) the holds before a step: 1 ms waits for room in the log ring, steps that waited for the learner's
/// update, and waits for a learner given up on after its hold limit (a hung learner); and the lockstep waits that
/// ended with no tick from the simulator (no step taken; a stalled simulator or broker).
/// </summary>
public sealed record LoopTimingStatus(
    double RateHz,
    double PeriodErrorP50Us,
    double PeriodErrorP99Us,
    double PeriodErrorMaxUs,
    double StepLatencyP50Us,
    double StepLatencyP99Us,
    double StepLatencyMaxUs,
    long Overruns,
    long LogHoldMs,
    long LearnerHolds,
    long LearnerHoldTimeouts,
    long SilentWaits);

/// <summary>The safety supervisor: whether the motors are held off, why, and how often each cause fired.</summary>
public sealed record SafetyStatus(
    bool MotorsOff,
    string? Cause,
    long TiltEvents,
    long StaleSensorEvents,
    long NonFiniteEvents,
    long BusFaultEvents,
    long EmergencyStopEvents,
    long SoftwareFaultEvents);

/// <summary>Sensor and bus health: failed transfers (each retry counts) and exceptions from task or policy.</summary>
public sealed record SensorHealth(long BusFaults, long SoftwareFaults);

/// <summary>Trajectory log progress.</summary>
public sealed record LogStatus(long RecordsWritten, long RingDrops, long RecordsLost, long WriteErrors);

/// <summary>The controller's status, published at the telemetry rate on <c>telemetry/controller</c>.</summary>
public sealed record ControllerStatusTelemetry(
    string RobotId,
    double UptimeSeconds,
    long Steps,
    long Episodes,
    double LastEpisodeReturn,
    long LastEpisodeLength,
    double EpisodeReturn,
    long EpisodeLength,
    string Policy,
    LoopTimingStatus Loop,
    SafetyStatus Safety,
    SensorHealth Sensors,
    LogStatus Log);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(ControllerStatusTelemetry))]
public sealed partial class ControllerJsonContext : JsonSerializerContext;
