using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using RobotPG.Messaging;
using MQTTnet.Protocol;

namespace RobotPG.Sim.Fleet;

/// <summary>
/// A fleet learner's progress, JSON on <c>robotpg/{learnerId}/telemetry/fleet-learner</c> (QoS 0) after every
/// update and at least once a second. Batches: received from the broker = consumed + stale (older than the
/// staleness bound, dropped) + malformed (dropped) + queued. Update durations are null before the first update.
/// </summary>
public sealed record FleetLearnerProgress(
    string Learner,
    string Fleet,
    ulong PolicyVersion,
    long BatchesReceived,
    long BatchesConsumed,
    long BatchesStale,
    long BatchesMalformed,
    long BatchesQueued,
    long Transitions,
    long StaleTransitions,
    long Updates,
    long RejectedUpdates,
    long AdoptedPeerPolicies,
    long PoliciesPublished,
    double? LastUpdateMs,
    double? MeanUpdateMs,
    double? MaxUpdateMs);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(FleetLearnerProgress))]
public sealed partial class FleetLearnerJsonContext : JsonSerializerContext;

/// <summary>
/// A fleet learner process on the broker: consumes <c>$share/{group}/robotpg/+/rollout</c> (MQTT 5 / mosquitto
/// shared subscription, QoS 1: the broker hands each batch to one learner of the group, so learners share the
/// load and a surviving learner takes all of it when another goes), feeds the <see cref="FleetLearnerCore"/>
/// on its own thread, and publishes every accepted policy signed and retained on <c>robotpg/fleet/{fleet}/policy</c>.
/// It also listens there: a peer's verified broadcast with a higher version becomes its own policy.
/// Its progress goes out as <see cref="FleetLearnerProgress"/> telemetry under its learner id.
/// </summary>
public sealed class FleetLearner : IAsyncDisposable
{
    private readonly FleetLearnerCore _core;
    private readonly IFleetPolicyVerifier _peerVerifier;
    private readonly ResilientMqttClient _client;
    private static readonly TimeSpan ProgressEvery = TimeSpan.FromSeconds(1);

    private readonly string _policyTopic, _rolloutFilter, _progressTopic, _fleet;
    private readonly BlockingCollection<byte[]> _batches = new(new ConcurrentQueue<byte[]>());
    private readonly FleetPolicyMessage _peer;
    private readonly TextWriter? _log;
    private readonly CancellationTokenSource _stop = new();
    private byte[]? _peerPayload;
    private Thread? _thread;
    private long _received, _published, _abandoned;

    /// <param name="learnerId">Names the learner in its telemetry topic (one topic level); default: the MQTT client id.</param>
    public FleetLearner(FleetLearnerCore core, IFleetPolicyVerifier peerVerifier, MqttEndpoint endpoint, string fleet, string group = Topics.LearnerGroup,
        TextWriter? log = null, string? learnerId = null)
    {
        _core = core;
        _peerVerifier = peerVerifier;
        _policyTopic = Topics.FleetPolicy(fleet);
        _fleet = fleet;
        LearnerId = learnerId ?? endpoint.ClientId;
        _progressTopic = new Topics(LearnerId).Telemetry(TelemetryKinds.FleetLearner);
        _rolloutFilter = Topics.SharedRolloutFilter(group);
        _log = log;
        var policy = core.Agent.Policy;
        _peer = new FleetPolicyMessage(policy.ObservationSize, policy.ActionSize, policy.HiddenSizes, policy.ParameterCount);
        _client = new ResilientMqttClient(endpoint, new ResilientMqttClientOptions
        {
            QueueCapacity = 4,
            MaxPayloadLength = core.SignedPolicy().Length + 4096,
        });
    }

    public FleetLearnerCore Core => _core;

    /// <summary>The id under which the learner publishes its telemetry.</summary>
    public string LearnerId { get; }

    /// <summary><c>robotpg/{learnerId}/telemetry/fleet-learner</c>.</summary>
    public string ProgressTopic => _progressTopic;

    /// <summary>Rollout batches delivered by the broker.</summary>
    public long Received => Interlocked.Read(ref _received);

    /// <summary>Policies handed to the broker (retained).</summary>
    public long PoliciesPublished => Interlocked.Read(ref _published);

    /// <summary>Batches still queued when the learner was killed (delivered to it, never learned from).</summary>
    public long Abandoned => Interlocked.Read(ref _abandoned);

    public bool IsConnected => _client.IsConnected;

    /// <summary>Connects, subscribes, broadcasts the starting policy (unless a peer's newer one is retained) and starts consuming.</summary>
    public async Task StartAsync(TimeSpan connectTimeout)
    {
        await _client.SubscribeAsync(_policyTopic, (_, in payload) => Volatile.Write(ref _peerPayload, System.Buffers.BuffersExtensions.ToArray(payload)),
            MqttQualityOfServiceLevel.AtLeastOnce).ConfigureAwait(false);
        await _client.SubscribeAsync(_rolloutFilter, (_, in payload) =>
        {
            Interlocked.Increment(ref _received);
            _batches.Add(System.Buffers.BuffersExtensions.ToArray(payload));
        }, MqttQualityOfServiceLevel.AtLeastOnce).ConfigureAwait(false);
        _client.Start();
        if (!await _client.WaitConnectedAsync(connectTimeout).ConfigureAwait(false))
            throw new IOException($"cannot reach the broker at {_client.Endpoint.Host}:{_client.Endpoint.Port}: {_client.LastError ?? "no answer"}");
        // A retained broadcast (a peer's, or this learner's before a restart) arrives right after subscribing.
        await Task.Delay(200).ConfigureAwait(false);
        TakePeer();
        PublishPolicy(_core.SignedPolicy());
        _thread = new Thread(Run) { IsBackground = true, Name = "robotpg-fleet-learner", Priority = ThreadPriority.BelowNormal };
        _thread.Start();
    }

    /// <summary>The learner's counters now (any thread; each counter is read atomically, the set is not a snapshot).</summary>
    public FleetLearnerProgress Progress()
    {
        long updates = _core.Updates;
        return new FleetLearnerProgress(LearnerId, _fleet, _core.Version, Received, _core.BatchesConsumed, _core.BatchesStale, _core.BatchesMalformed,
            _batches.Count, _core.Transitions, _core.StaleTransitions, updates, _core.RejectedUpdates, _core.AdoptedPeerPolicies, PoliciesPublished,
            updates == 0 ? null : _core.LastUpdateMs, updates == 0 ? null : _core.MeanUpdateMs, updates == 0 ? null : _core.MaxUpdateMs);
    }

    private void PublishProgress() =>
        _client.TryPublish(_progressTopic, JsonSerializer.SerializeToUtf8Bytes(Progress(), FleetLearnerJsonContext.Default.FleetLearnerProgress));

    private void Run()
    {
        var sincePublished = Stopwatch.StartNew();
        try
        {
            while (!_batches.IsCompleted)
            {
                // Waits at most a second, so an idle learner still reports (a dashboard tells idle from gone).
                if (_batches.TryTake(out var batch, (int)ProgressEvery.TotalMilliseconds, _stop.Token))
                {
                    TakePeer();
                    long updates = _core.Updates;
                    byte[]? policy = _core.Consume(batch);
                    if (policy is not null)
                    {
                        PublishPolicy(policy);
                        _log?.WriteLine($"learner {_client.Endpoint.ClientId}: version {_core.Version} ({_core.Transitions} transitions, update {_core.LastUpdateMs:F0} ms, stale batches {_core.BatchesStale})");
                    }
                    if (_core.Updates == updates && sincePublished.Elapsed < ProgressEvery) continue;
                }
                PublishProgress();
                sincePublished.Restart();
            }
            PublishProgress();
        }
        catch (OperationCanceledException)
        {
            // Stopped or killed.
        }
    }

    private void PublishPolicy(byte[] signed)
    {
        if (_client.TryPublish(_policyTopic, signed, MqttQualityOfServiceLevel.AtLeastOnce, retain: true))
            Interlocked.Increment(ref _published);
    }

    private void TakePeer()
    {
        var payload = Interlocked.Exchange(ref _peerPayload, null);
        if (payload is null) return;
        if (!_peerVerifier.TryVerify(payload, out var body, out string? reason))
        {
            _log?.WriteLine($"learner {_client.Endpoint.ClientId}: ignored a policy broadcast: {reason}");
            return;
        }
        if (_peer.TryDecode(body.Span, out _) == FrameStatus.Ok) _core.Adopt(_peer);
    }

    /// <summary>Stops at once, as a crash would: the queued batches are abandoned (counted) and no checkpoint is written.</summary>
    public async Task KillAsync()
    {
        _stop.Cancel();
        _thread?.Join(TimeSpan.FromSeconds(30));
        Interlocked.Add(ref _abandoned, _batches.Count);
        await _client.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Finishes the queued batches, writes a checkpoint, disconnects.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            _batches.CompleteAdding();
            _thread?.Join(TimeSpan.FromSeconds(60));
            _stop.Cancel();
            try
            {
                _core.SaveCheckpoint();
            }
            catch (RobotPG.Learning.Checkpoints.CheckpointException e)
            {
                _log?.WriteLine($"learner {_client.Endpoint.ClientId}: checkpoint not written: {e.Message}");
            }
            await _client.DisposeAsync().ConfigureAwait(false);
        }
        _batches.Dispose();
        _stop.Dispose();
    }
}
