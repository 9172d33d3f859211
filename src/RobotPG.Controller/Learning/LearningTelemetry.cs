using System.Text.Json;
using System.Text.Json.Serialization;
using RobotPG.Messaging;

namespace RobotPG.Controller.Learning;

/// <summary>One update on <c>telemetry/learning</c>: enough to draw live learning curves.</summary>
public sealed record LearningTelemetryMessage(
    long Update, string Algorithm, bool Accepted, long Steps, long Episodes, double MeanReturn, double MeanEpisodeLength,
    double ApproxKl, double MeanKl, double ClipFraction, double Entropy, double PolicyLoss, double ValueLoss,
    double ExplainedVariance, double UpdateMs);

/// <summary>A rolled-back update on <c>telemetry/rollback</c>, with its cause.</summary>
public sealed record RollbackTelemetryMessage(long Update, long Steps, string Cause, double Value, double Bound);

/// <summary>A finished episode as the learner counted it, on <c>telemetry/learning-episode</c>.</summary>
public sealed record LearningEpisodeTelemetryMessage(long Episode, double Return, int Length);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(LearningTelemetryMessage))]
[JsonSerializable(typeof(RollbackTelemetryMessage))]
[JsonSerializable(typeof(LearningEpisodeTelemetryMessage))]
public sealed partial class LearningTelemetryJsonContext : JsonSerializerContext;

/// <summary>
/// Moves the learner's events from its <see cref="LearningEventQueue"/> to MQTT on a thread of its
/// own (JSON allocation stays off the learner thread), and hands warnings to a text writer.
/// </summary>
public sealed class LearningTelemetryPublisher : IDisposable
{
    private readonly LearningEventQueue _events;
    private readonly ResilientMqttClient? _client;
    private readonly string _algorithm;
    private readonly string _updateTopic, _rollbackTopic, _episodeTopic;
    private readonly TextWriter _warnings;
    private readonly ManualResetEventSlim _stop = new();
    private readonly Thread _thread;

    public LearningTelemetryPublisher(LearningEventQueue events, ResilientMqttClient? client, Topics topics, string algorithm, TextWriter warnings)
    {
        _events = events;
        _client = client;
        _algorithm = algorithm;
        _updateTopic = topics.Telemetry("learning");
        _rollbackTopic = topics.Telemetry("rollback");
        _episodeTopic = topics.Telemetry("learning-episode");
        _warnings = warnings;
        _thread = new Thread(Run) { IsBackground = true, Name = "robotpg-learning-telemetry", Priority = ThreadPriority.BelowNormal };
    }

    public long Published { get; private set; }

    public void Start() => _thread.Start();

    private void Run()
    {
        while (!_stop.Wait(TimeSpan.FromMilliseconds(100)))
            Drain();
        Drain();
    }

    /// <summary>Publishes every queued event now (also the last ones, at shutdown).</summary>
    public void Drain()
    {
        while (_events.TryTakeWarning(out string warning))
            _warnings.WriteLine("robotpg: learning: " + warning);
        while (_events.TryTakeUpdate(out var u))
            Send(_updateTopic, JsonSerializer.SerializeToUtf8Bytes(ToMessage(u, _algorithm), LearningTelemetryJsonContext.Default.LearningTelemetryMessage));
        while (_events.TryTakeRollback(out var r))
            Send(_rollbackTopic, JsonSerializer.SerializeToUtf8Bytes(ToMessage(r), LearningTelemetryJsonContext.Default.RollbackTelemetryMessage));
        while (_events.TryTakeEpisode(out var e))
            Send(_episodeTopic, JsonSerializer.SerializeToUtf8Bytes(new LearningEpisodeTelemetryMessage(e.Episode, e.Return, e.Length),
                LearningTelemetryJsonContext.Default.LearningEpisodeTelemetryMessage));
    }

    public static LearningTelemetryMessage ToMessage(in LearnerUpdate u, string algorithm) => new(
        u.Update, algorithm, u.Accepted, u.Steps, u.Episodes, u.MeanReturn, u.MeanEpisodeLength, u.ApproxKl, u.MeanKl, u.ClipFraction,
        u.Entropy, u.PolicyLoss, u.ValueLoss, u.ExplainedVariance, u.DurationMs);

    public static RollbackTelemetryMessage ToMessage(in LearnerRollback r) => new(r.Update, r.Steps, CauseName(r.Cause), r.Value, r.Bound);

    public static string CauseName(RollbackCause cause) => cause switch
    {
        RollbackCause.NonFinite => "non-finite",
        RollbackCause.KlBound => "kl-bound",
        RollbackCause.Exception => "exception",
        _ => "return-drop",
    };

    private void Send(string topic, byte[] payload)
    {
        if (_client is null) return;
        _client.TryPublish(topic, payload);
        Published++;
    }

    public void Dispose()
    {
        _stop.Set();
        if (_thread.IsAlive) _thread.Join(TimeSpan.FromSeconds(5));
        _stop.Dispose();
    }
}
