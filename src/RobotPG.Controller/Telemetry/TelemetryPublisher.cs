using System.Diagnostics;
using System.Text.Json;
using RobotPG.Controller.Control;
using RobotPG.Controller.Logging;
using RobotPG.Messaging;

namespace RobotPG.Controller.Telemetry;

/// <summary>
/// Publishes the loop's counters on its own thread at a fixed rate: the status on
/// <c>telemetry/controller</c>, each finished episode on <c>telemetry/episode</c>, each new safety
/// trip on <c>telemetry/safety</c>. Only reads what the loop writes and hands payloads to the MQTT
/// client's non-blocking queue, so a slow or dead broker never reaches the control thread.
/// </summary>
public sealed class TelemetryPublisher : IDisposable
{
    private readonly ControlLoop _loop;
    private readonly TrajectoryRing? _logRing;
    private readonly TrajectoryLogWriter? _logWriter;
    private readonly ResilientMqttClient _client;
    private readonly string _robotId;
    private readonly string _policy;
    private readonly double _rateHz;
    private readonly TimeSpan _period;
    private readonly string _statusTopic;
    private readonly string _episodeTopic;
    private readonly string _safetyTopic;
    private readonly long _startTimestamp = Stopwatch.GetTimestamp();
    private readonly ManualResetEventSlim _stop = new();
    private readonly Thread _thread;
    private long _episodesSeen;
    private bool _trippedSeen;
    private long _published, _rejected;

    public TelemetryPublisher(
        ControlLoop loop, double controlRateHz, TrajectoryRing? logRing, TrajectoryLogWriter? logWriter,
        ResilientMqttClient client, Topics topics, string policy, double rateHz)
    {
        _loop = loop;
        _logRing = logRing;
        _logWriter = logWriter;
        _client = client;
        _robotId = topics.RobotId;
        _policy = policy;
        _rateHz = controlRateHz;
        _period = TimeSpan.FromSeconds(1 / rateHz);
        _statusTopic = topics.Telemetry("controller");
        _episodeTopic = topics.Telemetry("episode");
        _safetyTopic = topics.Telemetry("safety");
        _thread = new Thread(Run) { IsBackground = true, Name = "robotpg-telemetry", Priority = ThreadPriority.BelowNormal };
    }

    /// <summary>Publications the client accepted into its send queue.</summary>
    public long Published => Interlocked.Read(ref _published);

    /// <summary>Publications the client refused (queue full, payload too large); telemetry is dropped, never waited for.</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    public void Start() => _thread.Start();

    /// <summary>Builds the status from the loop's counters as they stand now.</summary>
    public ControllerStatusTelemetry Snapshot()
    {
        var c = _loop.Counters;
        var s = _loop.Safety;
        return new ControllerStatusTelemetry(
            _robotId,
            Stopwatch.GetElapsedTime(_startTimestamp).TotalSeconds,
            _loop.StepCount,
            c.Episodes,
            c.LastEpisodeReturn,
            c.LastEpisodeLength,
            c.EpisodeReturn,
            c.EpisodeLength,
            _policy,
            new LoopTimingStatus(
                _rateHz,
                _loop.PeriodError.Percentile(0.50),
                _loop.PeriodError.Percentile(0.99),
                _loop.PeriodError.MaxMicroseconds,
                _loop.StepLatency.Percentile(0.50),
                _loop.StepLatency.Percentile(0.99),
                _loop.StepLatency.MaxMicroseconds,
                c.Overruns,
                _loop.LogHolds,
                _loop.LearnerHolds,
                _loop.LearnerHoldTimeouts,
                _loop.SilentWaits),
            new SafetyStatus(
                s.Tripped,
                s.Tripped ? CauseName(s.Cause) : null,
                s.Events(SafetyCause.Tilt),
                s.Events(SafetyCause.StaleSensor),
                s.Events(SafetyCause.NonFinite),
                s.Events(SafetyCause.BusFault),
                s.Events(SafetyCause.EmergencyStop),
                s.Events(SafetyCause.SoftwareFault)),
            new SensorHealth(c.BusFaults, c.SoftwareFaults),
            new LogStatus(_logWriter?.RecordsWritten ?? 0, _logRing?.Dropped ?? 0, _logWriter?.RecordsLost ?? 0, _logWriter?.WriteErrors ?? 0));
    }

    /// <summary>One round of publications (what the thread does every period).</summary>
    public void PublishOnce()
    {
        var status = Snapshot();
        Publish(_statusTopic, JsonSerializer.SerializeToUtf8Bytes(status, ControllerJsonContext.Default.ControllerStatusTelemetry));

        long episodes = status.Episodes;
        if (episodes != _episodesSeen)
        {
            _episodesSeen = episodes;
            var episode = new EpisodeTelemetry(episodes, status.LastEpisodeLength, status.LastEpisodeReturn, status.LastEpisodeLength / _rateHz, "ended");
            Publish(_episodeTopic, JsonSerializer.SerializeToUtf8Bytes(episode, MessagingJsonContext.Default.EpisodeTelemetry));
        }

        if (status.Safety.MotorsOff && !_trippedSeen && status.Safety.Cause is { } cause)
        {
            var safety = new SafetyEventTelemetry(cause, FaultDescription.SafetyEventDetail(_loop.Safety.Cause, _loop.LastFault), 0, status.Steps);
            Publish(_safetyTopic, JsonSerializer.SerializeToUtf8Bytes(safety, MessagingJsonContext.Default.SafetyEventTelemetry));
        }
        _trippedSeen = status.Safety.MotorsOff;
    }

    private void Publish(string topic, byte[] payload)
    {
        if (_client.TryPublish(topic, payload)) Interlocked.Increment(ref _published);
        else Interlocked.Increment(ref _rejected);
    }

    private void Run()
    {
        while (!_stop.Wait(_period))
            PublishOnce();
        PublishOnce(); // the final state (motors off, last episode) after the loop stopped
    }

    public static string CauseName(SafetyCause cause) => cause switch
    {
        SafetyCause.Tilt => "tilt",
        SafetyCause.StaleSensor => "stale-sensor",
        SafetyCause.NonFinite => "non-finite",
        SafetyCause.BusFault => "bus-fault",
        SafetyCause.EmergencyStop => "emergency-stop",
        SafetyCause.SoftwareFault => "software-fault",
        SafetyCause.OperatorHold => "operator-hold",
        SafetyCause.LowBattery => "low-battery",
        _ => "shutdown",
    };

    public void Dispose()
    {
        _stop.Set();
        if (_thread.IsAlive)
            _thread.Join();
        _stop.Dispose();
    }
}
