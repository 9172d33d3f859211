using System.Globalization;
using RobotPG.Controller.Configuration;
using RobotPG.Controller.Logging;
using RobotPG.Controller.Tasks;
using RobotPG.Learning.Checkpoints;
using RobotPG.Messaging;

namespace RobotPG.Controller.Learning;

/// <summary>
/// Everything a learning robot adds to a run, built from the config's <c>learning</c> section: the
/// rollout ring the loop feeds, the learner (resumed from its checkpoints or started from the
/// config's policy checkpoint), the reset condition between episodes (a simulated robot is asked for a
/// reset in the next actuator frame when an episode ends) and the learning telemetry.
/// </summary>
public sealed class OnDeviceLearning : IDisposable
{
    // The schema's defaults of the learning section's reset condition and checkpoint directory.
    public const double DefaultResetUprightDeg = 10, DefaultResetStillRadPerS = 0.5, DefaultResetHoldSeconds = 1.0;
    public const string DefaultCheckpointDirectory = "checkpoints";

    /// <summary>A robot not back within this long gets another reset request (simulator; ignored on hardware).</summary>
    public const double ResetRetrySeconds = 2.0;

    private readonly TextWriter _output;
    private readonly Topics _topics;
    private LearningTelemetryPublisher? _telemetry;
    private bool _stopped;

    private readonly LearningObserverTee _observers;

    private OnDeviceLearning(LearningOptions options, OnDeviceLearner learner, TrajectoryRing ring, UprightResetCondition? reset,
        LearningEventQueue events, LearningObserverTee observers, Topics topics, TextWriter output)
    {
        _observers = observers;
        Options = options;
        Learner = learner;
        RolloutRing = ring;
        Reset = reset;
        Events = events;
        _topics = topics;
        _output = output;
    }

    public LearningOptions Options { get; }

    public OnDeviceLearner Learner { get; }

    public TrajectoryRing RolloutRing { get; }

    /// <summary>The loop's reset condition (null for a robot without an IMU: the loop's own rule applies).</summary>
    public UprightResetCondition? Reset { get; }

    /// <summary>The learner's events (the telemetry publisher drains them).</summary>
    public LearningEventQueue Events { get; }

    /// <summary>From now on each update (and rollback) is also a record next to the trajectory log.</summary>
    public void LogUpdatesTo(Logging.TrajectoryLogWriter log) => _observers.Second = new Logging.LearningUpdateLogObserver(log);

    /// <summary>The checkpoint a resumed run continued from (null: a fresh start).</summary>
    public string? ResumedFrom { get; private set; }

    /// <summary>
    /// Builds the learning side of a run. <paramref name="initialCheckpoint"/> (the config's policy
    /// checkpoint) seeds the agent unless <paramref name="resume"/> finds a learner checkpoint.
    /// Throws <see cref="ArgumentException"/> or <see cref="CheckpointException"/> with the reason.
    /// </summary>
    public static OnDeviceLearning Create(RobotConfig config, LearningConfig learning, string configDirectory, IControlTask task,
        string? initialCheckpoint, bool resume, TextWriter output, LearningEventQueue? events = null,
        Func<string, string>? statePath = null)
    {
        string checkpointDirectory = Path.Combine(configDirectory, learning.CheckpointDirectory ?? DefaultCheckpointDirectory);
        var defaults = new LearningOptions();
        var options = new LearningOptions
        {
            Algorithm = learning.Algorithm,
            BatchSteps = learning.BatchSteps ?? defaults.BatchSteps,
            LearningRate = learning.LearningRate is double lr ? (float)lr : null,
            InitialLogStd = learning.InitialLogStd is double ls ? (float)ls : null,
            ReplayBatches = learning.ReplayBatches ?? defaults.ReplayBatches,
            ValueHiddenSizes = learning.ValueHiddenSizes ?? config.Policy.HiddenSizes,
            MaxKl = learning.MaxKl ?? defaults.MaxKl,
            EvaluationEpisodes = learning.EvaluationEpisodes,
            ReturnDropMargin = learning.ReturnDropMargin ?? defaults.ReturnDropMargin,
            CheckpointDirectory = statePath is null ? checkpointDirectory : statePath(checkpointDirectory),
            CheckpointEveryUpdates = learning.CheckpointEveryUpdates ?? defaults.CheckpointEveryUpdates,
            CheckpointEveryEpisodes = learning.CheckpointEveryEpisodes ?? defaults.CheckpointEveryEpisodes,
            Seed = config.Policy.Seed,
        };
        if (options.Validate() is string problem) throw new ArgumentException(problem);
        var algorithm = OnDeviceAlgorithms.Create(options, task.ObservationSize, task.ActionSize, config.Policy.HiddenSizes, config.RobotId);
        // Room for several seconds of steps while an update runs; a full ring drops (and the learner skips the gap).
        var ring = new TrajectoryRing(task.ObservationSize, task.ActionSize, Math.Max(4 * options.BatchSteps, 16384));
        events ??= new LearningEventQueue();
        var checkpoints = new LearnerCheckpoints(options.CheckpointDirectory);
        var observers = new LearningObserverTee(events);
        var learner = new OnDeviceLearner(algorithm, ring, options, observers, checkpoints);
        var reset = CreateResetCondition(config, learning);
        var result = new OnDeviceLearning(options, learner, ring, reset, events, observers, new Topics(config.RobotId), output);
        if (resume)
        {
            result.ResumedFrom = learner.Resume();
            output.WriteLine(result.ResumedFrom is null
                ? $"robotpg: learning: no checkpoint in {options.CheckpointDirectory} to resume from; starting fresh"
                : ResumedLine(result.ResumedFrom, learner, options.BatchSteps));
        }
        if (result.ResumedFrom is null && initialCheckpoint is not null)
            learner.LoadPretrained(initialCheckpoint);
        return result;
    }

    /// <summary>What a resume restored, for the start-up output: the checkpoint, its counters, the batch in progress it kept.</summary>
    public static string ResumedLine(string checkpoint, OnDeviceLearner learner, int batchSteps) => string.Create(CultureInfo.InvariantCulture,
        $"robotpg: learning: resumed from {checkpoint} (update {learner.AcceptedUpdates}, {learner.Steps} steps, {learner.Episodes} episodes); {learner.BatchFill} of {batchSteps} transitions of the batch in progress kept");

    /// <summary>The reset condition between episodes from the learning section (null for a robot without an IMU).</summary>
    public static UprightResetCondition? CreateResetCondition(RobotConfig config, LearningConfig learning) => config.Imu is { } imu
        ? new UprightResetCondition(imu.Mounting, learning.ResetUprightDeg ?? DefaultResetUprightDeg, learning.ResetStillRadPerS ?? DefaultResetStillRadPerS,
            (int)Math.Round((learning.ResetHoldSeconds ?? DefaultResetHoldSeconds) * config.ControlRateHz),
            retrySteps: (int)Math.Max(1, Math.Round(ResetRetrySeconds * config.ControlRateHz)))
        : null;

    /// <summary>Starts the learner and the learning telemetry (on <paramref name="telemetryClient"/>; null: warnings only).</summary>
    public void Start(ResilientMqttClient? telemetryClient)
    {
        _telemetry = new LearningTelemetryPublisher(Events, telemetryClient, _topics, Options.Algorithm, _output);
        Learner.Start();
        _telemetry.Start();
    }

    /// <summary>After the loop stopped: the learner finishes, writes its shutdown checkpoint, telemetry flushes.</summary>
    public void Stop()
    {
        if (_stopped) return;
        _stopped = true;
        Learner.Stop(TimeSpan.FromSeconds(30));
        _telemetry?.Drain();
    }

    public void Dispose()
    {
        Stop();
        _telemetry?.Dispose();
    }
}
